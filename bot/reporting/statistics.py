"""Reach statistics for a period, as defined in docs/statistics.md, and the annual-report paragraph.

`collect` reads aggregates from storage; everything else here is a pure function of its result, so the
table, the JSON, the spreadsheet and the paragraph all show the same figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.content.model import Catalog, PlaceKind
from bot.reporting.activities import ACTIVITY_TYPES
from bot.storage import Storage
from bot.storage.stats import Span


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


@dataclass
class Statistics:
    period: Period
    deliveries: int
    reached: int
    by: dict[str, dict[str, dict[str, int]]]  # dimension -> id -> {"deliveries", "reached"}
    quiz: dict[str, Any]
    questions: list[dict[str, Any]]  # worst accuracy first
    broadcasts: dict[str, int]
    campaign_pushes: int
    coverage: list[dict[str, Any]]
    new_residents: int
    offline: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.period.first.isoformat(),
            "to": self.period.last.isoformat(),
            "deliveries": self.deliveries,
            "reached": self.reached,
            **{f"by_{dimension}": values for dimension, values in self.by.items()},
            "quiz": self.quiz,
            "broadcasts": self.broadcasts,
            "campaign_pushes": self.campaign_pushes,
            "coverage": self.coverage,
            "residents": {"new": self.new_residents, "active": self.reached},
            "offline": self.offline,
        }


async def collect(storage: Storage, catalog: Catalog, period: Period) -> Statistics:
    stats = storage.stats
    start, end = period.start, period.end
    span = Span.of(period.first, period.last, period.zone)
    totals = await stats.totals(span)
    by = {}
    for dimension in ("topic", "place", "channel", "month"):
        counts = await stats.by(dimension, span, period.offset)
        by[dimension] = {key: {"deliveries": c.deliveries, "reached": c.reached} for key, c in counts.items()}
    answers, correct, participants = await stats.quiz_totals(span)
    started, finished = await stats.quiz_completion(start, end)
    quiz = {
        "answers": answers,
        "correct": correct,
        "participants": participants,
        "accuracy": _share(correct, answers),
        "quizzes_started": started,
        "quizzes_finished": finished,
        "completion": _share(finished, started),
    }
    questions = _questions(catalog, await stats.question_accuracy(span))
    broadcasts = {"count": 0, "targeted": 0, "delivered": 0, "blocked": 0, "failed": 0, "cancelled": 0, "pending": 0}
    campaigns = 0
    for _, campaign_id, targeted, outcomes in await stats.broadcasts(start, end):
        broadcasts["count"] += 1
        broadcasts["targeted"] += targeted
        for status, count in outcomes.items():
            broadcasts[status] = broadcasts.get(status, 0) + count
        campaigns += campaign_id is not None and outcomes.get("delivered", 0) > 0
    finishers = await stats.quiz_finishers_by_place(start, end)
    coverage = _coverage(catalog, by["place"], finishers)
    ledger = await stats.ledger(period.first.isoformat(), period.last.isoformat())
    offline = {
        "activities": sum(n for _, n, _ in ledger),
        "by_type": {
            kind: {"activities": n, "count": total, "unit": ACTIVITY_TYPES.get(kind, "次")} for kind, n, total in ledger
        },
    }
    return Statistics(
        period,
        totals.deliveries,
        totals.reached,
        by,
        quiz,
        questions,
        broadcasts,
        campaigns,
        coverage,
        await stats.new_residents(start, end),
        offline,
    )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _questions(catalog: Catalog, rows: list[tuple[str, str, int, int]]) -> list[dict[str, Any]]:
    """Accuracy per question, worst first, with the places where it is answered worst: what to teach next."""
    per_question: dict[str, dict[str, Any]] = {}
    for question_id, place_id, answers, correct in rows:
        entry = per_question.setdefault(question_id, {"answers": 0, "correct": 0, "by_place": {}})
        entry["answers"] += answers
        entry["correct"] += correct
        entry["by_place"][place_id] = {"answers": answers, "correct": correct, "accuracy": _share(correct, answers)}
    result = []
    for question_id, entry in per_question.items():
        question = catalog.question(question_id)
        result.append(
            {
                "id": question_id,
                "topic": question.topic_id if question else None,
                "question": question.question if question else "(removed from content)",
                "answers": entry["answers"],
                "correct": entry["correct"],
                "accuracy": _share(entry["correct"], entry["answers"]),
                "by_place": entry["by_place"],
            }
        )
    return sorted(result, key=lambda q: (q["accuracy"], -q["answers"], q["id"]))


def _coverage(catalog: Catalog, by_place: dict[str, dict[str, int]], finishers: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    for place in catalog.places:
        reached = by_place.get(place.id, {}).get("reached", 0)
        row: dict[str, Any] = {"place": place.id, "name": place.name, "kind": place.kind.value, "reached": reached}
        if place.kind is PlaceKind.SCHOOL:
            row.update(
                enrolment=place.enrolment,
                students_completed_quiz=finishers.get(place.id, 0),
                education_rate=_share(finishers.get(place.id, 0), place.enrolment or 0),
            )
        else:
            row.update(population=place.population, coverage_rate=_share(reached, place.population or 0))
        rows.append(row)
    return rows


def school_education_rate(statistics: Statistics) -> float | None:
    """在校生受教育面: students who completed a quiz ÷ enrolment, over schools with an enrolment."""
    schools = [row for row in statistics.coverage if row["kind"] == "school" and row.get("enrolment")]
    enrolment = sum(row["enrolment"] for row in schools)
    return _share(sum(row["students_completed_quiz"] for row in schools), enrolment)


def report_paragraph(statistics: Statistics, year: int) -> str:
    """The annual report's paragraph in its own idiom; a figure that is zero or unknown gets no clause."""
    clauses = []
    if statistics.deliveries:
        clauses.append(f"通过普法宣传机器人推送法治知识{statistics.deliveries}人次，覆盖群众{statistics.reached}人")
    quiz = statistics.quiz
    if quiz["answers"]:
        clauses.append(f"组织线上法治知识答题{quiz['answers']}人次，平均正确率{_percent(quiz['accuracy'])}")
    if statistics.campaign_pushes:
        clauses.append(f"利用国家宪法日等宣传节点开展专题推送{statistics.campaign_pushes}次")
    rate = school_education_rate(statistics)
    if rate:
        clauses.append(f"在校生受教育面{_percent(rate)}")
    for kind, entry in statistics.offline.get("by_type", {}).items():
        if entry["count"]:
            clauses.append(_offline_clause(kind, entry["activities"], entry["count"]))
    if not clauses:
        return f"{year}年暂无可报告的普法宣传数据。"
    return "全年" + "；".join(clauses) + "。"


def _offline_clause(kind: str, activities: int, count: int) -> str:
    if kind == "发放资料":
        return f"发放宣传资料{count}份"
    if kind == "悬挂横幅":
        return f"悬挂宣传横幅{count}条"
    if kind == "村村响广播":
        return f"利用村村响广播播放法治节目{count}次"
    if kind in ("进村宣传", "进校园", "法治讲座"):
        return f"开展{kind}{activities}场，受众{count}人次"
    return f"开展其他普法活动{activities}次"


def _percent(share: float | None) -> str:
    if share is None:
        return "—"
    value = round(100 * share, 1)
    return f"{value:g}%"


def format_table(statistics: Statistics, catalog: Catalog, dimensions: list[str]) -> str:
    """The readable table `python -m bot stats` prints."""
    names = {
        "topic": {t.id: t.title for t in catalog.topics} | {"other": "（无专题）"},
        "place": {p.id: p.name for p in catalog.places} | {"unknown": "（未设置）"},
        "channel": {"telegram": "Telegram", "wecom": "企业微信"},
        "month": {},
    }
    titles = {"topic": "专题 topic", "place": "地点 place", "channel": "渠道 channel", "month": "月份 month"}
    period = statistics.period
    lines = [
        f"{period.first} – {period.last}",
        f"推送人次 deliveries {statistics.deliveries}    覆盖人数 reached {statistics.reached}    "
        f"新增居民 new residents {statistics.new_residents}",
    ]
    for dimension in dimensions:
        rows = statistics.by[dimension]
        lines += ["", f"{titles[dimension]:<16}{'人次':>10}{'人数':>10}"]
        for key, counts in rows.items():
            label = names[dimension].get(key, key)
            lines.append(f"{label:<16}{counts['deliveries']:>10}{counts['reached']:>10}")
        if not rows:
            lines.append("（无）")
    quiz = statistics.quiz
    lines += [
        "",
        f"答题 quiz: {quiz['answers']} answers, {quiz['correct']} correct "
        f"({_percent(quiz['accuracy'])}), {quiz['participants']} participants, "
        f"completion {_percent(quiz['completion'])}",
    ]
    b = statistics.broadcasts
    lines.append(
        f"群发 broadcasts: {b['count']} sent to {b['targeted']}: delivered {b['delivered']}, "
        f"blocked {b['blocked']}, failed {b['failed']}"
    )
    offline = statistics.offline
    if offline.get("activities"):
        parts = [f"{kind} {e['activities']}×/{e['count']}{e['unit']}" for kind, e in offline["by_type"].items()]
        lines.append(f"台账 offline: {offline['activities']} activities: " + "; ".join(parts))
    return "\n".join(lines)
