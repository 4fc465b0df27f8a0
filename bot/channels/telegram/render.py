"""Pure translation of the core's replies into Telegram message parts (no I/O here)."""

from __future__ import annotations

import html
from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.events import Keyboard

MAX_TEXT = 4096  # Telegram's limit for a message, in characters after entity parsing
MAX_CAPTION = 1024


def keyboard(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.payload) for b in row] for row in buttons]
    )


def html_message(body: str, title: str | None = None) -> str:
    """Content is escaped, so a stray '<' or '&' in YAML can never break the parse mode."""
    escaped = html.escape(body, quote=False)
    return f"<b>{html.escape(title, quote=False)}</b>\n{escaped}" if title else escaped


def split_text(text: str, limit: int = MAX_TEXT, measure: Callable[[str], int] = len) -> list[str]:
    """Split text into pieces with `measure(piece) <= limit`, at the gentlest boundary.

    Paragraphs first, then lines, then sentence ends (。！？.!?), then a hard cut. It works on
    unescaped text so an HTML entity is never cut in half; `measure` can count the escaped size.
    """
    pieces: list[str] = []
    rest = text
    while measure(rest) > limit:
        size = limit
        while size > 1 and (measured := measure(rest[:size])) > limit:
            size = max(1, min(size - 1, size * limit // measured))
        window = rest[:size]
        cut = size
        for separator in ("\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", " "):
            position = window.rfind(separator)
            if position > size // 3:
                cut = position + len(separator)
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _escaped_length(text: str) -> int:
    return len(html.escape(text, quote=False))


def message_parts(body: str, title: str | None = None) -> list[str]:
    """HTML message texts, each within Telegram's limit.

    Telegram counts characters after parsing entities; keeping the escaped source within the
    limit as well is stricter and costs nothing for normal tips.
    """
    title_room = len(html_message("", title)) + 1 if title else 0
    pieces = split_text(body, MAX_TEXT - title_room, _escaped_length)
    return [html_message(piece, title if index == 0 else None) for index, piece in enumerate(pieces)]
