"""Reach statistics for a period, as defined in docs/statistics.md, the `stats` table, and the annual-report
paragraph (written in `bot.reporting.paragraph`, re-exported here).

`collect` reads aggregates from storage into the frozen values of `bot.reporting.figures`; everything else
is a pure function of its result, so the table, the JSON, the workbook, the charts and the paragraph all show
the same figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.content.model import Catalog, PlaceKind
from bot.reporting.activities import unit_of
from bot.reporting.figures import (
    DIMENSION_NAMES,
    DIMENSIONS,
    LAST_KEYS,
    NO_REACH,
    PLACE_KINDS,
    Accuracy,
    BroadcastFigures,
    CampaignPush,
    Dimension,
    OfflineActivity,
    Period,
    PlaceCoverage,
    QuestionAccuracy,
    QuizFigures,
    Reach,
    RequestFigures,
    Statistics,
    TownshipFigures,
    aligned,
    by_value,
    key_name,
    percent,
    period_text,
    share,
)
from bot.reporting.paragraph import explain, report_paragraph, township_lines
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
    "TownshipFigures",
    "aligned",
    "collect",
    "explain",
    "format_table",
    "report_paragraph",
    "school_education_rate",
    "township_places",
]


async def collect(storage: Storage, catalog: Catalog, period: Period, township: str | None = None) -> Statistics:
    """The period's figures: of the whole deployment, or with `township` (a township id of places.yaml) of that
    township's places only — residents without a place are county-level and count for none. A multi-township
    deployment's whole figures also hold `by_township`. Raises ValueError for an unknown township id."""
    scope = None if township is None else catalog.township(township)
    places = None if township is None else township_places(catalog, township)
    stats = storage.stats
    start, end = period.start, period.end
    span = Span.of(period.first, period.last, period.zone)
    totals = await stats.totals(span, places)
    by: dict[Dimension, dict[str, Reach]] = {}
    for dimension in DIMENSIONS:
        counts = await stats.by(dimension, span, period.offset, places)
        by[dimension] = {key: Reach(c.deliveries, c.reached) for key, c in counts.items()}
    answers, correct, participants = await stats.quiz_totals(span, places)
    started, finished = await stats.quiz_completion(start, end, places)
    broadcasts, campaigns = _broadcasts(await stats.broadcasts(start, end, places))
    finishers = await stats.quiz_finishers_by_place(start, end, places)
    ledger = await stats.ledger(period.first.isoformat(), period.last.isoformat(), places)
    questions = _questions(catalog, await stats.question_accuracy(span, places))
    coverage = _coverage(catalog, by["place"], finishers, places)
    by_township: tuple[TownshipFigures, ...] = ()
    if township is None and catalog.multi_township:
        by_township = await _townships(storage, catalog, period, span, by["place"], coverage, questions)
    return Statistics(
        period=period,
        reach=Reach(totals.deliveries, totals.reached),
        by=by,
        quiz=QuizFigures(answers, correct, participants, started, finished),
        questions=questions,
        broadcasts=broadcasts,
        campaign_pushes=len(campaigns),
        campaigns=campaigns,
        coverage=coverage,
        new_residents=await stats.new_residents(start, end, places),
        offline=tuple(OfflineActivity(kind, n, total, unit_of(kind)) for kind, n, total in ledger),
        requests=RequestFigures(*await stats.requests(start, end, places)),
        township=scope,
        by_township=by_township,
    )


def township_places(catalog: Catalog, township: str) -> tuple[str, ...]:
    """The place ids of a township of places.yaml; ValueError, naming the townships there are, for another id."""
    if catalog.township(township) is None:
        known = ", ".join(f"{t.id} ({t.name})" for t in catalog.townships)
        raise ValueError(f"no township {township!r} in places.yaml; the townships are: {known}")
    return tuple(place.id for place in catalog.places_of(township))


async def _townships(
    storage: Storage,
    catalog: Catalog,
    period: Period,
    span: Span,
    by_place: dict[str, Reach],
    coverage: tuple[PlaceCoverage, ...],
    questions: tuple[QuestionAccuracy, ...],
) -> tuple[TownshipFigures, ...]:
    """Each township's row, in places.yaml's order: sums of its places where they add up (deliveries, quiz
    answers, the coverage numerators), one query for all where they do not (residents reached)."""
    stats = storage.stats
    answers: dict[str, int] = {}
    for question in questions:
        for place, figures in question.by_place.items():
            answers[place] = answers.get(place, 0) + figures.answers
    every = [township_places(catalog, township.id) for township in catalog.townships]
    reached = await stats.reached_by_group(span, every)
    rows = []
    for township, places, residents in zip(catalog.townships, every, reached, strict=True):
        mine = set(places)
        villages = [r for r in coverage if r.place in mine and not r.is_school and r.population]
        schools = [r for r in coverage if r.place in mine and r.is_school and r.enrolment]
        requests = await stats.requests(period.start, period.end, places)
        ledger = await stats.ledger(period.first.isoformat(), period.last.isoformat(), places)
        rows.append(
            TownshipFigures(
                township=township.id,
                name=township.name,
                deliveries=sum(by_place.get(place, NO_REACH).deliveries for place in places),
                reached=residents,
                covered=sum(r.reached for r in villages),
                population=sum(r.population or 0 for r in villages) or None,
                pupils=sum(r.reached for r in schools),
                enrolment=sum(r.enrolment or 0 for r in schools) or None,
                quiz_answers=sum(answers.get(place, 0) for place in places),
                requests=requests.made,
                activities=sum(row.activities for row in ledger),
            )
        )
    return tuple(rows)


def _broadcasts(
    rows: Iterable[tuple[int, str | None, int, dict[str, int]]],
) -> tuple[BroadcastFigures, tuple[CampaignPush, ...]]:
    """Sum the broadcasts' outcomes; keep the campaign broadcasts delivered to someone."""
    count = targeted = 0
    outcomes: dict[str, int] = {}
    campaigns = []
    for broadcast_id, campaign_id, broadcast_targeted, broadcast_outcomes in rows:
        count += 1
        targeted += broadcast_targeted
        for status, n in broadcast_outcomes.items():
            outcomes[status] = outcomes.get(status, 0) + n
        delivered = broadcast_outcomes.get("delivered", 0)
        if campaign_id is not None and delivered > 0:
            campaigns.append(CampaignPush(broadcast_id, campaign_id, delivered))
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
    return figures, tuple(campaigns)


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


def _coverage(
    catalog: Catalog, by_place: dict[str, Reach], finishers: dict[str, int], places: Sequence[str] | None = None
) -> tuple[PlaceCoverage, ...]:
    """Every place of the content (of the township, with `places`), in file order, zeros too."""
    chosen = None if places is None else set(places)
    rows = []
    for place in (p for p in catalog.places if chosen is None or p.id in chosen):
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
    """在校生受教育面: pupils reached ÷ enrolment, over the schools whose enrolment is known."""
    return statistics.school_education_rate


def format_table(statistics: Statistics, catalog: Catalog, dimensions: Iterable[Dimension]) -> str:
    """The readable table `python -m bot stats` prints: Chinese labels, columns aligned for CJK widths."""
    period, reach = statistics.period, statistics.reach
    lines = [] if statistics.township is None else [f"乡镇：{statistics.township.name}（{statistics.township.id}）"]
    lines += [
        f"统计期间：{period_text(period)}",
        f"推送人次 {reach.deliveries}    覆盖人数 {reach.reached}    新增居民 {statistics.new_residents}",
    ]
    if statistics.by_township:
        lines += ["", *township_lines(statistics)]
    for dimension in dimensions:
        lines += ["", *_breakdown(statistics, catalog, dimension)]
    quiz, b = statistics.quiz, statistics.broadcasts
    lines += [
        "",
        f"答题：{quiz.answers}人次，答对{quiz.correct}人次（正确率{percent(quiz.accuracy)}），"
        f"答题人数{quiz.participants}人，完成率{percent(quiz.completion)}",
        f"群发：{b.count}次，对象{b.targeted}人：送达{b.delivered}人，拉黑{b.blocked}人，失败{b.failed}人"
        + (f"，微信客服窗口外{b.out_of_window}人（未送达）" if b.out_of_window else ""),
    ]
    if statistics.offline_activities:
        parts = [f"{a.kind}{a.activities}次/{a.count}{a.unit}" for a in statistics.offline]
        lines.append(f"普法台账：{statistics.offline_activities}次活动：" + "；".join(parts))
    if statistics.requests.made:
        lines.append(f"群众法律服务诉求：{statistics.requests.made}件，已办结{statistics.requests.done}件")
    return "\n".join(lines)


def _breakdown(statistics: Statistics, catalog: Catalog, dimension: Dimension) -> list[str]:
    values = statistics.by[dimension]
    if dimension == "place":
        return _places(statistics, catalog)
    total = statistics.reach.deliveries
    header = [DIMENSION_NAMES[dimension], "推送人次", "覆盖人数"] + (["人次占比"] if dimension == "topic" else [])
    items = sorted(values.items()) if dimension == "month" else by_value(values)
    rows = [
        [key_name(catalog, dimension, key), str(v.deliveries), str(v.reached)]
        + ([percent(share(v.deliveries, total))] if dimension == "topic" else [])
        for key, v in items
    ]
    return aligned(header, rows) if rows else [DIMENSION_NAMES[dimension], "（无）"]


def _places(statistics: Statistics, catalog: Catalog) -> list[str]:
    """Every place, zeros too, with its coverage: reached ÷ population, or ÷ enrolment for a school."""
    by_place = statistics.by["place"]
    rows = []
    for row in statistics.coverage:
        whole = row.enrolment if row.is_school else row.population
        rate = row.education_rate if row.is_school else row.coverage_rate
        deliveries = by_place.get(row.place, NO_REACH).deliveries
        kind = PLACE_KINDS[row.kind]
        rows.append([row.name, kind, str(deliveries), str(row.reached), str(whole or "—"), percent(rate)])
    known = {row.place for row in statistics.coverage}
    for key, v in sorted(by_place.items(), key=lambda item: item[0] in LAST_KEYS):
        if key not in known:
            rows.append([key_name(catalog, "place", key), "", str(v.deliveries), str(v.reached), "", ""])
    header = ["地点", "类型", "推送人次", "覆盖人数", "人口/在校生", "覆盖率"]
    return [*aligned(header, rows), "（学校的覆盖率即受教育面：覆盖学生 ÷ 在校生）"]
