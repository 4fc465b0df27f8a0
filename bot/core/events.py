"""The neutral language between channels and the core.

Adapters turn a Telegram update, a WeCom callback or a console line into an
`Incoming` and render the core's `Reply` objects. Nothing here knows a channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.storage import ReachEvent

MAX_TEXT = 4000  # longer input is cut before the core looks at it


@dataclass(frozen=True)
class Incoming:
    channel: str
    user_id: str
    display_name: str = ""
    language: str | None = None  # the client's language code, e.g. "zh-hans", "en"
    text: str | None = None  # free text (not a command)
    command: str | None = None  # "start" for "/start"
    args: str = ""
    button: str | None = None  # a button payload
    private_chat: bool = True

    @classmethod
    def from_text(cls, channel: str, user_id: str, text: str, **details: object) -> Incoming:
        """A typed line: "/start@PufaBot abc" becomes command "start", args "abc"."""
        text = (text or "")[:MAX_TEXT].strip()
        if text.startswith("/") and len(text) > 1:
            head, _, args = text[1:].partition(" ")
            command = head.split("@", 1)[0].lower()
            return cls(channel, user_id, command=command, args=args.strip(), **details)  # type: ignore[arg-type]
        return cls(channel, user_id, text=text, **details)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Delivery:
    """A reach event to record once the reply carrying it has been delivered."""

    kind: str
    topic_id: str | None = None
    item_id: str | None = None
    campaign_id: str | None = None
    broadcast_id: int | None = None
    correct: bool | None = None

    def event(
        self, resident_id: int, channel: str, place_id: str | None, *, ts: int | None = None, **overrides: Any
    ) -> ReachEvent:
        """The reach event of this delivery to one resident (`ts`: when a receipt must name it by time)."""
        fields: dict[str, Any] = {
            "topic_id": self.topic_id,
            "item_id": self.item_id,
            "campaign_id": self.campaign_id,
            "broadcast_id": self.broadcast_id,
            "correct": self.correct,
            **overrides,
        }
        return ReachEvent(resident_id=resident_id, channel=channel, kind=self.kind, place_id=place_id, ts=ts, **fields)


@dataclass(frozen=True)
class Text:
    body: str
    title: str | None = None  # shown emphasised (bold on Telegram)
    buttons: Keyboard = ()
    replace: bool = False  # navigation: the adapter may edit the message the button was on
    delivery: Delivery | None = None


@dataclass(frozen=True)
class Image:
    path: Path
    caption: str = ""
    title: str | None = None  # shown emphasised above the caption
    buttons: Keyboard = ()
    delivery: Delivery | None = None


@dataclass(frozen=True)
class Document:
    filename: str
    data: bytes = field(repr=False)
    caption: str = ""
    delivery: Delivery | None = None


@dataclass(frozen=True)
class Question:
    """A quiz question. Channels show `options` as buttons (payload per option) or as a native quiz."""

    text: str
    options: tuple[str, ...]  # in the order shown
    payloads: tuple[str, ...]  # one per option
    correct: int  # index into `options` (for native quiz polls)
    explanation: str
    title: str | None = None
    extra_buttons: Keyboard = ()
    delivery: Delivery | None = None

    LABEL_MAX = 24  # longer options are cut on the button and written out in full in `body`

    @property
    def buttons(self) -> Keyboard:
        rows = tuple(
            (Button(f"{'ABCD'[i]}. {_cut(option, self.LABEL_MAX)}", payload),)
            for i, (option, payload) in enumerate(zip(self.options, self.payloads, strict=True))
        )
        return rows + self.extra_buttons

    @property
    def body(self) -> str:
        """The question as text; options are listed when a button cannot show them whole."""
        if all(len(option) <= self.LABEL_MAX for option in self.options):
            return self.text
        listed = "\n".join(f"{'ABCD'[i]}. {option}" for i, option in enumerate(self.options))
        return f"{self.text}\n\n{listed}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Toast:
    """A short acknowledgement of a button press (Telegram shows it as a callback answer)."""

    text: str
    delivery: Delivery | None = None


Reply = Text | Image | Document | Question | Toast
