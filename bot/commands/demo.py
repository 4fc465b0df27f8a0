"""`demo`: a separate database filled with a plausible year, to try every report before residents arrive.

The year is planned up front (`bot/reporting/demo.py`) and then lived day by day on a simulated clock: residents
talk to the real core (`bot/core/demo.py`, on the WeCom channel: console chats are never counted), the publicity
calendar's scheduler and the office's monthly pushes go through the real broadcast worker, and the ledger's
activities through the ledger store. Nothing is written around them, so every figure the reports show of the
demo database was recorded the way a real year's would be.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import heapq
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.commands.common import EXIT_OK, Failure, Subparsers, UsageError, arg, command
from bot.config import Settings

if TYPE_CHECKING:
    from bot.content.model import Catalog
    from bot.content.store import ContentStore
    from bot.core.answers import AnswerFlow
    from bot.core.demo import Visitor
    from bot.core.search import TipIndex
    from bot.reporting.demo import YearPlan
    from bot.reporting.figures import Statistics
    from bot.storage import LedgerEntry, Storage

DEFAULT_RESIDENTS = 600
T = TypeVar("T")


def register(commands: Subparsers) -> None:
    command(
        commands,
        "demo",
        "fill a separate database with a plausible year of residents, reading, quizzes, broadcasts and ledger rows",
        "python -m bot demo --db demo.sqlite3 --year 2026",
        arg("--db", type=Path, required=True, help="the demo database to create (never the real one)"),
        arg("--year", type=int, default=None, help="the year to simulate (default: this year)"),
        arg("--residents", type=int, default=DEFAULT_RESIDENTS, help=f"how many (default {DEFAULT_RESIDENTS})"),
        arg("--seed", type=int, default=1, help="the same seed makes the same year (default 1)"),
        arg("--force", action="store_true", help="replace a database that already has residents (its data is lost)"),
        handler=_demo,
    )


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    today = dt.datetime.now(settings.zone).date()
    year = args.year or today.year
    # A year under way is lived up to today, as the reports of an open period stop there too: no row is dated
    # in the future (the ledger refuses those).
    last = min(dt.date(year, 12, 31), today)
    if year < 2000 or (last - dt.date(year, 1, 1)).days < 27:
        raise UsageError(f"--year {year}: give a year already four weeks under way, e.g. --year {today.year - 1}")
    if not 10 <= args.residents <= 5000:
        raise UsageError(f"--residents {args.residents}: between 10 and 5000")
    db: Path = args.db
    if _same_file(db, settings.db_path):
        raise UsageError(
            f"--db {db} is the bot's real database (BOT_DB={settings.db_path}); give the demo a file of its own"
        )
    _make_room(settings, db, args.force)
    return asyncio.run(_fill(settings, db, year, last, args.residents, args.seed))


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return a.samefile(b)
    return a.resolve() == b.resolve()


async def _fill(settings: Settings, db: Path, year: int, last: dt.date, residents: int, seed: int) -> int:
    from bot.content.store import ContentStore
    from bot.reporting.demo import plan_year
    from bot.reporting.statistics import Period, collect

    content = ContentStore.load(settings.content_dir)
    if not content.catalog.topics:
        raise Failure(f"{settings.content_dir} has no topics: the demo's residents would have nothing to read")
    plan = plan_year(content.catalog, year, residents, seed, until=last)
    under_way = "" if last.month == 12 and last.day == 31 else f" (the year is under way: up to today, {last})"
    print(f"demo: {residents} residents living {year} in {db}{under_way}", flush=True)
    started = time.monotonic()
    run = await YearRun.open(settings, db, content, plan, seed)
    try:
        await run.run()
        await run.storage.flush()
        statistics = await collect(run.storage, content.catalog, Period(dt.date(year, 1, 1), last, settings.zone))
    finally:
        await run.close()
    _summary(db, plan, statistics, run, time.monotonic() - started, seed)
    return EXIT_OK


def _make_room(settings: Settings, db: Path, force: bool) -> None:
    """Refuse to fill a database that already has residents, unless --force: then start it afresh."""
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        return
    people = asyncio.run(_residents_in(settings, db))
    if not people:
        return
    if not force:
        raise Failure(f"{db} already has {people} residents; choose a new file, or add --force to replace it")
    beside = [db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
    for path in (db, *beside, *db.parent.glob(f"{db.name}.unwritten-events.*")):
        path.unlink(missing_ok=True)


async def _residents_in(settings: Settings, db: Path) -> int:
    from bot.storage import Storage

    storage = await Storage.open(db, zone_offset=settings.zone_offset)
    try:
        return await storage.stats.new_residents(0, 2**62)
    finally:
        await storage.close()


# -- the year --------------------------------------------------------------------------------------


class SimulatedClock:
    """Unix seconds that the demo moves: to each planned moment, and on by a few seconds per resident's step."""

    def __init__(self, zone: dt.tzinfo, start: dt.datetime) -> None:
        self.zone = zone
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.now, self.zone).date()

    def set(self, moment: float) -> None:
        self.now = moment

    def pause(self, seconds: float) -> None:
        self.now += seconds


Action = Callable[[], Awaitable[None]]


class YearRun:
    """One simulated year: the clock, the core and the broadcast machinery on the demo database, day by day.

    Everything that keeps time is handed the simulated clock: the storage (every row's time), the core (its
    `today`, the quiz times, the flood limit's minute), the publicity calendar and the broadcast worker (unpaced:
    the demo's WeCom only records)."""

    def __init__(
        self,
        settings: Settings,
        content: ContentStore,
        plan: YearPlan,
        seed: int,
        storage: Storage,
        clock: SimulatedClock,
    ) -> None:
        from bot.broadcasting.calendar import CampaignScheduler
        from bot.broadcasting.worker import BroadcastSettings, BroadcastWorker
        from bot.core.demo import DemoWeCom
        from bot.core.engine import Core
        from bot.core.flood import FloodGate

        self.content, self.catalog, self.plan = content, content.catalog, plan
        self.storage, self.clock, self.zone = storage, clock, settings.zone
        self.rng = random.Random(f"visits:{seed}:{plan.year}")
        self.core = Core(storage, content, settings, today=clock.today)
        self.core.quiz.clock = clock
        self.core.quiz.rng = random.Random(f"quiz:{seed}:{plan.year}")
        self.core.flood = FloodGate(settings.flood_limit, clock=clock)
        _reuse_answer_index(self.core.answers)
        self.channel = DemoWeCom()
        unpaced = BroadcastSettings(
            rate=1e9, budget_ceiling=math.inf, per_chat_interval=0, batch_size=1000, backoff=0, lease=3600
        )
        channels = {self.channel.name: self.channel}
        self.worker = BroadcastWorker(storage, content, channels, unpaced, clock=clock)
        self.scheduler = CampaignScheduler(storage, content, self.zone, clock=clock)
        self.visitors: dict[int, Visitor] = {}
        self.queue: list[tuple[float, int, Action]] = []  # (moment, order, what): today's timeline
        self.order = itertools.count()
        self.later: dict[dt.date, list[tuple[int, Action]]] = {}  # (minute, action) planned on a later day
        self.ledger_rows = 0
        self.broadcasts = 0

    @classmethod
    async def open(cls, settings: Settings, db: Path, content: ContentStore, plan: YearPlan, seed: int) -> YearRun:
        from bot.storage import Storage

        zone = settings.zone
        clock = SimulatedClock(zone, dt.datetime(plan.year, 1, 1, tzinfo=zone))
        storage = await Storage.open(db, clock=clock, zone_offset=settings.zone_offset)
        demo_settings = dataclasses.replace(settings, db_path=db, admins=frozenset())
        return cls(demo_settings, content, plan, seed, storage, clock)

    async def close(self) -> None:
        await self.storage.close()

    def at(self, day: dt.date, minute: int, action: Action) -> None:
        moment = dt.datetime.combine(day, dt.time(), self.zone).timestamp() + 60 * minute
        heapq.heappush(self.queue, (moment, next(self.order), action))

    async def run(self) -> None:
        from bot.broadcasting.calendar import occurrences

        plan, first, last = self.plan, dt.date(self.plan.year, 1, 1), self.plan.last
        joins = _by_day((p.joins, i) for i, p in enumerate(plan.residents))
        visits = _by_day((v.day, v) for v in plan.visits)
        ledger = _by_day((dt.date.fromisoformat(e.day), e) for e in plan.ledger)
        pushes = _by_day((p.day, p) for p in plan.pushes)
        campaigns = _by_day((o.day, o) for o in occurrences(self.catalog, first, last, self.zone))
        changes = self._changes()
        day = first
        while day <= last:
            for index in joins.get(day, []):
                self.at(day, _minute(self.rng, plan.residents[index].pupil, day), self._join(index))
            for visit in visits.get(day, []):
                self.at(day, visit.minute, self._visit(visit.resident, visit.kind, visit.topic_id))
            for index, change in changes.get(day, []):
                self.at(day, _minute(self.rng, plan.residents[index].pupil, day), self._change(index, change))
            for occurrence in campaigns.get(day, []):
                self.at(day, occurrence.at.hour * 60 + occurrence.at.minute, self._campaign())
            for push in pushes.get(day, []):
                self.at(day, push.minute, self._push(push.item_id))
            if ledger.get(day):
                self.at(day, 17 * 60 + 30, self._ledger(ledger[day]))
            if day.weekday() == 4:
                self.at(day, 16 * 60, self._office_calls_back())
            for minute, action in self.later.pop(day, []):
                self.at(day, minute, action)
            while self.queue:
                moment, _, action = heapq.heappop(self.queue)
                self.clock.set(moment)
                await action()
            next_day = day + dt.timedelta(days=1)
            if next_day.month != day.month:
                self._progress(day)
            day = next_day

    # -- what happens ----------------------------------------------------------------------------

    def _join(self, index: int) -> Action:
        async def join() -> None:
            from bot.core.demo import Visitor

            person = self.plan.residents[index]
            visitor = Visitor(self.core, person.user_id, person.name, self.rng, self.clock.pause)
            self.visitors[index] = visitor
            await visitor.join(person.arrival, person.place_id, visitor.question_about(person.interests[0]))
            await visitor.read(person.interests[0], self.rng.choice((0, 1, 2)))  # a first look around
            if person.pupil or self.rng.random() < 0.3:
                await visitor.visit("topic_quiz", person.interests[0], person.accuracy)

        return join

    def _visit(self, index: int, kind: str, topic_id: str) -> Action:
        async def visit() -> None:
            visitor = self.visitors.get(index)
            if visitor is not None:
                await visitor.visit(kind, topic_id, self.plan.residents[index].accuracy)

        return visit

    def _changes(self) -> dict[dt.date, list[tuple[int, str]]]:
        found: dict[dt.date, list[tuple[int, str]]] = {}
        for index, person in enumerate(self.plan.residents):
            for day, change in (
                (person.unsubscribes, "unsubscribe"),
                (person.resubscribes, "subscribe"),
                (person.leaves, "leave"),
                (person.asks_office, "office"),
                (person.opts_out[0] if person.opts_out else None, "opt_out"),
            ):
                if day is not None:
                    found.setdefault(day, []).append((index, change))
        return found

    def _change(self, index: int, change: str) -> Action:
        async def act() -> None:
            visitor, person = self.visitors.get(index), self.plan.residents[index]
            if visitor is None:
                return
            if change == "unsubscribe":
                await visitor.unsubscribe()
            elif change == "subscribe":
                await visitor.resubscribe()
            elif change == "leave":
                self.channel.left.add(person.user_id)
            elif change == "opt_out" and person.opts_out:
                await visitor.opt_out(person.opts_out[1])
            elif change == "office" and (question := visitor.dispute()):
                await visitor.ask_office(question)

        return act

    def _campaign(self) -> Action:
        async def campaign() -> None:
            await self.scheduler.tick()
            await self._send_due(follow=0.12)

        return campaign

    def _push(self, item_id: str) -> Action:
        async def push() -> None:
            from bot.core import broadcast_requests as requests
            from bot.storage import Audience

            now = int(self.clock())
            draft = requests.Draft(item_id, None, Audience())
            await requests.create(self.storage, self.catalog, draft, "demo", now, now)
            await self._send_due(follow=0.06)

        return push

    async def _send_due(self, follow: float) -> None:
        """Send what is due through the worker; some recipients open the topic under it later that day."""
        by_user = {p.user_id: i for i, p in enumerate(self.plan.residents)}
        while await self.worker.run_once():
            self.broadcasts += 1
            day, minute = self.clock.today(), _minute_of(self.clock(), self.zone)
            for user_id in self.channel.recipients:
                index = by_user[user_id]
                if self.rng.random() < follow and index in self.visitors:
                    later = min(23 * 60 + 30, minute + self.rng.randint(2, 8 * 60))
                    self.at(day, later, self._read_broadcast(index))

    def _read_broadcast(self, index: int) -> Action:
        async def read() -> None:
            visitor = self.visitors[index]
            await visitor.read_broadcast(self.channel.inbox.get(visitor.user_id, ()), self.rng.choice((0, 1, 2)))

        return read

    def _ledger(self, entries: list[LedgerEntry]) -> Action:
        async def record() -> None:
            await self.storage.ledger.add(entries, "demo", int(self.clock()))
            self.ledger_rows += len(entries)
            for entry in entries:
                place = self.catalog.place(entry.place_id) if entry.place_id else None
                if entry.type == "进校园" and place is not None and entry.topic_id:
                    self._assign_quiz(place.id, entry.topic_id)

        return record

    def _assign_quiz(self, school: str, topic_id: str) -> None:
        """After 进校园 the teachers ask the pupils to take the topic's quiz within a week; most do."""
        today = self.clock.today()
        for index, person in enumerate(self.plan.residents):
            if person.place_id == school and index in self.visitors and self.rng.random() < 0.6:
                day = today + dt.timedelta(days=self.rng.randint(1, 7))
                if day.year == today.year:
                    action = self._visit(index, "topic_quiz", topic_id)
                    self.later.setdefault(day, []).append((_minute(self.rng, True, day), action))

    def _office_calls_back(self) -> Action:
        async def calls() -> None:
            for request in await self.storage.requests.listing():
                if request.status == "open" and request.created_at < self.clock() - 2 * 86400:
                    await self.storage.requests.mark_done(request.id, "demo")

        return calls

    def _progress(self, day: dt.date) -> None:
        steps = sum(v.steps for v in self.visitors.values())
        print(
            f"{day:%Y-%m}  residents {len(self.visitors):>5}  steps {steps:>7}  broadcasts {self.broadcasts:>3}"
            f"  ledger rows {self.ledger_rows:>3}",
            flush=True,
        )


def _reuse_answer_index(answers: AnswerFlow) -> None:
    """The answer flow builds its search index once a day (1–2 s), which a real bot does not notice; a simulated
    year of 365 days in a minute would spend ten minutes on it. The index depends only on the tips served that
    day, so the demo builds it again only when they change."""
    build = answers.index
    built: dict[tuple[int, frozenset[str]], TipIndex] = {}

    def index(catalog: Catalog, today: dt.date) -> TipIndex:
        key = (id(catalog), frozenset(tip.id for tip in catalog.all_tips() if tip.is_served_on(today)))
        if key not in built:
            built[key] = build(catalog, today)
        return built[key]

    answers.index = index  # type: ignore[method-assign]


def _by_day(pairs: Iterable[tuple[dt.date, T]]) -> dict[dt.date, list[T]]:
    found: dict[dt.date, list[T]] = {}
    for day, value in pairs:
        found.setdefault(day, []).append(value)
    return found


def _minute(rng: random.Random, pupil: bool, day: dt.date) -> int:
    from bot.reporting.demo import visit_minute

    return visit_minute(day, pupil, rng)


def _minute_of(moment: float, zone: dt.tzinfo) -> int:
    local = dt.datetime.fromtimestamp(moment, zone)
    return local.hour * 60 + local.minute


# -- the summary -----------------------------------------------------------------------------------


def _summary(db: Path, plan: YearPlan, statistics: Statistics, run: YearRun, seconds: float, seed: int) -> None:
    year, last = plan.year, plan.last
    placed = sum(1 for p in plan.residents if p.place_id)
    places = len({p.place_id for p in plan.residents if p.place_id})
    quiz, reach, b = statistics.quiz, statistics.reach, statistics.broadcasts
    accuracy = f"{100 * quiz.accuracy:.1f}%" if quiz.accuracy is not None else "—"
    lines = [
        "",
        f"demo year {year} in {db} (seed {seed}, {seconds:.1f} s)",
        f"  居民 residents      {statistics.new_residents:>7}  ({placed} in {places} places, "
        f"{len(plan.residents) - placed} without a place)",
        f"  推送 deliveries     {reach.deliveries:>7}  to {reach.reached} residents",
        f"  答题 quiz answers   {quiz.answers:>7}  by {quiz.participants} residents, {accuracy} right; "
        f"{quiz.quizzes_finished} of {quiz.quizzes_started} quizzes finished",
        f"  群发 broadcasts     {b.count:>7}  ({statistics.campaign_pushes} on campaign days), "
        f"{b.delivered} delivered, {b.blocked} blocked",
        f"  台账 ledger rows    {run.ledger_rows:>7}  ({statistics.offline_activities} activities)",
        f"  诉求 requests       {statistics.requests.made:>7}  ({statistics.requests.done} done)",
        "",
        "Try the reports on it:",
        f"  BOT_DB={db} python -m bot stats --from {year}-01-01 --to {last}",
        f"  BOT_DB={db} python -m bot report --year {year}",
        f"  BOT_DB={db} python -m bot export --from {year}-01-01 --to {last} --out demo-{year}.xlsx",
        f"  BOT_DB={db} python -m bot chart --out demo-charts --from {year}-01-01 --to {last}",
    ]
    print("\n".join(lines))
