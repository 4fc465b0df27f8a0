"""The bot processes serving this database, each seen every few seconds: what is shared among them (the channel's
send budget) is divided by how many are alive, and a content reload in one is counted so that the others follow."""

from __future__ import annotations

from bot.storage.db import Database


class ProcessRegistry:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def heartbeat(self, owner: str, alive_within: int) -> int:
        """Say this process is alive; returns how many processes were seen within `alive_within` seconds
        (this one included) and forgets those silent for ten times as long."""
        now = self._db.now()
        async with self._db.atomic() as tx:
            await tx.execute(
                "INSERT INTO bot_processes (owner, started_at, seen_at) VALUES (?, ?, ?)"
                " ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at",
                (owner, now, now),
            )
            await tx.execute("DELETE FROM bot_processes WHERE seen_at < ?", (now - 10 * alive_within,))
            row = await tx.fetchone("SELECT COUNT(*) FROM bot_processes WHERE seen_at >= ?", (now - alive_within,))
        return max(1, int(row[0]) if row else 1)

    async def leave(self, owner: str) -> None:
        """A process stopping cleanly gives its share back at once."""
        async with self._db.atomic() as tx:
            await tx.execute("DELETE FROM bot_processes WHERE owner = ?", (owner,))

    async def content_generation(self) -> int:
        """How many content reloads the processes have counted (0 before the first)."""
        value = await self._db.fetchvalue("SELECT generation FROM content_reloads WHERE id = 1")
        return int(value or 0)

    async def content_reloaded(self, owner: str) -> int:
        """This process reloaded the content: one more generation, which it returns."""
        async with self._db.atomic() as tx:
            row = await tx.fetchone(
                "INSERT INTO content_reloads (id, generation, reloaded_by, reloaded_at) VALUES (1, 1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET generation = content_reloads.generation + 1,"
                " reloaded_by = excluded.reloaded_by, reloaded_at = excluded.reloaded_at RETURNING generation",
                (owner, self._db.now()),
            )
        return int(row[0]) if row else 0
