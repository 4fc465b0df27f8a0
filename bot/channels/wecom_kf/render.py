"""A turn's replies as few 微信客服 messages as possible: the customer allows five per 48 hours.

Texts of one turn are joined into one message; the turn's buttons become one msgmenu whose `click` ids are the
core's payloads (more than ten: a numbered text menu the resident answers by number). A text with buttons is one
msgmenu when it fits msgmenu's 1,024-byte head, otherwise a text followed by a short msgmenu. Images and files
are a message each. Each message says which replies it carries, so a reply counts as delivered only when all of
its messages went out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.channels.wecom.render import Upload, flat, numbered_menu, text_parts
from bot.core.events import Button, Document, Image, Question, Reply, Text, Toast

MAX_HEAD_BYTES = 1024
MAX_MENU_ITEMS = 10
MAX_ITEM_BYTES = 128
MAX_ID_BYTES = 64


@dataclass
class Message:
    body: dict[str, Any]
    replies: set[int] = field(default_factory=set)  # indexes of the replies this message (partly) carries


@dataclass
class Turn:
    messages: list[Message]
    choices: list[str] | None = None  # a numbered menu: remember per resident


def cut(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "…"


def _titled(title: str | None, body: str) -> str:
    return f"【{title}】\n{body}" if title else body


async def render_turn(replies: list[Reply], upload: Upload, prompt: str = "请选择：") -> Turn:
    messages: list[Message] = []
    texts: list[tuple[int, str]] = []
    buttons: list[tuple[int, Button]] = []
    choices: list[str] | None = None

    def flush() -> None:
        nonlocal choices
        if not texts and not buttons:
            return
        body = "\n\n".join(text for _, text in texts)
        carried = {i for i, _ in texts} | {i for i, _ in buttons}
        menu = [b for _, b in buttons if len(b.payload.encode()) <= MAX_ID_BYTES]
        if len(menu) > MAX_MENU_ITEMS or len(menu) < len(buttons):
            choices = [b.payload for _, b in buttons]
            body = f"{body}\n\n{numbered_menu([b for _, b in buttons])}".strip()
            menu = []
        if menu and len(body.encode()) <= MAX_HEAD_BYTES:
            messages.append(Message(_menu(body, menu), carried))
        else:
            for part in text_parts(body):
                if part.strip():
                    messages.append(Message({"msgtype": "text", "text": {"content": part}}, set(carried)))
            if menu:
                messages.append(Message(_menu(prompt, menu), carried))
        texts.clear()
        buttons.clear()

    for index, reply in enumerate(replies):
        if isinstance(reply, Toast):
            texts.append((index, reply.text))
        elif isinstance(reply, Question | Text):
            if reply.body or reply.title:
                texts.append((index, _titled(reply.title, reply.body)))
            buttons.extend((index, b) for b in flat(reply.buttons))
        elif isinstance(reply, Image):
            flush()
            media_id = await upload("image", reply.path.name, reply.path.read_bytes())
            messages.append(Message({"msgtype": "image", "image": {"media_id": media_id}}, {index}))
            if reply.caption or reply.title:
                texts.append((index, _titled(reply.title, reply.caption)))
            buttons.extend((index, b) for b in flat(reply.buttons))
        elif isinstance(reply, Document):
            flush()
            media_id = await upload("file", reply.filename, reply.data)
            messages.append(Message({"msgtype": "file", "file": {"media_id": media_id}}, {index}))
            if reply.caption:
                texts.append((index, reply.caption))
        else:
            raise TypeError(f"unknown reply {type(reply).__name__}")
    flush()
    return Turn(messages, choices)


def _menu(head: str, buttons: list[Button]) -> dict[str, Any]:
    return {
        "msgtype": "msgmenu",
        "msgmenu": {
            "head_content": cut(head, MAX_HEAD_BYTES),
            "list": [
                {"type": "click", "click": {"id": b.payload, "content": cut(b.label, MAX_ITEM_BYTES)}} for b in buttons
            ],
        },
    }


def text_message(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": content}}
