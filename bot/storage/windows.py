"""Conversation windows and pull cursors, for channels that may write only for a while after the resident did.

微信客服: a customer's message opens a 48-hour window in which the bot may send five messages; each new message
from them opens it afresh. The budget is kept here so that it survives a restart and holds across processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Database


@dataclass(frozen=True)
class Window:
    opened_at: int | None  # when the resident last wrote (None: never)
    sent: int  # messages sent since

    def remaining(self, now: int, limit: int, hours: int) -> int:
        if self.opened_at is None or now - self.opened_at >= hours * 3600:
            return 0
        return max(0, limit - self.sent)


class WindowStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def opened(self, channel: str, external_id: str, at: int) -> None:
        """The resident wrote at `at`: a fresh window (a message older than the one on record changes nothing;
        one in the same second does: each message renews the five)."""
        async with self._db.atomic() as tx:
            await tx.execute(
                "INSERT INTO conversation_windows (channel, external_id, opened_at, sent) VALUES (?, ?, ?, 0)"
                " ON CONFLICT (channel, external_id) DO UPDATE SET opened_at = excluded.opened_at, sent = 0"
                " WHERE excluded.opened_at >= conversation_windows.opened_at",
                (channel, external_id, at),
            )

    async def get(self, channel: str, external_id: str) -> Window:
        row = await self._db.fetchone(
            "SELECT opened_at, sent FROM conversation_windows WHERE channel = ? AND external_id = ?",
            (channel, external_id),
        )
        return Window(None, 0) if row is None else Window(int(row[0]), int(row[1]))

    async def take(self, channel: str, external_id: str, count: int, now: int, limit: int, hours: int) -> int:
        """Reserve up to `count` messages of the window; returns how many may be sent (0 outside the window)."""
        async with self._db.atomic() as tx:
            row = await tx.fetchone(
                "SELECT opened_at, sent FROM conversation_windows WHERE channel = ? AND external_id = ?",
                (channel, external_id),
            )
            window = Window(None, 0) if row is None else Window(int(row[0]), int(row[1]))
            granted = min(count, window.remaining(now, limit, hours))
            if granted:
                await tx.execute(
                    "UPDATE conversation_windows SET sent = sent + ? WHERE channel = ? AND external_id = ?",
                    (granted, channel, external_id),
                )
        return granted

    async def give_back(self, channel: str, external_id: str, count: int) -> None:
        """Messages reserved but not sent (the API refused them) return to the budget."""
        async with self._db.atomic() as tx:
            await tx.execute(
                "UPDATE conversation_windows SET sent = MAX(0, sent - ?) WHERE channel = ? AND external_id = ?",
                (count, channel, external_id),
            )

    async def cursor(self, key: str) -> str | None:
        value = await self._db.fetchvalue("SELECT cursor FROM channel_cursors WHERE key = ?", (key,))
        return None if value is None else str(value)

    async def save_cursor(self, key: str, cursor: str) -> None:
        async with self._db.atomic() as tx:
            await tx.execute(
                "INSERT INTO channel_cursors (key, cursor, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                (key, cursor, self._db.now()),
            )
