"""The publicity ledger (普法台账): offline activities, recorded by admins, reported beside the online reach."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.storage.db import Database, Row


@dataclass(frozen=True)
class LedgerEntry:
    day: str
    type: str
    count: int
    place_id: str | None = None
    topic_id: str | None = None
    note: str = ""
    id: int | None = None


class LedgerStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, entries: Sequence[LedgerEntry], created_by: str, now: int) -> list[int]:
        """All entries or none (an import with a bad row adds nothing)."""
        ids = []
        async with self._db.atomic() as tx:
            for entry in entries:
                written = await tx.execute(
                    "INSERT INTO ledger (day, type, place_id, topic_id, count, note, created_at, created_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (entry.day, entry.type, entry.place_id, entry.topic_id, entry.count, entry.note, now, created_by),
                )
                ids.append(int(written.lastrowid or 0))
        return ids

    async def between(self, first_day: str, last_day: str) -> list[LedgerEntry]:
        rows = await self._db.fetchall(
            "SELECT id, day, type, place_id, topic_id, count, note FROM ledger WHERE day BETWEEN ? AND ?"
            " ORDER BY day, id",
            (first_day, last_day),
        )
        return [_entry(row) for row in rows]


def _entry(row: Row) -> LedgerEntry:
    return LedgerEntry(
        day=row["day"],
        type=row["type"],
        count=row["count"],
        place_id=row["place_id"],
        topic_id=row["topic_id"],
        note=row["note"],
        id=row["id"],
    )
