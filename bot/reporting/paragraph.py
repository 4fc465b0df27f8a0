"""The annual-report paragraph, in the idiom of a 法治政府建设报告, and where each of its numbers comes from.

The paragraph is a list of clauses; each clause carries, beside its text, the sources of its numbers: the
query (tables, filter, the storage method that ran it) and, where there are few, the rows themselves. So
`report` and `report --explain` cannot disagree: both are read off the same clauses.

Its subject is 「我镇」: one town's deployment, or one township's figures of a county's (`collect(..., township=)`);
the whole of a multi-township county is 「全县」, and its report adds a table by township (`township_table`). The
words come from the `report` section of the message catalog.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bot.content.model import Catalog
from bot.i18n import DEFAULT_LANGUAGE, translator
from bot.reporting.activities import ACTIVITY_TYPES
from bot.reporting.figures import (
    CHANNELS,
    UNSET_PLACE,
    Period,
    Statistics,
    aligned,
    by_value,
    day_text,
    key_name,
    percent,
    period_text,
)
from bot.storage.ledger import LedgerEntry
from bot.storage.requests import HelpRequest

NAMED_TOPICS = 3  # 围绕A、B、C等主题
NAMED_CAMPAIGNS = 3
ATTENDED = tuple(kind for kind, unit in ACTIVITY_TYPES.items() if unit == "人次")  # 进村宣传, 进校园, 法治讲座
QUANTITY_CLAUSES = {  # ledger types counted in things, not people: how the report says them
    "发放资料": "发放宣传资料{count}份",
    "悬挂横幅": "悬挂宣传横幅{count}条",
    "村村响广播": "利用村村响广播播放法治节目{count}次",
}
NOT_CONSOLE = "控制台（python -m bot chat）的试用不计"


@dataclass(frozen=True)
class Source:
    """Where one number of the paragraph comes from."""

    figure: str  # as the paragraph says it: 推送法治知识11人次
    origin: str  # the query: what is counted, in which table, by which storage method
    rows: tuple[str, ...] = ()  # the rows counted, or the parts that add up to the number


@dataclass(frozen=True)
class Clause:
    text: str
    sources: tuple[Source, ...]


def report_paragraph(statistics: Statistics, catalog: Catalog, today: dt.date) -> str:
    """The paragraph: 「我镇」 (「全县」 for a county), topics and campaigns by name, 「截至11月29日」 while the
    period is still open."""
    texts = [clause.text for clause in clauses(statistics, catalog)]
    period = statistics.period
    if not texts:
        return f"{opening(period, today)}暂无可报告的普法宣传数据。"
    return f"{opening(period, today)}，{subject(statistics, catalog)}" + "；".join(texts) + "。"


def is_county(statistics: Statistics, catalog: Catalog) -> bool:
    """The whole of a multi-township deployment: 「全县」, with a table by township."""
    return catalog.multi_township and statistics.township is None


def subject(statistics: Statistics, catalog: Catalog, language: str = DEFAULT_LANGUAGE) -> str:
    """Who did the work: 「我镇」 — a town, or one township of a county — or 「全县」."""
    return translator(language)("report.subject_county" if is_county(statistics, catalog) else "report.subject_town")


TOWNSHIP_COLUMNS = ("name", "deliveries", "reached", "coverage", "education", "answers", "requests", "activities")


def township_table(statistics: Statistics, language: str = DEFAULT_LANGUAGE) -> tuple[list[str], list[list[str]]]:
    """The county report's table by township (header, rows as text), in places.yaml's order; no rows for a town."""
    t = translator(language)
    header = [t(f"report.township_column.{column}") for column in TOWNSHIP_COLUMNS]
    rows = [
        [
            row.name,
            str(row.deliveries),
            str(row.reached),
            percent(row.coverage_rate),
            percent(row.education_rate),
            str(row.quiz_answers),
            str(row.requests),
            str(row.activities),
        ]
        for row in statistics.by_township
    ]
    return header, rows


def township_lines(statistics: Statistics, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The table by township as aligned text lines, under its caption and over its note (`report`, `stats`)."""
    t = translator(language)
    header, rows = township_table(statistics, language)
    return [t("report.township_caption"), *aligned(header, rows), t("report.township_note")]


def scope_line(statistics: Statistics, catalog: Catalog, language: str = DEFAULT_LANGUAGE) -> str | None:
    """「统计范围：周家店镇的3个村（社区）、学校……」 for one township's figures; None for the whole deployment."""
    township = statistics.township
    if township is None:
        return None
    places = len(catalog.places_of(township.id))
    return translator(language)("report.township_scope", name=township.name, places=places)


def opening(period: Period, today: dt.date) -> str:
    """「2026年全年」 once the year is over; 「2026年以来（截至11月29日）」 while it is not."""
    year = period.first.year
    from_new_year = period.first == dt.date(year, 1, 1)
    if from_new_year and period.last == dt.date(year, 12, 31) and today > period.last:
        return f"{year}年全年"
    if from_new_year and period.last.year == year:
        return f"{year}年以来（截至{day_text(min(period.last, today), year=False)}）"
    return period_text(period)


def explain(
    statistics: Statistics,
    catalog: Catalog,
    today: dt.date,
    ledger: Sequence[LedgerEntry] = (),
    requests: Sequence[HelpRequest] = (),
) -> str:
    """For every number of the paragraph, the query or the rows it came from (`report --explain`)."""
    period = statistics.period
    lines = [report_paragraph(statistics, catalog, today)]
    if statistics.by_township:
        lines += ["", *township_lines(statistics)]
    lines += [
        "",
        "数字来源（统计口径见 docs/statistics.md）：",
        f"统计期间 {period.first} 至 {period.last}（{period.zone} 时间，整日）；{NOT_CONSOLE}。",
    ]
    scope = scope_line(statistics, catalog)
    if scope is not None:
        lines.append(scope)
    if opening(period, today).endswith("）"):
        lines.append(f"「截至{day_text(min(period.last, today), year=False)}」：统计期间的最后一天，年度尚未结束。")
    for clause in clauses(statistics, catalog, ledger, requests):
        for source in clause.sources:
            lines += ["", f"{source.figure}", f"  ← {source.origin}"]
            lines += [f"    {row}" for row in source.rows]
    return "\n".join(lines)


def clauses(
    statistics: Statistics,
    catalog: Catalog,
    ledger: Sequence[LedgerEntry] = (),
    requests: Sequence[HelpRequest] = (),
) -> list[Clause]:
    """One clause per kind of figure, in the report's order; a figure that is zero or unknown has none."""
    found = [
        _reach(statistics, catalog),
        _quiz(statistics),
        _campaigns(statistics, catalog),
        _schools(statistics),
        _ledger(statistics, catalog, ledger),
        _requests(statistics, catalog, requests),
    ]
    return [clause for clause in found if clause is not None]


def _reach(statistics: Statistics, catalog: Catalog) -> Clause | None:
    reach = statistics.reach
    if not reach.deliveries:
        return None
    topics = [(key, v) for key, v in by_value(statistics.by["topic"]) if catalog.topic(key)]
    named = [key_name(catalog, "topic", key) for key, _ in topics[:NAMED_TOPICS]]
    around = f"，围绕{'、'.join(named)}{_etc(named, len(topics))}主题" if named else ""
    deliveries, reached = f"推送法治知识{reach.deliveries}人次", f"覆盖群众{reach.reached}人"
    sources = [
        Source(
            deliveries,
            "送达记录 reach_events 中送达时间在期间内的条数（整月读月度汇总 reach_monthly）；StatsStore.totals",
            tuple(f"{CHANNELS.get(k, k)} {v.deliveries}人次" for k, v in by_value(statistics.by["channel"])),
        ),
        Source(reached, "同一批送达记录中不同居民（resident_id）的个数；StatsStore.totals"),
    ]
    if named:
        sources.append(
            Source(
                f"主题：{'、'.join(named)}",
                "推送人次最多的专题（按专题分组：StatsStore.by('topic')），不含无专题的群发",
                tuple(f"{key_name(catalog, 'topic', k)} {v.deliveries}人次，{v.reached}人" for k, v in topics),
            )
        )
    return Clause(f"依托普法宣传机器人{around}{deliveries}，{reached}", tuple(sources))


def _etc(named: list[str], of: int) -> str:
    """「等」 after a list (煞尾, as reports write it even when the list is whole), or when some are not named."""
    return "等" if len(named) > 1 or of > len(named) else ""


def _quiz(statistics: Statistics) -> Clause | None:
    quiz = statistics.quiz
    if not quiz.answers:
        return None
    answers, accuracy = f"组织线上法治知识答题{quiz.answers}人次", f"平均正确率{percent(quiz.accuracy)}"
    return Clause(
        f"{answers}，{accuracy}",
        (
            Source(
                answers,
                "送达记录中答题（kind = 'quiz_answer'）的条数，同一题连点两次只算一次（整月读 quiz_monthly）；"
                "StatsStore.quiz_totals",
            ),
            Source(accuracy, f"答对{quiz.correct}人次 ÷ 作答{quiz.answers}人次；StatsStore.quiz_totals"),
        ),
    )


def campaign_names(statistics: Statistics, catalog: Catalog) -> list[str]:
    """The campaigns pushed in the period, by name: the days first (pushed once: 国家宪法日), most residents reached
    first, then the series (暑假防溺水每周提醒); ties in calendar-file order."""
    names = {campaign.id: campaign.name for campaign in catalog.campaigns}
    order = {campaign.id: i for i, campaign in enumerate(catalog.campaigns)}
    pushes: dict[str, int] = {}
    delivered: dict[str, int] = {}
    for push in statistics.campaigns:
        pushes[push.campaign] = pushes.get(push.campaign, 0) + 1
        delivered[push.campaign] = delivered.get(push.campaign, 0) + push.delivered
    known = [c for c in pushes if c in names]
    return [names[c] for c in sorted(known, key=lambda c: (pushes[c] > 1, -delivered[c], order[c]))]


def _campaigns(statistics: Statistics, catalog: Catalog) -> Clause | None:
    pushes = statistics.campaigns
    if not pushes:
        return None
    every = campaign_names(statistics, catalog)
    named = every[:NAMED_CAMPAIGNS]
    nodes = f"利用{'、'.join(named)}{_etc(named, len({p.campaign for p in pushes}))}节点" if named else "利用宣传节点"
    figure = f"专题推送{len(pushes)}次"
    names = {campaign.id: campaign.name for campaign in catalog.campaigns}
    rows = tuple(f"群发 #{p.broadcast} {names.get(p.campaign, p.campaign)}：送达{p.delivered}人" for p in pushes)
    return Clause(
        f"{nodes}开展{figure}",
        (
            Source(
                figure,
                "群发 broadcasts 中期间内开始发送、属于宣传日历（content/campaigns.yaml）且至少送达一人的；"
                "StatsStore.broadcasts",
                rows,
            ),
        ),
    )


def _schools(statistics: Statistics) -> Clause | None:
    """在校生受教育面, only over schools whose enrolment is known; no clause when none is."""
    rate = statistics.school_education_rate
    if not rate:
        return None
    schools = statistics.schools_with_enrolment
    pupils = sum(row.reached for row in schools)
    enrolment = sum(row.enrolment or 0 for row in schools)
    reached, figure = f"覆盖在校学生{pupils}人", f"在校生受教育面{percent(rate)}"
    rows = tuple(f"{row.name}：覆盖{row.reached}人 ÷ 在校生{row.enrolment}人" for row in schools) + tuple(
        f"{row.name}：places.yaml 未填在校生人数（enrolment），不计"
        for row in statistics.coverage
        if row.is_school and not row.enrolment
    )
    return Clause(
        f"{reached}，{figure}",
        (
            Source(reached, "各学校（地点类型 school）送达记录中的不同居民数之和；StatsStore.by('place')", rows),
            Source(figure, f"覆盖在校学生{pupils}人 ÷ places.yaml 中这些学校的在校生（enrolment）{enrolment}人"),
        ),
    )


def _ledger(statistics: Statistics, catalog: Catalog, ledger: Sequence[LedgerEntry]) -> Clause | None:
    activities = {activity.kind: activity for activity in statistics.offline if activity.activities}
    if not activities:
        return None
    origin = "普法台账 ledger 中日期在期间内、类型为{kinds}的{what}；StatsStore.ledger"
    parts, sources = [], []
    attended = [activities[kind] for kind in ATTENDED if kind in activities]
    if attended:
        held = "、".join(f"{a.kind}{a.activities}场" for a in attended)
        audience = sum(a.count for a in attended)
        kinds = "、".join(a.kind for a in attended)
        parts.append(f"开展{held}，受众{'共' if len(attended) > 1 else ''}{audience}人次")
        for a in attended:
            rows = _ledger_rows(catalog, ledger, {a.kind})
            sources.append(Source(f"{a.kind}{a.activities}场", origin.format(kinds=a.kind, what="行数"), rows))
        added = tuple(f"{a.kind} {a.count}人次" for a in attended)
        sources.append(Source(f"受众{audience}人次", origin.format(kinds=kinds, what="人数（数量）之和"), added))
    for kind, template in QUANTITY_CLAUSES.items():
        if kind in activities:
            text = template.format(count=activities[kind].count)
            parts.append(text)
            rows = _ledger_rows(catalog, ledger, {kind})
            sources.append(Source(text, origin.format(kinds=kind, what="数量之和"), rows))
    others = [a for kind, a in activities.items() if kind not in ATTENDED and kind not in QUANTITY_CLAUSES]
    if others:
        text = f"开展其他普法活动{sum(a.activities for a in others)}次"
        parts.append(text)
        kinds = {a.kind for a in others}
        sources.append(
            Source(
                text, origin.format(kinds="、".join(sorted(kinds)), what="行数"), _ledger_rows(catalog, ledger, kinds)
            )
        )
    return Clause("线下" + "，".join(parts), tuple(sources))


def _ledger_rows(catalog: Catalog, ledger: Sequence[LedgerEntry], kinds: set[str]) -> tuple[str, ...]:
    rows = []
    for entry in ledger:
        if entry.type in kinds:
            place = catalog.place(entry.place_id or "")
            where = place.name if place else entry.location or entry.place_id or "（未填地点）"
            unit = ACTIVITY_TYPES.get(entry.type, "次")
            named = f"「{entry.title}」" if entry.title else ""
            rows.append(f"台账 #{entry.id} {entry.day} {entry.type}{named} {where} {entry.count}{unit}")
    return tuple(rows)


def _requests(statistics: Statistics, catalog: Catalog, requests: Sequence[HelpRequest]) -> Clause | None:
    made, done = statistics.requests.made, statistics.requests.done
    if not made:
        return None
    kinds = {kind.id: kind.name for kind in catalog.office.disputes} if catalog.office else {}
    zone = statistics.period.zone
    rows = []
    for request in requests:  # never the phone number nor the resident's words: this is printed
        place = catalog.place(request.place_id or "")
        day = dt.datetime.fromtimestamp(request.created_at, zone).date()
        status = "已办结" if request.status == "done" else "待办"
        kind = kinds.get(request.dispute_id or "", "其他纠纷")
        rows.append(f"诉求 #{request.id} {day} {place.name if place else UNSET_PLACE} {kind} {status}")
    origin = "群众诉求 help_requests 中期间内提出、状态为 open 或 done 的（只算居民点了「请司法所联系我」的）；"
    figure = f"受理群众法律服务诉求{made}件"
    sources = [Source(figure, origin + "StatsStore.requests", tuple(rows))]
    text = figure
    if done:
        text += f"，已办结{done}件"
        sources.append(Source(f"已办结{done}件", "其中状态为 done（办事员已标记处理）的；StatsStore.requests"))
    return Clause(text, tuple(sources))
