"""Button payloads: encoded and decoded here and nowhere else.

A payload is `action` or `action:arg[:arg]`, at most 64 bytes (Telegram's
callback_data limit). Arguments are content ids or small integers, so they never
contain ':' . `decode` returns None for anything malformed, unknown or oversized;
the core answers such a press with the "this item was updated" message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_BYTES = 64
_ARG = re.compile(r"^[a-z0-9-]{1,40}$")


class Action(StrEnum):
    MENU = "m"
    TOPICS = "ts"
    TOPIC = "t"  # topic_id: first tip of the topic
    TIP = "tp"  # tip_id
    DAILY = "d"
    SETTINGS = "st"
    PLACES = "pp"  # page (of the townships first, when the content has more than one)
    TOWNSHIP = "tw"  # township_id, page: its villages and schools
    SET_PLACE = "ps"  # place_id
    SKIP_PLACE = "px"
    LANGUAGES = "lg"
    SET_LANGUAGE = "ls"  # "zh" | "en"
    SUBSCRIPTIONS = "sb"
    UNSUBSCRIBE_ALL = "ua"
    SUBSCRIBE_ALL = "sa"
    TOGGLE_TOPIC = "tt"  # topic_id
    HELP = "h"
    ADMIN_RELOAD = "ar"
    QUIZ_MENU = "q"
    QUIZ_TOPIC = "qt"  # topic_id: start a topic quiz
    QUIZ_ANSWER = "qa"  # session id, position, shown option index
    QUIZ_RESUME = "qr"
    DAILY_QUIZ = "qd"
    REVIEW = "qw"
    RANK = "rk"
    CERTIFICATE = "ct"
    REQUEST_CALLBACK = "rq"  # offer id: 「请司法所联系我」
    REQUEST_NO_PHONE = "rn"  # request id: send it without a phone number
    # admin: the /broadcast dialog
    BROADCAST_TOPIC = "bt"  # topic_id: list its tips
    BROADCAST_ITEM = "bi"  # tip_id: broadcast this tip
    BROADCAST_ALL = "ba"  # audience: everyone (clears filters)
    BROADCAST_PLACE = "bp"  # place_id: toggle
    BROADCAST_TOPIC_FILTER = "bo"  # topic_id: toggle
    BROADCAST_PREVIEW = "bn"
    BROADCAST_NOW = "bs"
    BROADCAST_LATER = "bl"
    BROADCAST_CANCEL = "bx"
    BROADCAST_PROGRESS = "bg"  # broadcast id
    # admin: legal-service requests
    REQUEST_DONE = "rd"  # request id


ARITY: dict[Action, int] = {
    Action.TOPIC: 1,
    Action.TIP: 1,
    Action.PLACES: 1,
    Action.TOWNSHIP: 2,
    Action.SET_PLACE: 1,
    Action.SET_LANGUAGE: 1,
    Action.TOGGLE_TOPIC: 1,
    Action.QUIZ_TOPIC: 1,
    Action.QUIZ_ANSWER: 3,
    Action.BROADCAST_TOPIC: 1,
    Action.BROADCAST_ITEM: 1,
    Action.BROADCAST_PLACE: 1,
    Action.BROADCAST_TOPIC_FILTER: 1,
    Action.BROADCAST_PROGRESS: 1,
    Action.REQUEST_CALLBACK: 1,
    Action.REQUEST_NO_PHONE: 1,
    Action.REQUEST_DONE: 1,
}

ADMIN_ACTIONS = frozenset(
    {
        Action.ADMIN_RELOAD,
        Action.BROADCAST_TOPIC,
        Action.BROADCAST_ITEM,
        Action.BROADCAST_ALL,
        Action.BROADCAST_PLACE,
        Action.BROADCAST_TOPIC_FILTER,
        Action.BROADCAST_PREVIEW,
        Action.BROADCAST_NOW,
        Action.BROADCAST_LATER,
        Action.BROADCAST_CANCEL,
        Action.BROADCAST_PROGRESS,
        Action.REQUEST_DONE,
    }
)


@dataclass(frozen=True)
class Payload:
    action: Action
    args: tuple[str, ...] = ()

    @property
    def arg(self) -> str:
        return self.args[0]


def encode(action: Action, *args: str | int) -> str:
    parts = [str(a) for a in args]
    if len(parts) != ARITY.get(action, 0) or not all(_ARG.match(p) for p in parts):
        raise ValueError(f"bad payload arguments for {action.name}: {parts}")
    data = ":".join([action.value, *parts])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"payload too long: {data!r}")
    return data


def decode(data: str | None) -> Payload | None:
    if not data or len(data.encode("utf-8", "replace")) > MAX_BYTES:
        return None
    head, *args = data.split(":")
    try:
        action = Action(head)
    except ValueError:
        return None
    if len(args) != ARITY.get(action, 0) or not all(_ARG.match(a) for a in args):
        return None
    return Payload(action, tuple(args))
