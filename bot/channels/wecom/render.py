"""Pure translation of the core's replies into WeCom message bodies (no I/O)."""

from __future__ import annotations

import uuid
from typing import Any

from bot.core.events import Button, Keyboard

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
