"""State a conversation needs across restarts, whatever the channel.

- drafts: an admin's half-finished dialog (the /broadcast steps);
- choices: which button payload each numbered choice or poll option stands for (a numbered menu on
  WeCom, a native quiz poll on Telegram), so a typed number or a vote still works after a restart;
- callbacks seen: a channel's retried delivery of the same message is answered once.
"""

from __future__ import annotations

import json
from typing import Any

from bot.storage.db import Database

CALLBACK_MEMORY = 86400  # seconds a callback key is remembered


class ConversationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def draft(self, resident_id: int) -> dict[str, Any] | None:
        row = await self._db.fetchone("SELECT data FROM admin_drafts WHERE resident_id = ?", (resident_id,))
        return json.loads(row[0]) if row else None

    async def save_draft(self, resident_id: int, data: dict[str, Any] | None) -> None:
        """Keep (or, with None, drop) an admin's dialog state."""
        async with self._db.atomic() as tx:
            if data is None:
                await tx.execute("DELETE FROM admin_drafts WHERE resident_id = ?", (resident_id,))
            else:
                await tx.execute(
                    "INSERT INTO admin_drafts (resident_id, data, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (resident_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                    (resident_id, json.dumps(data, ensure_ascii=False), self._db.now()),
                )

    async def save_choices(self, key: str, payloads: list[str]) -> None:
        async with self._db.atomic() as tx:
            await tx.execute(
                "INSERT INTO poll_payloads (poll_id, payloads, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (poll_id) DO UPDATE SET payloads = excluded.payloads, created_at = excluded.created_at",
                (key, json.dumps(payloads), self._db.now()),
            )

    async def choices(self, key: str) -> list[str] | None:
        row = await self._db.fetchone("SELECT payloads FROM poll_payloads WHERE poll_id = ?", (key,))
        return json.loads(row[0]) if row else None

    async def first_callback(self, key: str) -> bool:
        """True the first time a callback key is seen (a retried callback returns False)."""
        now = self._db.now()
        async with self._db.atomic() as tx:
            written = await tx.execute(
                "INSERT INTO callback_seen (key, at) VALUES (?, ?) ON CONFLICT DO NOTHING", (key[:200], now)
            )
            if written.rowcount == 1 and now % 100 == 0:  # now and then, forget old keys
                await tx.execute("DELETE FROM callback_seen WHERE at < ?", (now - CALLBACK_MEMORY,))
        return written.rowcount == 1
