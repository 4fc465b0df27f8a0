"""The plan of a demo year (`python -m bot demo`): who lives where, who does what on which day, and the offline
activities of the ledger — a pure function of the catalog, the year, a size and a seed.

Nothing here writes anything: `bot/commands/demo.py` carries the plan out through the real core, the real
broadcast worker and the ledger store, so the demo database holds exactly what a real year would.
The figures are made up but kept plausible: a share of each village's population and of each school's pupils,
joining after the office's activities there, reading more on campaign days, answering 55–95 % right.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.content.model import Campaign, Catalog, Place, PlaceKind
from bot.storage import LedgerEntry

Kind = Literal["read", "daily_tip", "daily_quiz", "topic_quiz", "review", "ask", "rank"]
Arrival = Literal["qr", "picker", "question", "skip"]

_KINDS: tuple[Kind, ...] = ("read", "daily_tip", "daily_quiz", "topic_quiz", "review", "ask", "rank")
_ADULT_WEIGHTS = (34, 16, 16, 18, 4, 10, 2)
_PUPIL_WEIGHTS = (24, 10, 20, 36, 6, 2, 2)
# How busy each month is: the Spring Festival and the National Day holidays are quiet, December (宪法日) is not.
_MONTH_FACTOR = (0.8, 0.6, 1.0, 1.0, 0.9, 1.0, 1.1, 1.1, 1.0, 0.8, 1.0, 1.2)
_LEVELS = ((0.15, 0.07), (0.45, 0.025), (0.40, 0.01))  # (share of residents, chance of a visit on a day)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华红玉梅建国秀珍志宏海波俊峰燕萍鹏飞欣怡子涵浩宇梓轩雨"
_SIGN_UP_AT = ("进村宣传", "法治讲座", "进校园")  # activities held in one place, after which people there sign up


@dataclass(frozen=True)
class Persona:
    """One simulated resident, decided up front."""

    user_id: str  # their WeCom UserID in the demo: demo-0001, …
    name: str
    place_id: str | None  # None: never says where they live
    pupil: bool
    joins: dt.date
    arrival: Arrival  # a village's QR code, the place picker, a first question, or skipping the picker
    accuracy: float  # chance of answering a quiz question right
    interests: tuple[str, ...]  # topic ids, most interesting first
    unsubscribes: dt.date | None = None
    resubscribes: dt.date | None = None
    leaves: dt.date | None = None  # leaves WeCom: broadcasts to them come back "blocked"
    opts_out: tuple[dt.date, str] | None = None  # stops one topic's reminders on that day
    asks_office: dt.date | None = None  # brings a dispute the tips do not cover, asks the office to call


@dataclass(frozen=True)
class Visit:
    day: dt.date
    minute: int  # of the day, town time
    resident: int  # index into YearPlan.residents
    kind: Kind
    topic_id: str


@dataclass(frozen=True)
class OfficePush:
    """The office's own broadcast of a tip to everyone, sent like `python -m bot broadcast send`."""

    day: dt.date
    minute: int
    item_id: str


@dataclass(frozen=True)
class YearPlan:
    year: int
    last: dt.date  # the last day planned: 31 December, or today in a year still under way
    residents: tuple[Persona, ...]
    visits: tuple[Visit, ...]  # in time order
    ledger: tuple[LedgerEntry, ...]  # in day order
    pushes: tuple[OfficePush, ...]


def plan_year(catalog: Catalog, year: int, residents: int, seed: int, until: dt.date | None = None) -> YearPlan:
    """The year from 1 January to `until` (default 31 December): a year still under way is planned up to today."""
    rng = random.Random(f"demo:{seed}:{year}")
    first, last = dt.date(year, 1, 1), min(until or dt.date(year, 12, 31), dt.date(year, 12, 31))
    campaign_days: dict[dt.date, list[Campaign]] = {}
    for campaign in catalog.campaigns:
        for day in campaign.rule.dates(first, last):
            campaign_days.setdefault(day, []).append(campaign)
    ledger = [e for e in _ledger(catalog, year, campaign_days, rng) if e.day <= last.isoformat()]
    people = _residents(catalog, last, residents, ledger, rng)
    visits = _visits(catalog, people, last, rng)
    return YearPlan(
        year=year,
        last=last,
        residents=tuple(people),
        visits=tuple(visits),
        ledger=tuple(sorted(ledger, key=lambda e: e.day)),
        pushes=tuple(p for p in _pushes(catalog, year, rng) if p.day <= last),
    )


# -- residents ---------------------------------------------------------------------------------------


def shares(places: Sequence[Place], count: int, rng: random.Random) -> dict[str | None, int]:
    """How many of `count` demo residents live in each place (at least two each); about 6 % name no place.

    Villages and communities by population, schools by enrolment weighted up (the schools send their pupils, and
    a class signs up at once), each place a little more or less keen than the next; a place without a figure
    weighs like half an average village.
    """
    known = [p.population for p in places if p.kind is not PlaceKind.SCHOOL and p.population]
    fallback = (sum(known) / len(known) / 2) if known else 500.0
    weights = {
        p.id: rng.uniform(0.7, 1.3)
        * (4.0 * (p.enrolment or fallback) if p.kind is PlaceKind.SCHOOL else float(p.population or fallback))
        for p in places
    }
    minimum = 2 if count >= 4 * len(places) else 1 if count >= len(places) else 0
    placed = min(count, max(minimum * len(places), round(count * 0.94)))
    total = sum(weights.values()) or 1.0
    exact = {pid: placed * w / total for pid, w in weights.items()}
    result: dict[str | None, int] = {pid: max(minimum, int(x)) for pid, x in exact.items()}
    by_remainder = sorted(exact, key=lambda pid: exact[pid] - int(exact[pid]), reverse=True)
    for pid in itertools.islice(itertools.cycle(by_remainder), max(0, placed - sum(result.values()))):
        result[pid] += 1
    while sum(result.values()) > placed:  # the minimum pushed some small places up: take from the largest
        largest = max(exact, key=lambda pid: result[pid])
        result[largest] -= 1
    result[None] = max(0, count - sum(result.values()))
    return result


def _residents(
    catalog: Catalog, last: dt.date, count: int, ledger: list[LedgerEntry], rng: random.Random
) -> list[Persona]:
    topics = [t.id for t in catalog.topics]
    activities: dict[str, list[dt.date]] = {}
    for entry in ledger:
        if entry.place_id and entry.type in _SIGN_UP_AT:
            activities.setdefault(entry.place_id, []).append(dt.date.fromisoformat(entry.day))
    people: list[Persona] = []
    for place_id, n in shares(catalog.places, count, rng).items():
        place = catalog.place(place_id) if place_id else None
        pupil = place is not None and place.kind is PlaceKind.SCHOOL
        for _ in range(n):
            joins = _join_day(last, activities.get(place_id or "", []), rng)
            people.append(_persona(len(people) + 1, place_id, pupil, joins, topics, last, rng))
    people.sort(key=lambda p: (p.joins, p.user_id))
    return people


def _join_day(last: dt.date, activities: list[dt.date], rng: random.Random) -> dt.date:
    """Most sign up at an activity of the office in their village or school, many at the launch in January."""
    roll, launch = rng.random(), dt.date(last.year, 1, 5)
    if activities and roll < 0.6:
        day = rng.choice(activities) + dt.timedelta(days=rng.choice((0, 0, 0, 1, 2, 3)))
    elif roll < 0.75:
        day = launch + dt.timedelta(days=rng.randrange(50))
    else:
        day = dt.date(last.year, 3, 1) + dt.timedelta(days=rng.randrange(290))
    if day > last:  # the year is not that far yet
        day = launch + dt.timedelta(days=rng.randrange(max(1, (last - launch).days + 1)))
    return min(day, last)


def _persona(
    number: int,
    place_id: str | None,
    pupil: bool,
    joins: dt.date,
    topics: list[str],
    year_end: dt.date,
    rng: random.Random,
) -> Persona:
    favoured = ("drowning", "minors", "anti-drug", "constitution") if pupil else ("anti-fraud", "constitution")
    pool = sorted(topics, key=lambda t: (t not in favoured, rng.random()))
    interests = tuple(pool[: rng.choice((2, 3, 3, 4))])
    if place_id is None:
        arrival: Arrival = rng.choice(("skip", "question"))
    else:
        arrival = rng.choices(("qr", "picker", "question"), (55, 30, 15))[0]
    accuracy = min(0.97, max(0.45, rng.gauss(0.82 if pupil else 0.74, 0.09)))

    def later(low: int, high: int) -> dt.date | None:
        day = joins + dt.timedelta(days=rng.randint(low, high))
        return day if day <= year_end else None

    unsubscribes = later(14, 200) if rng.random() < 0.07 else None
    resubscribes = None
    if unsubscribes is not None and rng.random() < 0.25:
        resubscribes = unsubscribes + dt.timedelta(days=rng.randint(10, 60))
        resubscribes = resubscribes if resubscribes <= year_end else None
    others = [t for t in topics if t not in interests]
    opt_out_day = later(1, 30) if others and rng.random() < 0.05 else None
    return Persona(
        user_id=f"demo-{number:04d}",
        name=rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2)))),
        place_id=place_id,
        pupil=pupil,
        joins=joins,
        arrival=arrival,
        accuracy=round(accuracy, 2),
        interests=interests,
        unsubscribes=unsubscribes,
        resubscribes=resubscribes,
        leaves=later(30, 300) if rng.random() < 0.02 else None,
        opts_out=(opt_out_day, rng.choice(others)) if opt_out_day else None,
        asks_office=later(3, 250) if not pupil and rng.random() < 0.04 else None,
    )


# -- visits ------------------------------------------------------------------------------------------


def _visits(catalog: Catalog, people: list[Persona], last: dt.date, rng: random.Random) -> list[Visit]:
    """Ordinary days: each resident comes back now and then, at the hours people have time."""
    visits = []
    for index, person in enumerate(people):
        chance = rng.choices([level for _, level in _LEVELS], [share for share, _ in _LEVELS])[0]
        day = person.joins + dt.timedelta(days=1)
        while day <= last:
            factor = _MONTH_FACTOR[day.month - 1] * (0.7 if person.pupil and day.month in (7, 8) else 1.0)
            if person.unsubscribes and person.unsubscribes <= day and not person.resubscribes:
                factor *= 0.3  # still opens the menu now and then, far less often
            if rng.random() < chance * factor:
                weights = _PUPIL_WEIGHTS if person.pupil else _ADULT_WEIGHTS
                kind = rng.choices(_KINDS, weights)[0]
                topic = rng.choice(person.interests) if rng.random() < 0.8 else rng.choice(catalog.topics).id
                visits.append(Visit(day, visit_minute(day, person.pupil, rng), index, kind, topic))
            day += dt.timedelta(days=1)
    return sorted(visits, key=lambda v: (v.day, v.minute, v.resident))


def visit_minute(day: dt.date, pupil: bool, rng: random.Random) -> int:
    """When in the day a resident looks at the bot: lunch and evenings mostly; pupils after school on weekdays."""
    if pupil and day.weekday() < 5 and day.month not in (7, 8):
        return rng.randint(16 * 60 + 40, 21 * 60 + 30)
    hour = rng.choices(
        (7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21), (2, 3, 3, 3, 3, 7, 5, 2, 2, 2, 3, 4, 8, 9, 5)
    )
    return hour[0] * 60 + rng.randrange(60)


# -- the ledger and the office's pushes -----------------------------------------------------------------


def _ledger(
    catalog: Catalog, year: int, campaign_days: dict[dt.date, list[Campaign]], rng: random.Random
) -> list[LedgerEntry]:
    """The office's offline year: every village visited a few times, lectures, the village loudspeakers monthly,
    leaflets, and on each campaign day leaflets and banners, or the schools it is meant for."""
    villages = [p for p in catalog.places if p.kind is not PlaceKind.SCHOOL]
    schools = [p for p in catalog.places if p.kind is PlaceKind.SCHOOL]
    seasons = [(day, topic) for day, cs in campaign_days.items() for c in cs if (topic := _campaign_topic(catalog, c))]
    entries: list[LedgerEntry] = []

    def add(day: dt.date, kind: str, count: int, place: Place | None, topic: str | None, note: str = "") -> None:
        place_id = place.id if place else None
        entries.append(
            LedgerEntry(day=day.isoformat(), type=kind, count=count, place_id=place_id, topic_id=topic, note=note)
        )

    def working_day(month: int, low: int = 2, high: int = 28) -> dt.date:
        day = dt.date(year, month, rng.randint(low, high))
        return day if day.weekday() < 5 else day - dt.timedelta(days=day.weekday() - 4)

    def topic_on(day: dt.date) -> str | None:
        """What to talk about: mostly the topic of a campaign near that day (drowning in summer), else any."""
        near = [topic for when, topic in seasons if abs((when - day).days) <= 45]
        if near and rng.random() < 0.7:
            return rng.choice(near)
        return rng.choice(catalog.topics).id if catalog.topics else None

    for village in villages:  # 进村宣传 three to five times a year, a share of the village each time
        cap = max(30, min(180, int((village.population or 1000) * 0.08)))
        for month in rng.sample(range(1, 13), rng.randint(3, 5)):
            day = working_day(month)
            add(day, "进村宣传", rng.randint(max(20, cap // 3), cap), village, topic_on(day))
    for month in rng.sample(range(2, 12), 6) if villages else ():  # 法治讲座 in a village hall
        day = working_day(month)
        add(day, "法治讲座", rng.randint(30, 90), rng.choice(villages), topic_on(day))
    for month in range(1, 13):  # 村村响: a programme twice a week, one row a month
        day = working_day(month, 2, 8)
        add(day, "村村响广播", rng.randint(8, 10), None, topic_on(day))
    for month in rng.sample(range(1, 13), 4) if villages else ():
        add(working_day(month), "发放资料", rng.randint(150, 400), rng.choice(villages), None)
    handled: set[str] = set()
    for day, campaigns in sorted(campaign_days.items()):
        for campaign in campaigns:
            if campaign.id in handled:  # a weekly reminder is one campaign: its activities go with the first week
                continue
            handled.add(campaign.id)
            topic = _campaign_topic(catalog, campaign)
            add(day, "发放资料", rng.randint(300, 800), None, topic, campaign.name)
            targets = [s for s in schools if f"place:{s.id}" in campaign.audience]
            if not targets:
                add(day, "悬挂横幅", rng.randint(6, 15), None, topic, campaign.name)
                targets = [rng.choice(schools)] if schools and rng.random() < 0.6 else []
            for school in targets:
                add(day, "进校园", _pupils(school, rng), school, topic, campaign.name)
    summer = {topic for day, topic in seasons if day.month in (7, 8)}
    for topic in sorted(summer):  # before the summer holidays, in every school: 防溺水
        for school in schools:
            add(dt.date(year, 6, rng.randint(22, 28)), "进校园", _pupils(school, rng), school, topic)
    return entries


def _pupils(school: Place, rng: random.Random) -> int:
    return int((school.enrolment or 200) * rng.uniform(0.6, 0.95))


def _campaign_topic(catalog: Catalog, campaign: Campaign) -> str | None:
    if campaign.topic_id:
        return campaign.topic_id
    tip = catalog.tip(campaign.item_id) if campaign.item_id else None
    return tip.topic_id if tip else None


def _pushes(catalog: Catalog, year: int, rng: random.Random) -> list[OfficePush]:
    """Once a month, around the tenth, the office sends one tip to everyone."""
    tips = [tip for topic in catalog.topics for tip in topic.tips]
    pushes = []
    for month in range(1, 13):
        day = dt.date(year, month, rng.randint(8, 14))
        served = [tip for tip in tips if tip.is_served_on(day)]
        if served:
            pushes.append(OfficePush(day, 10 * 60 + rng.randrange(0, 60, 15), rng.choice(served).id))
    return pushes
