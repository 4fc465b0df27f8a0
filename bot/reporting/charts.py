"""PNG charts of a period's reach by month, topic and place, drawn with matplotlib and the bundled CJK font.

人次 and 人 differ by an order of magnitude, so each has its own panel and scale (beside each other for topics
and places, one above the other for months). Topics and places are sorted by value, 未设置 and 其他 last, and
every place and topic of the content is drawn, zeros too: a village nobody reached is what the office needs to
see. A period without data is one clear picture saying so, not an empty axis.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Iterator, Mapping
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.content.model import Catalog
from bot.reporting.figures import (
    NO_REACH,
    Dimension,
    Reach,
    Statistics,
    by_value,
    key_name,
    months_between,
    period_text,
)

NO_DATA = "该期间没有数据"
CHART_DIMENSIONS: tuple[Dimension, ...] = ("month", "topic", "place")
TITLES = {"month": "各月普法推送", "topic": "各专题普法推送", "place": "各村（社区）、学校普法推送"}
SIZE, DPI = (9, 5), 100  # 900 × 500 pixels: readable in a chat and on an A4 page
DELIVERIES_COLOUR, REACHED_COLOUR = "#b22222", "#c9a227"


def write_charts(directory: Path, statistics: Statistics, catalog: Catalog) -> list[Path]:
    """reach-by-month.png, reach-by-topic.png and reach-by-place.png in `directory`; the month chart first."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for dimension in CHART_DIMENSIONS:
        path = directory / f"reach-by-{dimension}.png"
        path.write_bytes(chart_png(statistics, catalog, dimension))
        written.append(path)
    return written


def chart_png(statistics: Statistics, catalog: Catalog, dimension: Dimension) -> bytes:
    """One chart as PNG bytes; its title (and 「该期间没有数据」 for an empty period) is in the PNG's text too."""
    with chinese_font():
        figure = chart_figure(statistics, catalog, dimension)
        metadata = {"Title": figure.get_label()}
        if is_empty(statistics):
            metadata["Description"] = NO_DATA
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, metadata=metadata)
    return buffer.getvalue()


def is_empty(statistics: Statistics) -> bool:
    return statistics.reach.deliveries == 0


def chart_figure(statistics: Statistics, catalog: Catalog, dimension: Dimension) -> Figure:
    """The chart as a matplotlib Figure (not drawn yet): two panels, or the 「该期间没有数据」 picture."""
    title = f"{TITLES[dimension]}（{period_text(statistics.period)}）"
    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    figure.set_label(title)
    if is_empty(statistics):
        figure.text(0.5, 0.9, title, ha="center", va="center", fontsize=14)
        figure.text(0.5, 0.5, NO_DATA, ha="center", va="center", fontsize=30, color="#777777")
        return figure
    figure.suptitle(title, fontsize=14)
    if dimension == "month":
        _months(figure, statistics)
    else:
        _ranked(figure, [(key_name(catalog, dimension, k), v) for k, v in _with_zeros(statistics, catalog, dimension)])
    return figure


def _with_zeros(statistics: Statistics, catalog: Catalog, dimension: Dimension) -> list[tuple[str, Reach]]:
    values = dict(statistics.by[dimension])
    # the places of these figures: every place of the content, or of the township
    every = [t.id for t in catalog.topics] if dimension == "topic" else [row.place for row in statistics.coverage]
    for key in every:
        values.setdefault(key, NO_REACH)
    return by_value(values)


def _ranked(figure: Figure, rows: list[tuple[str, Reach]]) -> None:
    """Horizontal bars, largest on top: 人次 on the left, 人 on the right, each on its own scale."""
    left, right = figure.subplots(1, 2, sharey=True)
    labels = [label for label, _ in rows]
    positions = range(len(rows))
    for axis, values, colour, name in (
        (left, [v.deliveries for _, v in rows], DELIVERIES_COLOUR, "推送人次"),
        (right, [v.reached for _, v in rows], REACHED_COLOUR, "覆盖人数（人）"),
    ):
        bars = axis.barh(list(positions), values, color=colour, height=0.6)
        axis.bar_label(bars, padding=3, fontsize=9)
        axis.set_title(name, fontsize=11)
        _plain(axis, "x", max(values))
    left.set_yticks(list(positions), labels)
    left.invert_yaxis()  # shared: the largest on top in both panels


def _months(figure: Figure, statistics: Statistics) -> None:
    """Every month of the period, in order, zeros too: 人次 above, 人 below."""
    values = statistics.by["month"]
    months = months_between(statistics.period.first, statistics.period.last)
    one_year = statistics.period.first.year == statistics.period.last.year
    labels = [f"{int(m[5:])}月" if one_year else f"{m[:4]}年{int(m[5:])}月" for m in months]
    top, bottom = figure.subplots(2, 1, sharex=True)
    positions = list(range(len(months)))
    for axis, numbers, colour, name in (
        (top, [values.get(m, NO_REACH).deliveries for m in months], DELIVERIES_COLOUR, "推送人次"),
        (bottom, [values.get(m, NO_REACH).reached for m in months], REACHED_COLOUR, "覆盖人数（人）"),
    ):
        bars = axis.bar(positions, numbers, color=colour, width=0.6)
        axis.bar_label(bars, padding=2, fontsize=8)
        axis.set_title(name, fontsize=11, loc="left")
        _plain(axis, "y", max(numbers))
    bottom.set_xticks(positions, labels, rotation=30 if len(labels) > 12 else 0)


def _plain(axis: Axes, which: str, largest: int) -> None:
    """Whole-number ticks on the value axis, room for the value labels, no frame on top and right."""
    (axis.xaxis if which == "x" else axis.yaxis).set_major_locator(MaxNLocator(integer=True))
    (axis.set_xlim if which == "x" else axis.set_ylim)(0, max(1, largest) * 1.15)
    for side in ("top", "right"):
        axis.spines[side].set_visible(False)


@contextlib.contextmanager
def chinese_font(settings: Mapping[str, object] | None = None) -> Iterator[None]:
    """Draw and save a chart inside this: the bundled CJK font (no boxes for Chinese), plus other rc `settings`."""
    import matplotlib

    with matplotlib.rc_context({"font.family": _font_family(), "axes.unicode_minus": False, **(settings or {})}):
        yield


@functools.cache
def _font_family() -> str:
    """Register the bundled font with matplotlib once; its family name."""
    from matplotlib import font_manager

    from bot.reporting.certificate import REGULAR

    font_manager.fontManager.addfont(str(REGULAR))
    return font_manager.FontProperties(fname=str(REGULAR)).get_name()
