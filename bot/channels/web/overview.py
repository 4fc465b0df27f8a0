"""概览: a period's figures exactly as `python -m bot stats` and the report paragraph give them, by month, place
and topic (tables, and charts drawn by bot/reporting/charts.py), and the paragraph itself to copy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from bot.channels.web.charts import CHART_DIMENSIONS, ChartCache, fingerprint
from bot.channels.web.render import Pages, visitor
from bot.content.model import Catalog
from bot.content.store import ContentStore
from bot.i18n import Translator, translator
from bot.reporting.figures import NO_REACH, Dimension, Reach, by_value, key_name, months_between, percent, share
from bot.reporting.statistics import Period, Statistics, report_paragraph
from bot.storage import Storage


@dataclass(frozen=True)
class Figure:
    key: str  # the path of the figure in `stats --json`: "deliveries", "quiz.answers"
    label: str
    value: int | float | None  # as in the JSON
    text: str  # as shown


@dataclass(frozen=True)
class Row:
    key: str  # the key in `stats --json` (a topic id, a place id, YYYY-MM, a channel)
    name: str
    deliveries: int
    reached: int
    before: tuple[str, ...] = ()  # columns between the name and 人次
    after: tuple[str, ...] = ()  # columns after 人次 and 人


def chosen_period(query: Mapping[str, str], today: dt.date, zone: dt.tzinfo) -> tuple[Period, str | None]:
    """?from=…&to=… (default: 1 January to today); a catalog key saying what was wrong, if anything was."""
    first, last = today.replace(month=1, day=1), today
    try:
        if query.get("from"):
            first = dt.date.fromisoformat(query["from"])
        if query.get("to"):
            last = dt.date.fromisoformat(query["to"])
    except ValueError:
        return Period(today.replace(month=1, day=1), today, zone), "web.overview.bad_date"
    if last < first:
        return Period(today.replace(month=1, day=1), today, zone), "web.overview.reversed"
    return Period(first, last, zone), None


class Overview:
    def __init__(
        self,
        storage: Storage,
        content: ContentStore,
        pages: Pages,
        charts: ChartCache,
        zone: dt.tzinfo,
        today: Callable[[], dt.date],
    ) -> None:
        self.storage = storage
        self.content = content
        self.pages = pages
        self.charts = charts
        self.zone = zone
        self.today = today

    async def page(self, request: web.Request) -> web.StreamResponse:
        today = self.today()
        period, problem = chosen_period(request.query, today, self.zone)
        # an admin of one township: its figures, shown with its places only (the report paragraph's 我镇 too)
        statistics, catalog = await visitor(request).scope.collect(self.storage, self.content.catalog, period)
        version = _version(visitor(request).township, statistics, catalog)
        self.charts.warm(statistics, catalog, version)
        t = translator(visitor(request).language)
        window = f"from={period.first.isoformat()}&to={period.last.isoformat()}"
        return self.pages.render(
            request,
            "overview.html",
            title_key="web.nav.overview",
            period=period,
            this_year=today.year,
            problem=problem,
            figures=figures(statistics, t),
            months=month_rows(statistics, t),
            places=place_rows(statistics, catalog, t),
            topics=topic_rows(statistics, catalog, t),
            channels=[
                Row(k, key_name(catalog, "channel", k), v.deliveries, v.reached)
                for k, v in by_value(statistics.by["channel"])
            ],
            paragraph=report_paragraph(statistics, catalog, today),
            charts=[(d, self.pages.url(f"/charts/{d}.svg?{window}&v={version}")) for d in CHART_DIMENSIONS],
        )

    async def chart(self, request: web.Request) -> web.StreamResponse:
        dimension = request.match_info["dimension"]
        if dimension not in CHART_DIMENSIONS:
            raise web.HTTPNotFound()
        version = request.query.get("v", "")
        township = visitor(request).township
        # an admin of one township gets charts drawn for it only (a county admin may be shown any)
        mine = bool(version) and (township is None or version.startswith(f"{township}-"))
        drawing = self.charts.ready(dimension, version) if mine else None
        if drawing is None:  # not drawn yet (or drawn for other figures): collect and draw now
            today = self.today()
            period, _ = chosen_period(request.query, today, self.zone)
            statistics, catalog = await visitor(request).scope.collect(self.storage, self.content.catalog, period)
            current = _version(township, statistics, catalog)
            drawing = self.charts.get(statistics, catalog, _dimension(dimension), current)
            fresh = current == version
        else:
            fresh = True
        response = web.Response(body=await drawing, content_type="image/svg+xml")
        # The URL names the figures it shows: the same URL is the same picture for as long as it is kept.
        response.headers["Cache-Control"] = "private, max-age=3600" if fresh else "no-store"
        response.enable_compression()
        return response


def _version(township: str | None, statistics: Statistics, catalog: Catalog) -> str:
    """The charts' `v=`: the figures' fingerprint, after the township whose figures they are."""
    version = fingerprint(statistics, catalog)
    return version if township is None else f"{township}-{version}"


def _dimension(name: str) -> Dimension:
    for dimension in CHART_DIMENSIONS:
        if dimension == name:
            return dimension
    raise web.HTTPNotFound()


def figures(statistics: Statistics, t: Translator) -> list[Figure]:
    s, quiz, b = statistics, statistics.quiz, statistics.broadcasts

    def count(key: str, value: int) -> Figure:
        return Figure(key, t(f"web.figure.{key}"), value, f"{value:,}")

    def rate(key: str, value: float | None) -> Figure:
        return Figure(key, t(f"web.figure.{key}"), value, percent(value))

    return [
        count("deliveries", s.reach.deliveries),
        count("reached", s.reach.reached),
        count("residents.new", s.new_residents),
        count("quiz.answers", quiz.answers),
        rate("quiz.accuracy", quiz.accuracy),
        count("quiz.participants", quiz.participants),
        rate("quiz.completion", quiz.completion),
        count("broadcasts.count", b.count),
        count("broadcasts.delivered", b.delivered),
        count("campaign_pushes", s.campaign_pushes),
        count("offline.activities", s.offline_activities),
        count("requests.made", s.requests.made),
    ]


def month_rows(statistics: Statistics, t: Translator) -> list[Row]:
    values = statistics.by["month"]
    rows = []
    for month in months_between(statistics.period.first, statistics.period.last):
        reach = values.get(month, NO_REACH)
        rows.append(
            Row(month, t("web.overview.month", year=month[:4], month=int(month[5:])), reach.deliveries, reach.reached)
        )
    return rows


def place_rows(statistics: Statistics, catalog: Catalog, t: Translator) -> list[Row]:
    """Every place of the content, zeros too, with its coverage; then residents without a place."""
    by_place = statistics.by["place"]
    rows = []
    for row in statistics.coverage:
        whole = row.enrolment if row.is_school else row.population
        rate = row.education_rate if row.is_school else row.coverage_rate
        reach = by_place.get(row.place, NO_REACH)
        after = (f"{whole:,}" if whole else "—", percent(rate))
        rows.append(
            Row(row.place, row.name, reach.deliveries, reach.reached, (t(f"web.kind.{row.kind.value}"),), after)
        )
    known = {row.place for row in statistics.coverage}
    for key, reach in by_value({k: v for k, v in by_place.items() if k not in known}):
        name = t("web.overview.no_place") if key == "unknown" else key_name(catalog, "place", key)
        rows.append(Row(key, name, reach.deliveries, reach.reached, ("",), ("", "")))
    return rows


def topic_rows(statistics: Statistics, catalog: Catalog, t: Translator) -> list[Row]:
    """Every topic of the content, zeros too, largest first; 其他 (broadcasts without a topic) last."""
    values: dict[str, Reach] = dict(statistics.by["topic"])
    for topic in catalog.topics:
        values.setdefault(topic.id, NO_REACH)
    total = statistics.reach.deliveries
    rows = []
    for key, reach in by_value(values):
        topic = catalog.topic(key)
        name = topic.name(t.language) if topic else (t("web.overview.no_topic") if key == "other" else key)
        rows.append(Row(key, name, reach.deliveries, reach.reached, after=(percent(share(reach.deliveries, total)),)))
    return rows
