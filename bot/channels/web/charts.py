"""The overview's charts as SVG: the figures of `python -m bot chart` (bot.reporting.charts.chart_figure), drawn
server-side with the bundled CJK font, glyphs as paths, so the page needs no font and no internet.

Drawing a chart takes matplotlib half a second or more: far more than a page may take. So the page links the
charts as images, starts drawing them once it is rendered, and keeps the last few by a fingerprint of the figures
they show (the `v=` of their URL): the images the browser then asks for are usually ready, and unchanged figures
are never drawn twice. Drawing happens in a process of its own: on a thread it would hold the interpreter lock
for seconds, slowing every page and, inside `python -m bot run`, every reply to residents.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import logging
import multiprocessing
import signal
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.content.model import Catalog
from bot.reporting.charts import CHART_DIMENSIONS, chart_figure
from bot.reporting.figures import Dimension, Statistics

log = logging.getLogger(__name__)

KEEP = 24  # charts kept: three per period looked at recently


def fingerprint(statistics: Statistics, catalog: Catalog) -> str:
    """Changes whenever a chart of these figures would: the figures, the period, the names of topics and places."""
    names = [t.title for t in catalog.topics] + [p.name for p in catalog.places]
    text = json.dumps([statistics.as_dict(), names], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def chart_svg(statistics: Statistics, catalog: Catalog, dimension: Dimension) -> bytes:
    """One chart as SVG bytes (the same drawing as the PNG of `python -m bot chart`)."""
    with _chinese_font():
        figure = chart_figure(statistics, catalog, dimension)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", metadata={"Title": figure.get_label(), "Date": None})
    return buffer.getvalue()


class ChartCache:
    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._charts: OrderedDict[tuple[str, str], asyncio.Task[bytes]] = OrderedDict()
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the drawing process and load matplotlib and the font there now, not when an admin waits."""
        self._executor().submit(_font_family)

    def warm(self, statistics: Statistics, catalog: Catalog, version: str) -> None:
        """Start drawing the period's charts, before the browser asks for them."""
        for dimension in CHART_DIMENSIONS:
            self.get(statistics, catalog, dimension, version)

    def ready(self, dimension: str, version: str) -> asyncio.Task[bytes] | None:
        """The chart of these figures, drawn or being drawn; None when nobody started it (or drawing failed)."""
        drawing = self._charts.get((dimension, version))
        if drawing is None or (drawing.done() and (drawing.cancelled() or drawing.exception() is not None)):
            return None
        return drawing

    def get(self, statistics: Statistics, catalog: Catalog, dimension: Dimension, version: str) -> asyncio.Task[bytes]:
        key = (dimension, version)
        drawing = self._charts.get(key)
        if drawing is None or (drawing.done() and (drawing.cancelled() or drawing.exception() is not None)):
            drawing = asyncio.get_running_loop().create_task(self._draw(statistics, _names_only(catalog), dimension))
            drawing.add_done_callback(_observe)
            self._charts[key] = drawing
            while len(self._charts) > self._keep:
                self._charts.popitem(last=False)[1].cancel()
        self._charts.move_to_end(key)
        return drawing

    async def _draw(self, statistics: Statistics, catalog: Catalog, dimension: Dimension) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor(), chart_svg, statistics, catalog, dimension)
        except BrokenProcessPool:  # the drawing process died (killed, out of memory): a new one, once
            log.warning("web console: the chart process stopped; starting a new one")
            self._pool = None
            return await loop.run_in_executor(self._executor(), chart_svg, statistics, catalog, dimension)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the bot's process has database threads a fork would copy mid-work
            self._pool = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_leave_signals_to_the_parent
            )
        return self._pool

    def close(self) -> None:
        for drawing in self._charts.values():
            drawing.cancel()
        self._charts.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _leave_signals_to_the_parent() -> None:
    """Ctrl-C in a terminal reaches the whole process group: the console stops the drawing process itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _names_only(catalog: Catalog) -> Catalog:
    """What a chart needs of the content (topic and place names), small to hand to the drawing process."""
    topics = tuple(dataclasses.replace(topic, tips=(), quiz=()) for topic in catalog.topics)
    return Catalog(town=catalog.town, topics=topics, places=catalog.places, townships=catalog.townships)


def _observe(drawing: asyncio.Task[bytes]) -> None:
    """A drawing nobody awaited (the browser never asked) must not log 'exception was never retrieved'."""
    if not drawing.cancelled():
        drawing.exception()


@contextlib.contextmanager
def _chinese_font() -> Iterator[None]:
    import matplotlib

    settings = {"font.family": _font_family(), "axes.unicode_minus": False, "svg.hashsalt": "pufa-console"}
    with matplotlib.rc_context(settings):
        yield


@functools.cache
def _font_family() -> str:
    """The bundled font registered with matplotlib once (as bot/reporting/charts.py does for the PNGs)."""
    from matplotlib import font_manager

    from bot.reporting.certificate import REGULAR

    font_manager.fontManager.addfont(str(REGULAR))
    return font_manager.FontProperties(fname=str(REGULAR)).get_name()
