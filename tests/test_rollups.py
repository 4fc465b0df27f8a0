"""The roll-ups against the log they summarise: every statistics figure equals the same figure counted straight from
a random history, for each kind of period (whole years, whole months, partial months, a day), for the whole
deployment and for a township's places, on both backends.

`StatsStore` answers from three roll-ups (reach_yearly, reach_resident_months, reach_monthly) and the raw log at
a period's ends; each is exact only if every write, and every reversal of a delivery (微信客服's msg_send_fail),
keeps it in step. Brute force in Python is the reference here: written from the definitions, not from the SQL.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.storage import ReachEvent, Storage
from bot.storage.reach import catch_up, rolled_up_to
from bot.storage.stats import Span

ZONE = ZoneInfo("Asia/Shanghai")
OFFSET = 8 * 3600
TOWN_A = ("a1", "a2", "a3")
TOWN_B = ("b1", "b2")
PLACES = (*TOWN_A, *TOWN_B, None)
TOPICS = ("anti-fraud", "anti-drug", "drowning", None)
KINDS = ("tip", "tip", "quiz_question", "quiz_answer", "broadcast", "answer")
PERIODS = {
    "2026": ("2026-01-01", "2026-12-31"),  # a whole year: reach_yearly
    "2025-2026": ("2025-01-01", "2026-12-31"),  # two whole years
    "second-quarter": ("2026-04-01", "2026-06-30"),  # whole months, not a year: reach_monthly
    "one-month": ("2026-02-01", "2026-02-28"),
    "across-a-new-year": ("2025-07-01", "2026-06-30"),  # whole months over two years
    "partial-ends": ("2025-12-15", "2026-03-10"),  # whole months and the raw log at both ends
    "one-day": ("2026-05-20", "2026-05-20"),  # the raw log alone
}


@dataclass(frozen=True)
class Event:
    resident: int
    channel: str
    kind: str
    topic: str | None
    place: str | None
    ts: int


def history(seed: int) -> list[Event]:
    """500 deliveries to 40 residents over 2025 and 2026, near month and year ends too; some residents move
    between townships, a few use the console (never counted)."""
    rng = random.Random(seed)
    start = int(dt.datetime(2025, 1, 1, tzinfo=ZONE).timestamp())
    end = int(dt.datetime(2027, 1, 1, tzinfo=ZONE).timestamp())
    edges = [
        int(dt.datetime(year, month, 1, tzinfo=ZONE).timestamp()) + shift
        for year in (2025, 2026, 2027)
        for month in range(1, 13)
        for shift in (-1, 0)  # the last second of a month, the first of the next
    ]
    edges = [stamp for stamp in edges if start <= stamp < end]
    homes = {resident: rng.choice(PLACES) for resident in range(40)}
    events = []
    for _ in range(500):
        resident = rng.randrange(40)
        place = homes[resident] if rng.random() < 0.8 else rng.choice(PLACES)  # now and then elsewhere
        channel = "console" if resident < 3 else ("wecom" if resident % 3 == 0 else "telegram")
        ts = rng.choice(edges) if rng.random() < 0.2 else rng.randrange(start, end)
        events.append(Event(resident, channel, rng.choice(KINDS), rng.choice(TOPICS), place, ts))
    return events


def expected(events: list[Event], first: str, last: str, places: tuple[str, ...] | None) -> dict[str, object]:
    """Every figure from the events themselves."""
    start = int(dt.datetime.combine(dt.date.fromisoformat(first), dt.time(), ZONE).timestamp())
    stop = int(dt.datetime.combine(dt.date.fromisoformat(last) + dt.timedelta(days=1), dt.time(), ZONE).timestamp())
    period = [e for e in events if start <= e.ts < stop and e.channel != "console"]
    rows = [e for e in period if places is None or e.place in places]
    keys = {
        "topic": lambda e: e.topic or "other",
        "place": lambda e: e.place or "unknown",
        "channel": lambda e: e.channel,
        "month": lambda e: dt.datetime.fromtimestamp(e.ts, ZONE).strftime("%Y-%m"),
    }
    by: dict[str, dict[str, tuple[int, int]]] = {}
    for dimension, key in keys.items():
        deliveries: dict[str, int] = defaultdict(int)
        people: dict[str, set[int]] = defaultdict(set)
        for e in rows:
            deliveries[key(e)] += 1
            people[key(e)].add(e.resident)
        by[dimension] = {k: (deliveries[k], len(people[k])) for k in deliveries}
    groups = [len({e.resident for e in period if e.place in town}) for town in (TOWN_A, TOWN_B)]  # never narrowed
    return {
        "totals": (len(rows), len({e.resident for e in rows})),
        "by": by,
        "participants": len({e.resident for e in rows if e.kind == "quiz_answer"}),
        "groups": groups,
    }


async def measured(storage: Storage, first: str, last: str, places: tuple[str, ...] | None) -> dict[str, object]:
    span = Span.of(dt.date.fromisoformat(first), dt.date.fromisoformat(last), ZONE)
    stats = storage.stats
    totals = await stats.totals(span, places)
    by = {}
    for dimension in ("topic", "place", "channel", "month"):
        counts = await stats.by(dimension, span, OFFSET, places)
        by[dimension] = {k: (c.deliveries, c.reached) for k, c in counts.items()}
    quiz = await stats.quiz_totals(span, places)
    return {
        "totals": (totals.deliveries, totals.reached),
        "by": by,
        "participants": quiz.participants,
        "groups": await stats.reached_by_group(span, [TOWN_A, TOWN_B]),
    }


async def write(storage: Storage, events: list[Event], ids: dict[int, int] | None = None) -> dict[int, int]:
    """The events through the reach log (as the bot writes them), in batches; the residents' ids by number."""
    if ids is None:
        ids = {}
        for number in range(40):
            channel = "console" if number < 3 else ("wecom" if number % 3 == 0 else "telegram")
            resident, _ = await storage.residents.get_or_create(channel, f"r{number}", f"R{number}", "zh-CN")
            ids[number] = resident.id
    for count, e in enumerate(events, 1):
        correct = (e.ts % 2 == 0) if e.kind == "quiz_answer" else None
        storage.reach.record(
            ReachEvent(
                ids[e.resident], e.channel, e.kind, e.topic, f"item-{e.ts % 7}", e.place, correct=correct, ts=e.ts
            )
        )
        if count % 97 == 0:  # several batches: a resident met in an earlier batch, and twice within one
            await storage.flush()
    await storage.flush()
    return ids


@pytest.mark.parametrize("period", list(PERIODS), ids=list(PERIODS))
async def test_every_figure_equals_the_log_counted_by_hand(database: str, tmp_path: Path, period: str) -> None:
    events = history(seed=18)
    storage = await Storage.open(database, data_dir=tmp_path)
    try:
        await write(storage, events)
        # The year's roll-ups follow the log behind: the bot catches up in short transactions, statistics
        # catch up the rest before they read. Here a part by hand, in small chunks, then the figures do the rest.
        assert await catch_up(storage.db, storage.db.zone_offset, chunk=37, chunks=4) == 4 * 37
        assert await rolled_up_to(storage.db) < len(events)
        first, last = PERIODS[period]
        for places in (None, TOWN_A, TOWN_B, ()):
            assert await measured(storage, first, last, places) == expected(events, first, last, places), places
    finally:
        await storage.close()


async def test_a_reversed_delivery_leaves_every_roll_up(database: str, tmp_path: Path) -> None:
    """微信客服 reports a message undelivered after it was counted: the year's, the months' and the raw figures
    all lose it — whether the year's roll-ups had caught up with it or not yet."""
    events = history(seed=7)
    # A fixed clock: `remember` forgets receipts older than a week when the clock's second is a multiple of 50,
    # and these deliveries are older than that (the bot's own are seconds old).
    storage = await Storage.open(database, data_dir=tmp_path, clock=lambda: 1798761601)
    try:
        ids = await write(storage, events)
        await storage.stats.catch_up()  # the year's roll-ups hold every event but the last few written below
        late = [Event(resident, "telegram", "tip", "drowning", "a1", 1780000000 + resident) for resident in (10, 11)]
        await write(storage, late, ids)
        events = [*events, *late]
        counted = [e for e in events if e.channel != "console" and e.ts >= 1767196800]  # in 2026
        # Every 2026 delivery of a resident without quiz answers (so the resident goes from "reached" too), and two
        # more. Quiz answers are never reversed: an answer is the resident's own act (bot/core/engine.py).
        mine: dict[int, list[Event]] = defaultdict(list)
        for e in counted:
            mine[e.resident].append(e)
        quiet = min((found for found in mine.values() if all(e.kind != "quiz_answer" for e in found)), key=len)
        others = [e for e in counted if e.kind in ("tip", "broadcast") and e.resident != quiet[0].resident]
        taken = [*quiet, *others[:2], late[0]]  # the last one written after the catch-up
        for number, e in enumerate(taken):
            receipt = f"msg-{number}"
            event = ReachEvent(ids[e.resident], e.channel, e.kind, e.topic, f"item-{e.ts % 7}", e.place, ts=e.ts)
            await storage.receipts.remember(receipt, event)
            assert await storage.receipts.reverse(e.channel, receipt) == 1
        remaining = list(events)
        for e in taken:
            remaining.remove(e)
        for first, last in (PERIODS["2026"], PERIODS["second-quarter"], PERIODS["partial-ends"]):
            for places in (None, TOWN_A):
                assert await measured(storage, first, last, places) == expected(remaining, first, last, places)
    finally:
        await storage.close()
