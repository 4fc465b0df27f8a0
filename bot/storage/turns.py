"""Several bot processes, one resident's updates in order: tickets taken on arrival, answered in arrival order.

Behind one load balancer a resident's quick "next, next" may reach two processes. Each update takes a ticket
when it arrives (before its webhook is acknowledged, so the channel's own order of delivery is the tickets'
order); a process answers an update only when no earlier ticket of the same resident is still open, and marks
it done after. A channel that delivers an update twice (Telegram retries an unacknowledged webhook) finds its
ticket: the update is answered once, by whoever took it. A ticket left open by a process that died is passed
over after `stale` seconds, so one crash never silences a resident.
"""

from __future__ import annotations

from bot.storage.db import Database


class TurnTickets:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(self, channel: str, update_key: str, resident_key: str, owner: str) -> bool:
        """A ticket for this update; False when the update already has one (a repeated delivery)."""
        # Only this resident's tickets are read and written: other processes' writes need not wait for it.
        async with self._db.atomic(scope=f"turn:{channel}:{resident_key}") as tx:
            row = await tx.fetchone(
                "INSERT INTO turn_tickets (channel, update_key, resident_key, seq, owner, taken_at)"
                " SELECT ?, ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ? FROM turn_tickets"
                " WHERE channel = ? AND resident_key = ?"
                " ON CONFLICT DO NOTHING RETURNING seq",
                (channel, update_key, resident_key, owner, self._db.now(), channel, resident_key),
            )
        return row is not None

    async def my_turn(self, channel: str, update_key: str, stale: int) -> bool:
        """True when every earlier ticket of the same resident is done (or older than `stale` seconds)."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM turn_tickets t JOIN turn_tickets mine"
            " ON mine.channel = t.channel AND mine.resident_key = t.resident_key"
            " WHERE mine.channel = ? AND mine.update_key = ? AND t.seq < mine.seq AND t.done_at IS NULL"
            " AND t.taken_at >= ?",
            (channel, update_key, self._db.now() - stale),
        )
        return row is not None and int(row[0]) == 0

    async def done(self, channel: str, update_key: str) -> None:
        async with self._db.atomic(scope=f"turn-done:{channel}:{update_key}") as tx:  # its own row only
            await tx.execute(
                "UPDATE turn_tickets SET done_at = ? WHERE channel = ? AND update_key = ?",
                (self._db.now(), channel, update_key),
            )

    async def prune(self, older_than: int) -> int:
        """Forget answered tickets taken before `older_than` (unix seconds); returns how many."""
        async with self._db.atomic() as tx:
            written = await tx.execute(
                "DELETE FROM turn_tickets WHERE done_at IS NOT NULL AND taken_at < ?", (older_than,)
            )
        return written.rowcount
