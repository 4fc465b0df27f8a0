"""The figures of a period, as frozen values: what `statistics.collect` returns and every formatter reads.

Rates (accuracy, completion, coverage, education rate) are derived from the counts they divide, so they can
never disagree with them. `Statistics.as_dict()` is the one place the JSON shape of `stats --json` is defined.
The end of the module says how keys, periods and rates read in Chinese, for every formatter alike.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from bot.content.model import Catalog, PlaceKind, Township

Dimension = Literal["topic", "place", "channel", "month"]
DIMENSIONS: tuple[Dimension, ...] = ("topic", "place", "channel", "month")


def share(part: int, whole: int | None) -> float | None:
    """part ÷ whole to four places; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date  # included
    zone: dt.tzinfo

    @property
    def start(self) -> int:
        return int(dt.datetime.combine(self.first, dt.time(), self.zone).timestamp())

    @property
    def end(self) -> int:
        return int(dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), self.zone).timestamp())

    @property
    def offset(self) -> int:
        moment = dt.datetime.combine(self.first, dt.time(), self.zone)
        return int((moment.utcoffset() or dt.timedelta()).total_seconds())


@dataclass(frozen=True)
class Reach:
    deliveries: int  # 推送人次
    reached: int  # 覆盖人数: distinct residents

    def as_dict(self) -> dict[str, int]:
        return {"deliveries": self.deliveries, "reached": self.reached}


NO_REACH = Reach(0, 0)


@dataclass(frozen=True)
class Accuracy:
    answers: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return share(self.correct, self.answers)

    def as_dict(self) -> dict[str, Any]:
        return {"answers": self.answers, "correct": self.correct, "accuracy": self.accuracy}


@dataclass(frozen=True)
class QuizFigures:
    answers: int
    correct: int
    participants: int
    quizzes_started: int
    quizzes_finished: int  # among those started in the period

    @property
    def accuracy(self) -> float | None:
        return share(self.correct, self.answers)

    @property
    def completion(self) -> float | None:
        return share(self.quizzes_finished, self.quizzes_started)

    def as_dict(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "correct": self.correct,
            "participants": self.participants,
            "accuracy": self.accuracy,
            "quizzes_started": self.quizzes_started,
            "quizzes_finished": self.quizzes_finished,
            "completion": self.completion,
        }


@dataclass(frozen=True)
class QuestionAccuracy:
    id: str
    topic: str | None  # None when the question is no longer in the content
    question: str
    answers: int
    correct: int
    by_place: Mapping[str, Accuracy]  # place id or 'unknown'

    @property
    def accuracy(self) -> float | None:
        return share(self.correct, self.answers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "topic": self.topic,
            "question": self.question,
            "answers": self.answers,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "by_place": {place: figures.as_dict() for place, figures in self.by_place.items()},
        }


@dataclass(frozen=True)
class BroadcastFigures:
    """Broadcasts that started sending in the period, and their recipients by outcome."""

    count: int = 0
    targeted: int = 0
    delivered: int = 0
    blocked: int = 0
    failed: int = 0
    cancelled: int = 0
    pending: int = 0
    out_of_window: int = 0  # 微信客服 residents whose 48-hour window was closed: never counted as delivered

    def as_dict(self) -> dict[str, int]:
        return {
            "count": self.count,
            "targeted": self.targeted,
            "delivered": self.delivered,
            "blocked": self.blocked,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "pending": self.pending,
            "out_of_window": self.out_of_window,
        }


@dataclass(frozen=True)
class PlaceCoverage:
    """Reach of one place against its population (villages, communities) or enrolment (schools)."""

    place: str
    name: str
    kind: PlaceKind
    reached: int
    population: int | None = None  # not a school
    enrolment: int | None = None  # a school
    students_completed_quiz: int = 0  # a school

    @property
    def is_school(self) -> bool:
        return self.kind is PlaceKind.SCHOOL

    @property
    def coverage_rate(self) -> float | None:
        return None if self.is_school else share(self.reached, self.population)

    @property
    def education_rate(self) -> float | None:
        """受教育面: pupils reached ÷ enrolment (the term official reports use for a school)."""
        return share(self.reached, self.enrolment) if self.is_school else None

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"place": self.place, "name": self.name, "kind": self.kind.value, "reached": self.reached}
        if self.is_school:
            row.update(
                enrolment=self.enrolment,
                students_completed_quiz=self.students_completed_quiz,
                education_rate=self.education_rate,
            )
        else:
            row.update(population=self.population, coverage_rate=self.coverage_rate)
        return row


@dataclass(frozen=True)
class OfflineActivity:
    """One type of ledger (台账) activity in the period."""

    kind: str  # 进村宣传, 发放资料, …
    activities: int  # ledger rows
    count: int  # attendees, leaflets, banners or plays, in `unit`
    unit: str

    def as_dict(self) -> dict[str, Any]:
        return {"activities": self.activities, "count": self.count, "unit": self.unit}


@dataclass(frozen=True)
class CampaignPush:
    """A calendar campaign's broadcast (国家宪法日 …) that reached someone in the period."""

    broadcast: int  # its id
    campaign: str  # campaign id in content/campaigns.yaml
    delivered: int


@dataclass(frozen=True)
class RequestFigures:
    """Legal-service requests (群众诉求): residents who asked the judicial office to contact them."""

    made: int
    done: int

    def as_dict(self) -> dict[str, int]:
        return {"made": self.made, "done": self.done, "open": self.made - self.done}


@dataclass(frozen=True)
class TownshipFigures:
    """One township of a county deployment (places.yaml's `townships:`): the figures of its places.

    `reached` counts each resident once across the township's places; `covered` and `pupils` add up the places'
    own `reached`, over the villages and communities with a population and the schools with an enrolment, as
    the by-place sheet's 合计 row does, so the rates are the ones that row gives for the township alone."""

    township: str  # its id
    name: str
    deliveries: int
    reached: int
    covered: int  # residents reached at its villages and communities that have a population
    population: int | None  # their population; None when none of its places has one
    pupils: int  # pupils reached at its schools that have an enrolment
    enrolment: int | None
    quiz_answers: int
    requests: int  # legal-service requests made at its places
    activities: int  # ledger rows at its places

    @property
    def coverage_rate(self) -> float | None:
        return share(self.covered, self.population)

    @property
    def education_rate(self) -> float | None:
        return share(self.pupils, self.enrolment)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "deliveries": self.deliveries,
            "reached": self.reached,
            "covered": self.covered,
            "population": self.population,
            "coverage_rate": self.coverage_rate,
            "pupils": self.pupils,
            "enrolment": self.enrolment,
            "education_rate": self.education_rate,
            "quiz_answers": self.quiz_answers,
            "requests": self.requests,
            "activities": self.activities,
        }


@dataclass(frozen=True)
class Statistics:
    period: Period
    reach: Reach
    by: Mapping[Dimension, Mapping[str, Reach]]  # dimension -> topic/place/channel/month id -> reach
    quiz: QuizFigures
    questions: tuple[QuestionAccuracy, ...]  # worst accuracy first
    broadcasts: BroadcastFigures
    campaign_pushes: int  # campaign broadcasts delivered to someone
    coverage: tuple[PlaceCoverage, ...]  # in content order
    new_residents: int
    offline: tuple[OfflineActivity, ...] = ()
    requests: RequestFigures = field(default_factory=lambda: RequestFigures(0, 0))
    campaigns: tuple[CampaignPush, ...] = ()  # the campaign pushes counted in `campaign_pushes`
    # The township these figures are of (`collect(..., township=)`); None: the whole deployment.
    township: Township | None = None
    # A county's figures by township, in places.yaml's order: only for the whole of a multi-township deployment.
    by_township: tuple[TownshipFigures, ...] = ()

    @property
    def offline_activities(self) -> int:
        return sum(activity.activities for activity in self.offline)

    @property
    def schools_with_enrolment(self) -> tuple[PlaceCoverage, ...]:
        return tuple(row for row in self.coverage if row.is_school and row.enrolment)

    @property
    def school_education_rate(self) -> float | None:
        """在校生受教育面: pupils reached ÷ enrolment, over the schools whose enrolment is known."""
        schools = self.schools_with_enrolment
        return share(sum(row.reached for row in schools), sum(row.enrolment or 0 for row in schools))

    def as_dict(self) -> dict[str, Any]:
        """Exactly what `python -m bot stats --json` prints (docs/statistics.md): with `township` when these are
        one township's figures, with `by_township` when they are a multi-township county's."""
        scope: dict[str, Any] = {"township": self.township.id} if self.township is not None else {}
        return {
            **scope,
            "from": self.period.first.isoformat(),
            "to": self.period.last.isoformat(),
            "deliveries": self.reach.deliveries,
            "reached": self.reach.reached,
            **{
                f"by_{dimension}": {key: reach.as_dict() for key, reach in values.items()}
                for dimension, values in self.by.items()
            },
            "quiz": self.quiz.as_dict(),
            "broadcasts": self.broadcasts.as_dict(),
            "campaign_pushes": self.campaign_pushes,
            "by_campaign": _count_by(push.campaign for push in self.campaigns),
            "coverage": [row.as_dict() for row in self.coverage],
            "residents": {"new": self.new_residents, "active": self.reach.reached},
            "offline": {
                "activities": self.offline_activities,
                "by_type": {activity.kind: activity.as_dict() for activity in self.offline},
            },
            "requests": self.requests.as_dict(),
            **({"by_township": {row.township: row.as_dict() for row in self.by_township}} if self.by_township else {}),
        }


def _count_by(keys: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return counts


# -- how keys, periods and rates read (tables, workbook, charts, paragraph) ----------------------------

UNSET_PLACE = "未设置"  # place key 'unknown': the resident had not chosen one
NO_TOPIC = "其他"  # topic key 'other': a broadcast without a topic
PLACE_KINDS = {PlaceKind.VILLAGE: "村", PlaceKind.COMMUNITY: "社区", PlaceKind.SCHOOL: "学校"}
CHANNELS = {"telegram": "Telegram", "wecom": "企业微信", "wecom_kf": "微信客服", "console": "控制台"}
DIMENSION_NAMES: dict[Dimension, str] = {"topic": "专题", "place": "地点", "channel": "渠道", "month": "月份"}
LAST_KEYS = {"unknown", "other"}  # listed last whatever their value: they are what was not set


def key_name(catalog: Catalog, dimension: Dimension, key: str) -> str:
    """The Chinese name of a breakdown key: a topic's title, a place's name, 企业微信, 2026年1月."""
    if dimension == "topic":
        topic = catalog.topic(key)
        return topic.title if topic else NO_TOPIC if key == "other" else key
    if dimension == "place":
        place = catalog.place(key)
        return place.name if place else UNSET_PLACE if key == "unknown" else key
    if dimension == "channel":
        return CHANNELS.get(key, key)
    year, _, month = key.partition("-")
    return f"{year}年{int(month)}月" if month.isdigit() else key


def by_value(items: Mapping[str, Reach]) -> list[tuple[str, Reach]]:
    """Largest first by 人次, then 人; 未设置 and 其他 last."""
    return sorted(items.items(), key=lambda item: (item[0] in LAST_KEYS, -item[1].deliveries, -item[1].reached))


def months_between(first: dt.date, last: dt.date) -> list[str]:
    """Every month ('YYYY-MM') from the one holding `first` to the one holding `last`."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(f"{month:%Y-%m}")
        month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return months


def day_text(day: dt.date, year: bool = True) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if year else f"{day.month}月{day.day}日"


def period_text(period: Period) -> str:
    """2026年1月1日至11月29日; the second year is written only when it differs."""
    last = day_text(period.last, year=period.last.year != period.first.year)
    return day_text(period.first) if period.first == period.last else f"{day_text(period.first)}至{last}"


def percent(rate: float | None) -> str:
    """A rate as reports write it: one decimal at most, — when there is nothing to divide by."""
    if rate is None:
        return "—"
    value = (Decimal(str(rate)) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)  # 四舍五入, not to even
    return f"{value.normalize():f}%"


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal or a spreadsheet: Chinese characters and full-width forms take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def aligned(header: list[str], rows: list[list[str]], gap: int = 2) -> list[str]:
    """Rows as lines: the first column left-aligned, the others right-aligned, by display width."""
    widths = [max(display_width(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - display_width(cell))
            out.append(cell + pad if i == 0 else pad + cell)
        return (" " * gap).join(out).rstrip()

    return [line(header), *(line(row) for row in rows)]
