"""Aggregates over the event log, quizzes, broadcasts and ledger for one period (SQL only, no formatting).

Console sessions (local trials and demos) are left out of every figure. Timestamps are unix seconds;
months are taken in the town's time zone by shifting with its UTC offset (`offset`, seconds), which is
exact for zones without daylight saving, such as Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from bot.storage.db import Database, Row

DIMENSIONS = {  # the key of each breakdown, over raw events
    "topic": "COALESCE(topic_id, 'other')",
    "place": "COALESCE(place_id, 'unknown')",
    "channel": "channel",
    "month": "strftime('%Y-%m', ts + :offset, 'unixepoch')",
}
ROLLUP_COLUMNS = {"topic": "topic_id", "place": "place_id", "channel": "channel", "month": "month"}
ROLLUP_KEYS = {  # the same keys over reach_monthly
    "topic": "COALESCE(NULLIF(topic_id, ''), 'other')",
    "place": "COALESCE(NULLIF(place_id, ''), 'unknown')",
    "channel": "channel",
    "month": "month",
}


@dataclass(frozen=True)
class Span:
    """A period cut for the roll-ups: whole months read `*_monthly`, the partial months at either end read
    the raw event log."""

    first_month: str  # 'YYYY-MM'; '' when the period holds no whole month
    last_month: str
    ranges: tuple[tuple[int, int], tuple[int, int]]  # raw [start, end) timestamps before and after

    @classmethod
    def of(cls, first: dt.date, last: dt.date, zone: dt.tzinfo) -> Span:
        def stamp(day: dt.date) -> int:
            return int(dt.datetime.combine(day, dt.time(), zone).timestamp())

        end_day = last + dt.timedelta(days=1)
        month_start = first if first.day == 1 else _next_month(first)
        month_end = end_day.replace(day=1)  # first day of the month after the last whole month
        if month_start >= month_end:  # no whole month inside: everything from the raw log
            return cls("", "", ((stamp(first), stamp(end_day)), (0, 0)))
        last_whole = month_end - dt.timedelta(days=1)
        return cls(
            f"{month_start:%Y-%m}",
            f"{last_whole:%Y-%m}",
            ((stamp(first), stamp(month_start)), (stamp(month_end), stamp(end_day))),
        )

    @property
    def whole_months_only(self) -> bool:
        return bool(self.first_month) and all(start >= end for start, end in self.ranges)

    def params(self, **extra: Any) -> dict[str, Any]:
        (a1, b1), (a2, b2) = self.ranges
        return {"m1": self.first_month, "m2": self.last_month, "a1": a1, "b1": b1, "a2": a2, "b2": b2, **extra}


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


RAW = "((ts >= :a1 AND ts < :b1) OR (ts >= :a2 AND ts < :b2)) AND channel != 'console'"
MONTHS = "month BETWEEN :m1 AND :m2"


@dataclass(frozen=True)
class Counts:
    deliveries: int
    reached: int


class QuizTotals(NamedTuple):
    answers: int
    correct: int
    participants: int


class QuestionAnswers(NamedTuple):
    question_id: str
    place_id: str  # 'unknown' when the resident had set no place
    answers: int
    correct: int


class QuizCompletion(NamedTuple):
    started: int
    finished: int


class BroadcastOutcomes(NamedTuple):
    id: int
    campaign_id: str | None
    targeted: int
    counts: dict[str, int]  # recipients by status


class LedgerTotal(NamedTuple):
    type: str
    activities: int
    count: int  # summed audience or quantity, in the type's unit


class RequestCounts(NamedTuple):
    made: int  # legal-service requests sent to the office in the period (open or done)
    done: int


class PendingResident(NamedTuple):
    place_id: str | None
    display_name: str
    channel: str
    external_id: str


class StatsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _rows(self, query: str, params: dict[str, Any]) -> list[Row]:
        return await self._db.fetchall(query, params)

    async def totals(self, span: Span) -> Counts:
        if span.whole_months_only:
            rows = await self._rows(
                "SELECT COALESCE(SUM(n), 0), COUNT(*) FROM (SELECT resident_id, SUM(deliveries) AS n"
                f" FROM reach_monthly INDEXED BY reach_monthly_resident WHERE {MONTHS} GROUP BY resident_id)"
                " AS per_resident",
                span.params(),
            )
            return Counts(int(rows[0][0]), int(rows[0][1]))
        rows = await self._rows(
            "WITH r(resident_id, n) AS ("
            f" SELECT resident_id, deliveries FROM reach_monthly WHERE {MONTHS}"
            f" UNION ALL SELECT resident_id, 1 FROM reach_events WHERE {RAW})"
            " SELECT COALESCE(SUM(n), 0), COUNT(DISTINCT resident_id) FROM r",
            span.params(),
        )
        return Counts(int(rows[0][0]), int(rows[0][1]))

    async def by(self, dimension: str, span: Span, offset: int) -> dict[str, Counts]:
        monthly, raw = ROLLUP_KEYS[dimension], DIMENSIONS[dimension]  # fixed expressions chosen by name
        if span.whole_months_only:
            # Scan the covering index in (key, resident) order: no sort for GROUP BY (docs/benchmarks.md).
            column = ROLLUP_COLUMNS[dimension]
            indexed = f"INDEXED BY reach_monthly_{dimension}" if dimension != "month" else ""
            rows = await self._rows(
                f"SELECT {monthly}, SUM(deliveries), COUNT(DISTINCT resident_id) FROM reach_monthly {indexed}"
                f" WHERE {MONTHS} GROUP BY {column} ORDER BY 1",
                span.params(),
            )
            return {row[0]: Counts(int(row[1]), int(row[2])) for row in rows}
        rows = await self._rows(
            "WITH r(k, resident_id, n) AS ("
            f" SELECT {monthly}, resident_id, deliveries FROM reach_monthly WHERE {MONTHS}"
            f" UNION ALL SELECT {raw}, resident_id, 1 FROM reach_events WHERE {RAW})"
            " SELECT k, SUM(n), COUNT(DISTINCT resident_id) FROM r GROUP BY k ORDER BY k",
            span.params(offset=offset),
        )
        return {row[0]: Counts(int(row[1]), int(row[2])) for row in rows}

    async def quiz_totals(self, span: Span) -> QuizTotals:
        """(answers, correct answers, participants) of quiz answers."""
        counts = await self._rows(
            "WITH r(a, c) AS ("
            f" SELECT answers, correct FROM quiz_monthly WHERE {MONTHS}"
            f" UNION ALL SELECT 1, correct FROM reach_events WHERE kind = 'quiz_answer' AND {RAW})"
            " SELECT COALESCE(SUM(a), 0), COALESCE(SUM(c), 0) FROM r",
            span.params(),
        )
        people = await self._rows(
            f"SELECT COUNT(*) FROM (SELECT resident_id FROM quiz_participants_monthly WHERE {MONTHS}"
            f" UNION SELECT resident_id FROM reach_events WHERE kind = 'quiz_answer' AND {RAW}) AS people",
            span.params(),
        )
        return QuizTotals(int(counts[0][0]), int(counts[0][1]), int(people[0][0]))

    async def question_accuracy(self, span: Span) -> list[QuestionAnswers]:
        """(question id, place id or 'unknown', answers, correct) for every question answered."""
        rows = await self._rows(
            "WITH r(q, p, a, c) AS ("
            f" SELECT question_id, NULLIF(place_id, ''), answers, correct FROM quiz_monthly WHERE {MONTHS}"
            f" UNION ALL SELECT item_id, place_id, 1, correct FROM reach_events WHERE kind = 'quiz_answer' AND {RAW})"
            " SELECT q, COALESCE(p, 'unknown'), SUM(a), SUM(c) FROM r GROUP BY 1, 2",
            span.params(),
        )
        return [QuestionAnswers(row[0], row[1], int(row[2]), int(row[3])) for row in rows]

    async def quiz_completion(self, start: int, end: int) -> QuizCompletion:
        """(quizzes started, quizzes finished) among those started in the period."""
        rows = await self._rows(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'finished') FROM quiz_sessions WHERE started_at >= :start"
            " AND started_at < :end AND channel != 'console'",
            {"start": start, "end": end},
        )
        return QuizCompletion(int(rows[0][0]), int(rows[0][1] or 0))

    async def quiz_finishers_by_place(self, start: int, end: int) -> dict[str, int]:
        rows = await self._rows(
            "SELECT place_id, COUNT(DISTINCT resident_id) FROM quiz_sessions WHERE status = 'finished'"
            " AND finished_at >= :start AND finished_at < :end AND place_id IS NOT NULL AND channel != 'console'"
            " GROUP BY place_id",
            {"start": start, "end": end},
        )
        return {row[0]: int(row[1]) for row in rows}

    async def broadcasts(self, start: int, end: int) -> list[BroadcastOutcomes]:
        """(id, campaign id, targeted, outcome counts) of broadcasts that started sending in the period."""
        rows = await self._rows(
            "SELECT b.id, b.campaign_id, b.targeted, r.status, COUNT(r.resident_id) FROM broadcasts b"
            " LEFT JOIN broadcast_recipients r ON r.broadcast_id = b.id"
            " WHERE b.started_at >= :start AND b.started_at < :end GROUP BY b.id, r.status ORDER BY b.id",
            {"start": start, "end": end},
        )
        found: dict[int, BroadcastOutcomes] = {}
        for broadcast_id, campaign_id, targeted, status, count in rows:
            entry = found.setdefault(broadcast_id, BroadcastOutcomes(broadcast_id, campaign_id, int(targeted), {}))
            if status is not None:
                entry.counts[status] = int(count)
        return list(found.values())

    async def daily_channel_deliveries(self, channel: str, start: int, end: int) -> dict[str, int]:
        """Deliveries per local day (YYYY-MM-DD) on one channel, for comparing with the platform's own figures."""
        rows = await self._rows(
            "SELECT strftime('%Y-%m-%d', ts + :offset, 'unixepoch'), COUNT(*) FROM reach_events"
            " WHERE channel = :channel AND ts >= :start AND ts < :end GROUP BY 1",
            {"channel": channel, "start": start, "end": end, "offset": self._db.zone_offset},
        )
        return {str(day): int(count) for day, count in rows}

    async def new_residents(self, start: int, end: int) -> int:
        rows = await self._rows(
            "SELECT COUNT(*) FROM residents WHERE first_seen >= :start AND first_seen < :end AND channel != 'console'",
            {"start": start, "end": end},
        )
        return int(rows[0][0])

    async def requests(self, start: int, end: int) -> RequestCounts:
        """Legal-service requests (群众诉求) made in the period, and how many of them are done."""
        rows = await self._rows(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'done') FROM help_requests"
            " WHERE status IN ('open', 'done') AND created_at >= :start AND created_at < :end AND channel != 'console'",
            {"start": start, "end": end},
        )
        return RequestCounts(int(rows[0][0]), int(rows[0][1]))

    async def ledger(self, first_day: str, last_day: str) -> list[LedgerTotal]:
        """(activity type, activities, summed count) in the period; deleted rows never count."""
        rows = await self._rows(
            "SELECT type, COUNT(*), SUM(count) FROM ledger WHERE day BETWEEN :first AND :last AND deleted_at IS NULL"
            " GROUP BY type ORDER BY type",
            {"first": first_day, "last": last_day},
        )
        return [LedgerTotal(row[0], int(row[1]), int(row[2])) for row in rows]

    async def not_finished(self, topic_id: str) -> list[PendingResident]:
        """(place, display name, channel, account) of residents without a finished quiz on `topic_id`."""
        rows = await self._rows(
            "SELECT r.place_id, r.display_name, r.channel, r.external_id FROM residents r"
            " WHERE r.channel != 'console' AND r.blocked = 0 AND NOT EXISTS (SELECT 1 FROM quiz_sessions s"
            " WHERE s.resident_id = r.id AND s.mode = 'topic' AND s.topic_id = :topic AND s.status = 'finished')"
            " ORDER BY r.place_id NULLS FIRST, r.id",
            {"topic": topic_id},
        )
        return [PendingResident(row[0], row[1], row[2], row[3]) for row in rows]
