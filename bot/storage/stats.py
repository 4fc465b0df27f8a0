"""Aggregates over the event log, quizzes, broadcasts and ledger for one period (SQL only, no formatting).

Console sessions (local trials and demos) are left out of every figure. Timestamps are unix seconds;
months are taken in the town's time zone by shifting with its UTC offset (`offset`, seconds), which is
exact for zones without daylight saving, such as Asia/Shanghai.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.storage.sqlite import Storage

DIMENSIONS = {
    "topic": "COALESCE(topic_id, 'other')",
    "place": "COALESCE(place_id, 'unknown')",
    "channel": "channel",
    "month": "strftime('%Y-%m', ts + :offset, 'unixepoch')",
}


@dataclass(frozen=True)
class Counts:
    deliveries: int
    reached: int


class StatsStore:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def _rows(self, query: str, params: dict[str, Any]) -> list[Any]:
        async with self._storage._db.execute(query, params) as cursor:
            return list(await cursor.fetchall())

    async def totals(self, start: int, end: int) -> Counts:
        rows = await self._rows(
            "SELECT COUNT(*), COUNT(DISTINCT resident_id) FROM reach_events"
            " WHERE ts >= :start AND ts < :end AND channel != 'console'",
            {"start": start, "end": end},
        )
        return Counts(int(rows[0][0]), int(rows[0][1]))

    async def by(self, dimension: str, start: int, end: int, offset: int) -> dict[str, Counts]:
        key = DIMENSIONS[dimension]  # a fixed expression chosen by name, never user text
        rows = await self._rows(
            f"SELECT {key} AS k, COUNT(*), COUNT(DISTINCT resident_id) FROM reach_events"
            " WHERE ts >= :start AND ts < :end AND channel != 'console' GROUP BY k ORDER BY k",
            {"start": start, "end": end, "offset": offset},
        )
        return {row[0]: Counts(int(row[1]), int(row[2])) for row in rows}

    async def quiz_totals(self, start: int, end: int) -> tuple[int, int, int]:
        """(answers, correct answers, participants) from quiz_answer events."""
        rows = await self._rows(
            "SELECT COUNT(*), COALESCE(SUM(correct), 0), COUNT(DISTINCT resident_id) FROM reach_events"
            " WHERE kind = 'quiz_answer' AND ts >= :start AND ts < :end AND channel != 'console'",
            {"start": start, "end": end},
        )
        return int(rows[0][0]), int(rows[0][1]), int(rows[0][2])

    async def question_accuracy(self, start: int, end: int) -> list[tuple[str, str, int, int]]:
        """(question id, place id or 'unknown', answers, correct) for every question answered."""
        rows = await self._rows(
            "SELECT item_id, COALESCE(place_id, 'unknown'), COUNT(*), SUM(correct) FROM reach_events"
            " WHERE kind = 'quiz_answer' AND ts >= :start AND ts < :end AND channel != 'console' GROUP BY 1, 2",
            {"start": start, "end": end},
        )
        return [(row[0], row[1], int(row[2]), int(row[3])) for row in rows]

    async def quiz_completion(self, start: int, end: int) -> tuple[int, int]:
        """(quizzes started, quizzes finished) among those started in the period."""
        rows = await self._rows(
            "SELECT COUNT(*), SUM(status = 'finished') FROM quiz_sessions WHERE started_at >= :start"
            " AND started_at < :end AND channel != 'console'",
            {"start": start, "end": end},
        )
        return int(rows[0][0]), int(rows[0][1] or 0)

    async def quiz_finishers_by_place(self, start: int, end: int) -> dict[str, int]:
        rows = await self._rows(
            "SELECT place_id, COUNT(DISTINCT resident_id) FROM quiz_sessions WHERE status = 'finished'"
            " AND finished_at >= :start AND finished_at < :end AND place_id IS NOT NULL AND channel != 'console'"
            " GROUP BY place_id",
            {"start": start, "end": end},
        )
        return {row[0]: int(row[1]) for row in rows}

    async def broadcasts(self, start: int, end: int) -> list[tuple[int, str | None, int, dict[str, int]]]:
        """(id, campaign id, targeted, outcome counts) of broadcasts that started sending in the period."""
        rows = await self._rows(
            "SELECT b.id, b.campaign_id, b.targeted, r.status, COUNT(r.resident_id) FROM broadcasts b"
            " LEFT JOIN broadcast_recipients r ON r.broadcast_id = b.id"
            " WHERE b.started_at >= :start AND b.started_at < :end GROUP BY b.id, r.status ORDER BY b.id",
            {"start": start, "end": end},
        )
        found: dict[int, tuple[int, str | None, int, dict[str, int]]] = {}
        for broadcast_id, campaign_id, targeted, status, count in rows:
            entry = found.setdefault(broadcast_id, (broadcast_id, campaign_id, int(targeted), {}))
            if status is not None:
                entry[3][status] = int(count)
        return list(found.values())

    async def new_residents(self, start: int, end: int) -> int:
        rows = await self._rows(
            "SELECT COUNT(*) FROM residents WHERE first_seen >= :start AND first_seen < :end AND channel != 'console'",
            {"start": start, "end": end},
        )
        return int(rows[0][0])

    async def ledger(self, first_day: str, last_day: str) -> list[tuple[str, int, int]]:
        """(activity type, activities, summed count) in the period."""
        rows = await self._rows(
            "SELECT type, COUNT(*), SUM(count) FROM ledger WHERE day BETWEEN :first AND :last GROUP BY type"
            " ORDER BY type",
            {"first": first_day, "last": last_day},
        )
        return [(row[0], int(row[1]), int(row[2])) for row in rows]

    async def not_finished(self, topic_id: str) -> list[tuple[str | None, str, str, str]]:
        """(place, display name, channel, account) of residents without a finished quiz on `topic_id`."""
        rows = await self._rows(
            "SELECT r.place_id, r.display_name, r.channel, r.external_id FROM residents r"
            " WHERE r.channel != 'console' AND r.blocked = 0 AND NOT EXISTS (SELECT 1 FROM quiz_sessions s"
            " WHERE s.resident_id = r.id AND s.mode = 'topic' AND s.topic_id = :topic AND s.status = 'finished')"
            " ORDER BY r.place_id, r.id",
            {"topic": topic_id},
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows]
