"""What the core knows while answering one event, and how a route is declared."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.content.model import Catalog
from bot.core import screens
from bot.core.events import Incoming, Reply, Text
from bot.core.payloads import Payload
from bot.i18n import Translator
from bot.storage import Resident


@dataclass
class Turn:
    event: Incoming
    resident: Resident
    created: bool
    t: Translator
    catalog: Catalog
    today: dt.date
    payload: Payload | None = None  # the decoded button, when a button was pressed


Handler = Callable[[Turn], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Route:
    """Where a command or a button goes, and who may use it where."""

    handler: Handler
    private_only: bool = False  # quizzes and settings belong in a private chat, not a group
    admin_only: bool = False  # to anybody else it looks exactly like an unknown command or a stale button


def stale(turn: Turn) -> list[Reply]:
    """The answer to an outdated or forged button: what it pointed to is gone."""
    return [Text(turn.t("fallback.stale"), buttons=screens.main_menu(turn.t).buttons)]


def private_only(turn: Turn) -> list[Reply]:
    return [Text(turn.t("fallback.private_only"))]
