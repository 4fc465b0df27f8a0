"""Translation of the core's replies into WeCom message bodies: one renderer for replies and broadcasts.

The only I/O is uploading media (an image, the export file), done through the `Upload` the caller
passes, so a broadcast uploads each file once and every recipient gets the same media id.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.core.events import Button, Document, Image, Keyboard, Question, Reply, Text, Toast

Upload = Callable[[str, str, bytes], Awaitable[str]]  # (media type, file name, bytes) -> media_id


@dataclass
class Rendered:
    """The WeCom messages for one reply, in order, and the payloads of a numbered menu if it has one."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    choices: list[str] | None = None  # remember per recipient: a typed number presses that button


async def render(reply: Reply, upload: Upload) -> Rendered:
    if isinstance(reply, Toast):
        return Rendered([text_message(reply.text)])
    if isinstance(reply, Question):
        return with_buttons(reply.title, reply.body, flat(reply.buttons))
    if isinstance(reply, Text):
        return with_buttons(reply.title, reply.body, flat(reply.buttons))
    if isinstance(reply, Image):
        media_id = await upload("image", reply.path.name, reply.path.read_bytes())
        rendered = Rendered([{"msgtype": "image", "image": {"media_id": media_id}}])
        if reply.caption or reply.title or reply.buttons:
            shown = with_buttons(reply.title, reply.caption, flat(reply.buttons))
            rendered.messages += shown.messages
            rendered.choices = shown.choices
        return rendered
    if isinstance(reply, Document):
        media_id = await upload("file", reply.filename, reply.data)
        rendered = Rendered([{"msgtype": "file", "file": {"media_id": media_id}}])
        if reply.caption:
            rendered.messages.append(text_message(reply.caption))
        return rendered
    raise TypeError(f"unknown reply {type(reply).__name__}")


def with_buttons(title: str | None, body: str, buttons: list[Button]) -> Rendered:
    """Text (split to WeCom's limit) and its buttons: a card, or a numbered menu when a card cannot hold them."""
    numbered = len(buttons) > MAX_CARD_BUTTONS
    if numbered:  # the choices go under the text, answered by number
        body = f"{body}\n\n{numbered_menu(buttons)}"
    # WeCom refuses an empty text (44004): a reply with only buttons sends just the card.
    messages = [text_message(part) for part in text_parts(body, title) if part.strip()]
    if buttons and not numbered:
        card, _ = button_card(title or "请选择", "", buttons)
        messages.append(card)
    return Rendered(messages, [b.payload for b in buttons] if numbered else None)


MAX_TEXT_BYTES = 2048
MAX_CARD_BUTTONS = 6  # a button_interaction card holds at most six buttons


def flat(buttons: Keyboard) -> list[Button]:
    return [button for row in buttons for button in row]


def text_parts(body: str, title: str | None = None) -> list[str]:
    """Plain text within WeCom's 2048-byte limit, split at line ends."""
    text = f"【{title}】\n{body}" if title else body
    parts, current = [], ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) <= MAX_TEXT_BYTES:
            current = candidate
            continue
        if current:
            parts.append(current)
        while len(line.encode()) > MAX_TEXT_BYTES:  # a single overlong line: cut by characters
            cut = len(line)
            while len(line[:cut].encode()) > MAX_TEXT_BYTES:
                cut -= 1
            parts.append(line[:cut])
            line = line[cut:]
        current = line
    if current or not parts:
        parts.append(current)
    return parts


def text_message(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": content}}


def numbered_menu(buttons: list[Button]) -> str:
    """Where a card cannot hold the buttons: a menu the resident answers by number."""
    return "\n".join(f"{number}. {button.label}" for number, button in enumerate(buttons, 1))


def button_card(title: str, description: str, buttons: list[Button]) -> tuple[dict[str, Any], str]:
    """A button_interaction template card; each button's key is the core's payload. Returns (body, task_id)."""
    task_id = f"pufa-{uuid.uuid4().hex}"
    card = {
        "card_type": "button_interaction",
        "main_title": {"title": title[:36] or "普法小助手", "desc": description[:44]},
        "task_id": task_id,
        "button_list": [{"text": b.label[:10], "style": 1, "key": b.payload} for b in buttons],
    }
    return {"msgtype": "template_card", "template_card": card}, task_id
