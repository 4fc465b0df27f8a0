"""Reach statistics for a period, as defined in docs/statistics.md, and the annual-report paragraph.

`collect` reads aggregates from storage into the frozen values of `bot.reporting.figures`; everything else
here is a pure function of its result, so the table, the JSON, the spreadsheet and the paragraph all show
the same figures.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.content.model import Catalog, PlaceKind
from bot.reporting.activities import unit_of
from bot.reporting.figures import (
    DIMENSIONS,
    NO_REACH,
    Accuracy,
    BroadcastFigures,
    Dimension,
    OfflineActivity,
    Period,
    PlaceCoverage,
    QuestionAccuracy,
    QuizFigures,
    Reach,
    RequestFigures,
    Statistics,
    share,
)
from bot.storage import Storage
from bot.storage.stats import Span

__all__ = [
    "DIMENSIONS",
    "Accuracy",
    "BroadcastFigures",
    "Dimension",
    "OfflineActivity",
    "Period",
    "PlaceCoverage",
    "QuestionAccuracy",
    "QuizFigures",
    "Reach",
    "RequestFigures",
    "Statistics",
    "collect",
    "format_table",
    "report_paragraph",
    "school_education_rate",
]


async def collect(storage: Storage, catalog: Catalog, period: Period) -> Statistics:
    stats = storage.stats
    start, end = period.start, period.end
    span = Span.of(period.first, period.last, period.zone)
    totals = await stats.totals(span)
    by: dict[Dimension, dict[str, Reach]] = {}
    for dimension in DIMENSIONS:
        counts = await stats.by(dimension, span, period.offset)
        by[dimension] = {key: Reach(c.deliveries, c.reached) for key, c in counts.items()}
    answers, correct, participants = await stats.quiz_totals(span)
    started, finished = await stats.quiz_completion(start, end)
    broadcasts, campaign_pushes = _broadcasts(await stats.broadcasts(start, end))
    finishers = await stats.quiz_finishers_by_place(start, end)
    ledger = await stats.ledger(period.first.isoformat(), period.last.isoformat())
    return Statistics(
        period=period,
        reach=Reach(totals.deliveries, totals.reached),
        by=by,
        quiz=QuizFigures(answers, correct, participants, started, finished),
        questions=_questions(catalog, await stats.question_accuracy(span)),
        broadcasts=broadcasts,
        campaign_pushes=campaign_pushes,
        coverage=_coverage(catalog, by["place"], finishers),
        new_residents=await stats.new_residents(start, end),
        offline=tuple(OfflineActivity(kind, n, total, unit_of(kind)) for kind, n, total in ledger),
        requests=RequestFigures(*await stats.requests(start, end)),
    )


def _broadcasts(rows: Iterable[tuple[int, str | None, int, dict[str, int]]]) -> tuple[BroadcastFigures, int]:
    """Sum the broadcasts' outcomes; count the campaign broadcasts delivered to someone."""
    count = targeted = campaign_pushes = 0
    outcomes: dict[str, int] = {}
    for _, campaign_id, broadcast_targeted, broadcast_outcomes in rows:
        count += 1
        targeted += broadcast_targeted
        for status, n in broadcast_outcomes.items():
            outcomes[status] = outcomes.get(status, 0) + n
        campaign_pushes += campaign_id is not None and broadcast_outcomes.get("delivered", 0) > 0
    figures = BroadcastFigures(
        count=count,
        targeted=targeted,
        delivered=outcomes.get("delivered", 0),
        blocked=outcomes.get("blocked", 0),
        failed=outcomes.get("failed", 0),
        cancelled=outcomes.get("cancelled", 0),
        pending=outcomes.get("pending", 0),
        out_of_window=outcomes.get("out_of_window", 0),
    )
    return figures, campaign_pushes


def _questions(catalog: Catalog, rows: Iterable[tuple[str, str, int, int]]) -> tuple[QuestionAccuracy, ...]:
    """Accuracy per question, worst first, with the places where it is answered worst: what to teach next."""
    per_question: dict[str, dict[str, Accuracy]] = {}
    for question_id, place_id, answers, correct in rows:
        per_question.setdefault(question_id, {})[place_id] = Accuracy(answers, correct)
    result = []
    for question_id, by_place in per_question.items():
        question = catalog.question(question_id)
        result.append(
            QuestionAccuracy(
                id=question_id,
                topic=question.topic_id if question else None,
                question=question.question if question else "(removed from content)",
                answers=sum(figures.answers for figures in by_place.values()),
                correct=sum(figures.correct for figures in by_place.values()),
                by_place=by_place,
            )
        )
    return tuple(sorted(result, key=lambda q: (q.accuracy, -q.answers, q.id)))


def _coverage(catalog: Catalog, by_place: dict[str, Reach], finishers: dict[str, int]) -> tuple[PlaceCoverage, ...]:
    rows = []
    for place in catalog.places:
        reached = by_place.get(place.id, NO_REACH).reached
        if place.kind is PlaceKind.SCHOOL:
            row = PlaceCoverage(
                place.id,
                place.name,
                place.kind,
                reached,
                enrolment=place.enrolment,
                students_completed_quiz=finishers.get(place.id, 0),
            )
        else:
            row = PlaceCoverage(place.id, place.name, place.kind, reached, population=place.population)
        rows.append(row)
    return tuple(rows)


def school_education_rate(statistics: Statistics) -> float | None:
    """在校生受教育面: students who completed a quiz ÷ enrolment, over schools with an enrolment."""
    schools = [row for row in statistics.coverage if row.is_school and row.enrolment]
    enrolment = sum(row.enrolment or 0 for row in schools)
    return share(sum(row.students_completed_quiz for row in schools), enrolment)


def report_paragraph(statistics: Statistics, year: int) -> str:
    """The annual report's paragraph in its own idiom; a figure that is zero or unknown gets no clause."""
    clauses = []
    reach, quiz = statistics.reach, statistics.quiz
    if reach.deliveries:
        clauses.append(f"通过普法宣传机器人推送法治知识{reach.deliveries}人次，覆盖群众{reach.reached}人")
    if quiz.answers:
        clauses.append(f"组织线上法治知识答题{quiz.answers}人次，平均正确率{_percent(quiz.accuracy)}")
    if statistics.campaign_pushes:
        clauses.append(f"利用国家宪法日等宣传节点开展专题推送{statistics.campaign_pushes}次")
    rate = school_education_rate(statistics)
    if rate:
        clauses.append(f"在校生受教育面{_percent(rate)}")
    for activity in statistics.offline:
        if activity.count:
            clauses.append(_offline_clause(activity.kind, activity.activities, activity.count))
    if statistics.requests.made:
        clauses.append(f"通过普法宣传机器人受理群众法律服务诉求{statistics.requests.made}件")
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


def _percent(rate: float | None) -> str:
    if rate is None:
        return "—"
    value = round(100 * rate, 1)
    return f"{value:g}%"


def format_table(statistics: Statistics, catalog: Catalog, dimensions: Iterable[Dimension]) -> str:
    """The readable table `python -m bot stats` prints."""
    names: dict[Dimension, dict[str, str]] = {
        "topic": {t.id: t.title for t in catalog.topics} | {"other": "（无专题）"},
        "place": {p.id: p.name for p in catalog.places} | {"unknown": "（未设置）"},
        "channel": {"telegram": "Telegram", "wecom": "企业微信", "wecom_kf": "微信客服", "console": "控制台"},
        "month": {},
    }
    titles: dict[Dimension, str] = {
        "topic": "专题 topic",
        "place": "地点 place",
        "channel": "渠道 channel",
        "month": "月份 month",
    }
    period, reach = statistics.period, statistics.reach
    lines = [
        f"{period.first} – {period.last}",
        f"推送人次 deliveries {reach.deliveries}    覆盖人数 reached {reach.reached}    "
        f"新增居民 new residents {statistics.new_residents}",
    ]
    for dimension in dimensions:
        rows = statistics.by[dimension]
        lines += ["", f"{titles[dimension]:<16}{'人次':>10}{'人数':>10}"]
        for key, counts in rows.items():
            label = names[dimension].get(key, key)
            lines.append(f"{label:<16}{counts.deliveries:>10}{counts.reached:>10}")
        if not rows:
            lines.append("（无）")
    quiz = statistics.quiz
    lines += [
        "",
        f"答题 quiz: {quiz.answers} answers, {quiz.correct} correct "
        f"({_percent(quiz.accuracy)}), {quiz.participants} participants, "
        f"completion {_percent(quiz.completion)}",
    ]
    b = statistics.broadcasts
    lines.append(
        f"群发 broadcasts: {b.count} sent to {b.targeted}: delivered {b.delivered}, "
        f"blocked {b.blocked}, failed {b.failed}"
        + (f", out of the 微信客服 window {b.out_of_window} (not delivered)" if b.out_of_window else "")
    )
    if statistics.offline_activities:
        parts = [f"{a.kind} {a.activities}×/{a.count}{a.unit}" for a in statistics.offline]
        lines.append(f"台账 offline: {statistics.offline_activities} activities: " + "; ".join(parts))
    return "\n".join(lines)
