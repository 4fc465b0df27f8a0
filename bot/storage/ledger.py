"""The publicity ledger (普法台账): offline activities, recorded by admins, reported beside the online reach."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.storage.sqlite import Storage

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
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def add(self, entries: Sequence[LedgerEntry], created_by: str, now: int) -> list[int]:
        """All entries or none (an import with a bad row adds nothing)."""
        ids = []
        async with self._storage.atomic() as db:
            for entry in entries:
                cursor = await db.execute(
                    "INSERT INTO ledger (day, type, place_id, topic_id, count, note, created_at, created_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (entry.day, entry.type, entry.place_id, entry.topic_id, entry.count, entry.note, now, created_by),
                )
                ids.append(int(cursor.lastrowid))
        return ids

    async def between(self, first_day: str, last_day: str) -> list[LedgerEntry]:
        async with self._storage._db.execute(
            "SELECT id, day, type, place_id, topic_id, count, note FROM ledger WHERE day BETWEEN ? AND ?"
            " ORDER BY day, id",
            (first_day, last_day),
        ) as cursor:
            return [_entry(row) async for row in cursor]


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        day=row["day"],
        type=row["type"],
        count=row["count"],
        place_id=row["place_id"],
        topic_id=row["topic_id"],
        note=row["note"],
        id=row["id"],
    )
