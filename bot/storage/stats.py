"""Aggregates over the event log, quizzes, broadcasts and ledger for one period (SQL only, no formatting).

Console sessions (local trials and demos) are left out of every figure. Timestamps are unix seconds;
months are taken in the town's time zone by shifting with its UTC offset (`offset`, seconds), which is
exact for zones without daylight saving, such as Asia/Shanghai.

Every query takes an optional `places`: the place ids of one township (a county deployment's tenant). Given,
only events, roll-up rows, quiz sessions, requests and ledger rows at one of those places count, and only
residents whose place is one of them (`place_id IN (...)`; a resident, event or row without a place is
county-level and never counts for a township). `None` is the whole deployment; an empty list counts nothing.
The roll-ups carry `place_id`, so whole months stay on them; only quiz participants of periods that are not whole
years, which `quiz_participants_monthly` keeps without a place, need the log, and only for residents reached in the
township and elsewhere too (`_township_participants`).

Which roll-up answers (migrations 5, 6 and 14): whole years read `reach_yearly` (a row per year, resident, topic,
place and channel); the months and totals of any whole-month period read `reach_resident_months` (a row per month,
resident and place); the other breakdowns of whole months that are not whole years read `reach_monthly`. The
partial months at either end of a period read the raw log. At a county's 300,000 residents these are 1.8 M, 3.6 M
and 19.5 M rows for a year (docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from bot.storage.db import Database, Row
from bot.storage.reach import catch_up

DIMENSIONS = {  # the key of each breakdown, over raw events
    "topic": "COALESCE(topic_id, 'other')",
    "place": "COALESCE(place_id, 'unknown')",
    "channel": "channel",
    "month": "strftime('%Y-%m', ts + :offset, 'unixepoch')",
}
ROLLUP_COLUMNS = {"topic": "topic_id", "place": "place_id", "channel": "channel", "month": "month"}
KEY_OF_ROLLUP = {  # the same keys from a roll-up's column ('' is no topic / no place there)
    "topic": "COALESCE(NULLIF({}, ''), 'other')",
    "place": "COALESCE(NULLIF({}, ''), 'unknown')",
    "channel": "{}",
    "month": "{}",
}
ROLLUP_KEYS = {dimension: KEY_OF_ROLLUP[dimension].format(column) for dimension, column in ROLLUP_COLUMNS.items()}


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

    @property
    def whole_years(self) -> bool:
        """Whole calendar years and nothing else: the yearly roll-up answers it."""
        return self.whole_months_only and self.first_month.endswith("-01") and self.last_month.endswith("-12")

    @property
    def years(self) -> tuple[str, ...]:
        """The years the whole months touch, first to last ('YYYY')."""
        if not self.first_month:
            return ()
        return tuple(str(year) for year in range(int(self.first_month[:4]), int(self.last_month[:4]) + 1))

    @property
    def years_condition(self) -> str:
        """`year IN (…)` over `years`: equality, so that an index of (year, place_id, …) is read only over the
        places asked for (a range on year would read every place of the year)."""
        return f"year IN ({', '.join(f':year{i}' for i in range(len(self.years)))})"

    @property
    def one_year(self) -> bool:
        """One whole calendar year: the year's counters answer it for the whole deployment."""
        return self.whole_years and self.first_month[:4] == self.last_month[:4]

    @property
    def start(self) -> int:
        """The period's first second (the first raw range starts the period, even when it is empty)."""
        return self.ranges[0][0]

    @property
    def end(self) -> int:
        """The second after the period: the end of the second raw range, or of the first without a whole month."""
        return self.ranges[1][1] if self.first_month else self.ranges[0][1]

    def params(self, **extra: Any) -> dict[str, Any]:
        (a1, b1), (a2, b2) = self.ranges
        years = {"y1": self.first_month[:4], "y2": self.last_month[:4]}
        years.update((f"year{i}", year) for i, year in enumerate(self.years))
        return {"m1": self.first_month, "m2": self.last_month, **years, "a1": a1, "b1": b1, "a2": a2, "b2": b2, **extra}


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


RAW = "((ts >= :a1 AND ts < :b1) OR (ts >= :a2 AND ts < :b2)) AND channel != 'console'"
MONTHS = "month BETWEEN :m1 AND :m2"


def _yearly(span: Span, places: Sequence[str] | None) -> str:
    """reach_yearly over the span's years; for a township, its places' range of the place index (it holds every
    column). The whole deployment reads the counters for one year; several years are read whole (rare)."""
    hint = " INDEXED BY reach_yearly_place" if places is not None else ""
    return f"reach_yearly{hint} WHERE {span.years_condition}"


def _resident_months(places: Sequence[str] | None) -> str:
    """reach_resident_months over the span's whole months; for a township, its places' range of the place index."""
    hint = " INDEXED BY reach_resident_months_place" if places is not None else ""
    return f"reach_resident_months{hint} WHERE {MONTHS}"


def within(column: str, places: Sequence[str] | None) -> tuple[str, dict[str, Any]]:
    """The filter ` AND <column> IN (:place0, …)` and its parameters for one township's places; nothing for the
    whole deployment (`None`), and a filter nothing passes for an empty list."""
    if places is None:
        return "", {}
    condition, names = _among(column, places)
    return f" AND {condition}", names


def _among(column: str, places: Sequence[str], prefix: str = "place") -> tuple[str, dict[str, Any]]:
    """`<column> IN (:place0, …)`, or a condition nothing passes for no place."""
    if not places:
        return "1 = 0", {}
    names = {f"{prefix}{i}": place for i, place in enumerate(dict.fromkeys(places))}
    return f"{column} IN ({', '.join(':' + name for name in names)})", names


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


def _township_participants(places: Sequence[str]) -> str:
    """Quiz participants of one township: residents with a quiz answer at one of its places.

    `quiz_participants_monthly` has no place, and reading every answer of the period from the log is slow (seconds
    at a million events). So: the period's participants (as for the whole deployment) who were reached at the
    township's places (the place index); those reached nowhere else in the period answered there; only for those
    also reached elsewhere (a move, or messages before choosing a place) are their own answers looked up. Both
    look-ups go through the resident indexes of the roll-up and the log."""
    inside, _ = _among("place_id", places)
    elsewhere, _ = _among("COALESCE(o.place_id, '')", places)
    answered, _ = _among("e.place_id", places)
    resident_raw = "((o.ts >= :a1 AND o.ts < :b1) OR (o.ts >= :a2 AND o.ts < :b2)) AND o.channel != 'console'"
    return (
        "WITH inside(resident_id) AS ("
        f" SELECT resident_id FROM reach_resident_months INDEXED BY reach_resident_months_place WHERE {MONTHS}"
        f" AND {inside}"
        f" UNION SELECT resident_id FROM reach_events WHERE {RAW} AND {inside}),"
        f" people(resident_id) AS (SELECT resident_id FROM quiz_participants_monthly WHERE {MONTHS}"
        f"  UNION SELECT resident_id FROM reach_events WHERE kind = 'quiz_answer' AND {RAW})"
        " SELECT COUNT(*) FROM people JOIN inside ON inside.resident_id = people.resident_id WHERE"
        # reached nowhere else in the period: every answer of theirs was at the township's places
        " (NOT EXISTS (SELECT 1 FROM reach_monthly o INDEXED BY reach_monthly_resident"
        " WHERE o.resident_id = people.resident_id"
        f"   AND o.month BETWEEN :m1 AND :m2 AND NOT ({elsewhere}))"
        "  AND NOT EXISTS (SELECT 1 FROM reach_events o WHERE o.resident_id = people.resident_id"
        f"   AND {resident_raw} AND NOT ({elsewhere})))"
        # or else one of their answers was
        " OR EXISTS (SELECT 1 FROM reach_events e WHERE e.resident_id = people.resident_id"
        f"  AND e.kind = 'quiz_answer' AND e.channel != 'console' AND e.ts >= :start AND e.ts < :end AND {answered})"
    )


class StatsStore:
    """The period's aggregates; each method's `places` narrows it to one township's places (module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _rows(self, query: str, params: dict[str, Any]) -> list[Row]:
        return await self._db.fetchall(query, params)

    async def catch_up(self, chunks: int | None = None) -> int:
        """Bring the year's roll-ups and counters up to the log (bot/storage/reach.py `catch_up`): the figures
        below do it themselves before they read; the running bot does it when idle, so that they find little."""
        return await catch_up(self._db, self._db.zone_offset, chunks=chunks)

    async def _counted(self, span: Span, dimension: str) -> list[Row]:
        """(key, deliveries, reached) of the year's counters: a year (or its months) of the whole deployment."""
        months = " AND key BETWEEN :m1 AND :m2" if dimension == "month" else ""
        return await self._rows(
            "SELECT key, deliveries, reached FROM reach_year_counts WHERE year BETWEEN :y1 AND :y2"
            f" AND dimension = :dimension{months} AND deliveries > 0 ORDER BY key",
            span.params(dimension=dimension),
        )

    async def totals(self, span: Span, places: Sequence[str] | None = None) -> Counts:
        await self.catch_up()
        if places is None and span.one_year:
            rows = await self._counted(span, "all")
            return Counts(int(rows[0][1]), int(rows[0][2])) if rows else Counts(0, 0)
        where, names = within("place_id", places)
        if span.whole_months_only:
            # Whole years: the yearly roll-up in (year, resident) order; other whole months: a row per resident
            # and month (reach_resident_months), not one per topic and channel too.
            source = _yearly(span, places) if span.whole_years else _resident_months(places)
            rows = await self._rows(
                "SELECT COALESCE(SUM(n), 0), COUNT(*) FROM (SELECT resident_id, SUM(deliveries) AS n"
                f" FROM {source}{where} GROUP BY resident_id) AS per_resident",
                span.params(**names),
            )
            return Counts(int(rows[0][0]), int(rows[0][1]))
        rows = await self._rows(
            "WITH r(resident_id, n) AS ("
            f" SELECT resident_id, deliveries FROM {_resident_months(places)}{where}"
            f" UNION ALL SELECT resident_id, 1 FROM reach_events WHERE {RAW}{where})"
            " SELECT COALESCE(SUM(n), 0), COUNT(DISTINCT resident_id) FROM r",
            span.params(**names),
        )
        return Counts(int(rows[0][0]), int(rows[0][1]))

    async def reached_by_group(self, span: Span, groups: Sequence[Sequence[str]]) -> list[int]:
        """Residents reached at the places of each group (a county's townships), each counted once per group:
        one query for every group, however many there are."""
        await self.catch_up()
        if not groups:
            return []
        # Each place's group by a join with a small table of (place, group): once per row, not a CASE of every
        # group's places. The groups' numbers are written in, not parameters: typed alike on both backends.
        values, names = [], {}
        for number, places in enumerate(groups):
            for index, place in enumerate(dict.fromkeys(places)):
                names[f"group{number}_{index}"] = place
                values.append(f"(:group{number}_{index}, {number})")
        if not values:
            return [0] * len(groups)
        if span.whole_years:  # a row per year, place and resident
            pairs = f"SELECT place_id, resident_id FROM reach_year_places WHERE {span.years_condition}"
        elif span.whole_months_only:
            pairs = f"SELECT place_id, resident_id FROM reach_resident_months WHERE {MONTHS}"
        else:
            pairs = (
                f"SELECT place_id, resident_id FROM reach_resident_months WHERE {MONTHS}"
                f" UNION ALL SELECT place_id, resident_id FROM reach_events WHERE {RAW}"
            )
        rows = await self._rows(
            f"WITH place_group(place_id, g) AS (VALUES {', '.join(values)})"
            f" SELECT place_group.g, COUNT(DISTINCT pairs.resident_id) FROM ({pairs}) AS pairs"
            " JOIN place_group ON place_group.place_id = pairs.place_id GROUP BY place_group.g",
            span.params(**names),
        )
        reached = {int(row[0]): int(row[1]) for row in rows}
        return [reached.get(number, 0) for number in range(len(groups))]

    async def by(
        self, dimension: str, span: Span, offset: int, places: Sequence[str] | None = None
    ) -> dict[str, Counts]:
        await self.catch_up()
        monthly, raw = ROLLUP_KEYS[dimension], DIMENSIONS[dimension]  # fixed expressions chosen by name
        if places is None and (span.one_year or (dimension == "month" and span.whole_months_only)):
            found: dict[str, Counts] = {}
            for key, deliveries, reached in await self._counted(span, dimension):
                key = {"topic": key or "other", "place": key or "unknown"}.get(dimension, key)
                found[key] = Counts(int(deliveries), int(reached))
            return dict(sorted(found.items()))
        where, names = within("place_id", places)
        column = ROLLUP_COLUMNS[dimension]
        if dimension == "month":  # a row per month and resident: the smallest roll-up that has both
            source, monthly = _resident_months(places), "month"
        elif span.whole_years:
            source = _yearly(span, places)
        else:
            source = f"reach_monthly WHERE {MONTHS}"  # the primary key's range of the months
        if span.whole_months_only:
            # Sum each resident's deliveries per key, then count the residents of each key: no COUNT(DISTINCT),
            # which PostgreSQL answers by sorting each group's rows again (docs/benchmarks.md). A township reads
            # its places' range of a place index.
            rows = await self._rows(
                f"SELECT {KEY_OF_ROLLUP[dimension].format('k')}, SUM(n), COUNT(*) FROM ("
                f"SELECT {column} AS k, resident_id, SUM(deliveries) AS n FROM {source}{where}"
                f" GROUP BY {column}, resident_id) AS per_resident GROUP BY k ORDER BY 1",
                span.params(**names),
            )
            return {row[0]: Counts(int(row[1]), int(row[2])) for row in rows}
        table = "reach_resident_months" if dimension == "month" else "reach_monthly"
        rows = await self._rows(
            "WITH r(k, resident_id, n) AS ("
            f" SELECT {monthly}, resident_id, deliveries FROM {table} WHERE {MONTHS}{where}"
            f" UNION ALL SELECT {raw}, resident_id, 1 FROM reach_events WHERE {RAW}{where})"
            " SELECT k, SUM(n), COUNT(DISTINCT resident_id) FROM r GROUP BY k ORDER BY k",
            span.params(offset=offset, **names),
        )
        return {row[0]: Counts(int(row[1]), int(row[2])) for row in rows}

    async def quiz_totals(self, span: Span, places: Sequence[str] | None = None) -> QuizTotals:
        """(answers, correct answers, participants) of quiz answers."""
        await self.catch_up()
        where, names = within("place_id", places)
        counts = await self._rows(
            "WITH r(a, c) AS ("
            f" SELECT answers, correct FROM quiz_monthly WHERE {MONTHS}{where}"
            f" UNION ALL SELECT 1, correct FROM reach_events WHERE kind = 'quiz_answer' AND {RAW}{where})"
            " SELECT COALESCE(SUM(a), 0), COALESCE(SUM(c), 0) FROM r",
            span.params(**names),
        )
        if places is None and span.one_year:
            counted = await self._counted(span, "quiz")
            people = [(counted[0][2] if counted else 0,)]
        elif span.whole_years:  # residents with a quiz answer in the years (at one of `places`)
            people = await self._rows(
                f"SELECT COUNT(*) FROM (SELECT DISTINCT resident_id FROM {_yearly(span, places)}"
                f" AND quiz_answers > 0{where}) AS people",
                span.params(**names),
            )
        elif places is None:
            people = await self._rows(
                f"SELECT COUNT(*) FROM (SELECT resident_id FROM quiz_participants_monthly WHERE {MONTHS}"
                f" UNION SELECT resident_id FROM reach_events WHERE kind = 'quiz_answer' AND {RAW}) AS people",
                span.params(),
            )
        else:
            people = await self._rows(
                _township_participants(places), span.params(start=span.start, end=span.end, **names)
            )
        return QuizTotals(int(counts[0][0]), int(counts[0][1]), int(people[0][0]))

    async def question_accuracy(self, span: Span, places: Sequence[str] | None = None) -> list[QuestionAnswers]:
        """(question id, place id or 'unknown', answers, correct) for every question answered."""
        where, names = within("place_id", places)
        rows = await self._rows(
            "WITH r(q, p, a, c) AS ("
            f" SELECT question_id, NULLIF(place_id, ''), answers, correct FROM quiz_monthly WHERE {MONTHS}{where}"
            " UNION ALL SELECT item_id, place_id, 1, correct FROM reach_events"
            f" WHERE kind = 'quiz_answer' AND {RAW}{where})"
            " SELECT q, COALESCE(p, 'unknown'), SUM(a), SUM(c) FROM r GROUP BY 1, 2",
            span.params(**names),
        )
        return [QuestionAnswers(row[0], row[1], int(row[2]), int(row[3])) for row in rows]

    async def quiz_completion(self, start: int, end: int, places: Sequence[str] | None = None) -> QuizCompletion:
        """(quizzes started, quizzes finished) among those started in the period (at a place of `places`)."""
        where, names = within("place_id", places)
        rows = await self._rows(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'finished') FROM quiz_sessions WHERE started_at >= :start"
            f" AND started_at < :end AND channel != 'console'{where}",
            {"start": start, "end": end, **names},
        )
        return QuizCompletion(int(rows[0][0]), int(rows[0][1] or 0))

    async def quiz_finishers_by_place(
        self, start: int, end: int, places: Sequence[str] | None = None
    ) -> dict[str, int]:
        where, names = within("place_id", places)
        rows = await self._rows(
            "SELECT place_id, COUNT(DISTINCT resident_id) FROM quiz_sessions WHERE status = 'finished'"
            " AND finished_at >= :start AND finished_at < :end AND place_id IS NOT NULL AND channel != 'console'"
            f"{where} GROUP BY place_id",
            {"start": start, "end": end, **names},
        )
        return {row[0]: int(row[1]) for row in rows}

    async def broadcasts(self, start: int, end: int, places: Sequence[str] | None = None) -> list[BroadcastOutcomes]:
        """(id, campaign id, targeted, outcome counts) of broadcasts that started sending in the period.

        With `places`: only the recipients whose place (the resident's place now: a recipient row keeps none) is
        one of them; `targeted` is those recipients, and a broadcast none of them received is left out."""
        found: dict[int, BroadcastOutcomes] = {}
        if places is None:
            rows = await self._rows(
                "SELECT b.id, b.campaign_id, b.targeted, r.status, COUNT(r.resident_id) FROM broadcasts b"
                " LEFT JOIN broadcast_recipients r ON r.broadcast_id = b.id"
                " WHERE b.started_at >= :start AND b.started_at < :end GROUP BY b.id, r.status ORDER BY b.id",
                {"start": start, "end": end},
            )
            for broadcast_id, campaign_id, targeted, status, count in rows:
                entry = found.setdefault(broadcast_id, BroadcastOutcomes(broadcast_id, campaign_id, int(targeted), {}))
                if status is not None:
                    entry.counts[status] = int(count)
            return list(found.values())
        where, names = within("p.place_id", places)
        rows = await self._rows(
            "SELECT b.id, b.campaign_id, r.status, COUNT(*) FROM broadcasts b"
            " JOIN broadcast_recipients r ON r.broadcast_id = b.id JOIN residents p ON p.id = r.resident_id"
            f" WHERE b.started_at >= :start AND b.started_at < :end{where}"
            " GROUP BY b.id, b.campaign_id, r.status ORDER BY b.id",
            {"start": start, "end": end, **names},
        )
        for broadcast_id, campaign_id, status, count in rows:
            entry = found.setdefault(broadcast_id, BroadcastOutcomes(broadcast_id, campaign_id, 0, {}))
            entry.counts[status] = int(count)
        return [entry._replace(targeted=sum(entry.counts.values())) for entry in found.values()]

    async def daily_channel_deliveries(self, channel: str, start: int, end: int) -> dict[str, int]:
        """Deliveries per local day (YYYY-MM-DD) on one channel, for comparing with the platform's own figures."""
        rows = await self._rows(
            "SELECT strftime('%Y-%m-%d', ts + :offset, 'unixepoch'), COUNT(*) FROM reach_events"
            " WHERE channel = :channel AND ts >= :start AND ts < :end GROUP BY 1",
            {"channel": channel, "start": start, "end": end, "offset": self._db.zone_offset},
        )
        return {str(day): int(count) for day, count in rows}

    async def new_residents(self, start: int, end: int, places: Sequence[str] | None = None) -> int:
        where, names = within("place_id", places)
        rows = await self._rows(
            "SELECT COUNT(*) FROM residents WHERE first_seen >= :start AND first_seen < :end AND channel != 'console'"
            f"{where}",
            {"start": start, "end": end, **names},
        )
        return int(rows[0][0])

    async def requests(self, start: int, end: int, places: Sequence[str] | None = None) -> RequestCounts:
        """Legal-service requests (群众诉求) made in the period, and how many of them are done."""
        where, names = within("place_id", places)
        rows = await self._rows(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'done') FROM help_requests"
            " WHERE status IN ('open', 'done') AND created_at >= :start AND created_at < :end AND channel != 'console'"
            f"{where}",
            {"start": start, "end": end, **names},
        )
        return RequestCounts(int(rows[0][0]), int(rows[0][1] or 0))

    async def ledger(self, first_day: str, last_day: str, places: Sequence[str] | None = None) -> list[LedgerTotal]:
        """(activity type, activities, summed count) in the period; deleted rows never count. With `places`, only
        rows at one of them: a row whose 地点 is free text belongs to no township."""
        where, names = within("place_id", places)
        rows = await self._rows(
            "SELECT type, COUNT(*), SUM(count) FROM ledger WHERE day BETWEEN :first AND :last AND deleted_at IS NULL"
            f"{where} GROUP BY type ORDER BY type",
            {"first": first_day, "last": last_day, **names},
        )
        return [LedgerTotal(row[0], int(row[1]), int(row[2])) for row in rows]

    async def not_finished(self, topic_id: str, places: Sequence[str] | None = None) -> list[PendingResident]:
        """(place, display name, channel, account) of residents without a finished quiz on `topic_id`."""
        where, names = within("r.place_id", places)
        rows = await self._rows(
            "SELECT r.place_id, r.display_name, r.channel, r.external_id FROM residents r"
            " WHERE r.channel != 'console' AND r.blocked = 0 AND NOT EXISTS (SELECT 1 FROM quiz_sessions s"
            " WHERE s.resident_id = r.id AND s.mode = 'topic' AND s.topic_id = :topic AND s.status = 'finished')"
            f"{where} ORDER BY r.place_id NULLS FIRST, r.id",
            {"topic": topic_id, **names},
        )
        return [PendingResident(row[0], row[1], row[2], row[3]) for row in rows]
