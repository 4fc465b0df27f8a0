"""导出: a period's statistics table as Excel (.xlsx) or CSV (a .zip, one file per sheet), and the annual-report
paragraph with its table and charts as Word (.docx) — written by the same code as `python -m bot export` and
`python -m bot report --docx`. Like the CLI without --personal, the files hold no personal identifiers."""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from bot.channels.web.overview import chosen_period
from bot.channels.web.render import Section, download, visitor
from bot.core.townships import Scope
from bot.i18n import translator
from bot.reporting.statistics import Period

KINDS = {
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "csv": ("application/zip", ".zip"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
}


class Exports(Section):
    async def page(self, request: web.Request) -> web.StreamResponse:
        today = self.today()
        period, problem = chosen_period(request.query, today, self.settings.zone)
        window = f"from={period.first.isoformat()}&to={period.last.isoformat()}"
        return self.pages.render(
            request,
            "exports.html",
            title_key="web.nav.exports",
            period=period,
            this_year=today.year,
            problem=translator(visitor(request).language)(problem) if problem else None,
            links=[(kind, self.pages.url(f"/exports/{kind}?{window}")) for kind in KINDS],
        )

    async def download(self, request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        if kind not in KINDS:
            raise web.HTTPNotFound()
        today = self.today()
        period, problem = chosen_period(request.query, today, self.settings.zone)
        if problem:
            return self.pages.problem(request, 400, problem)
        scope = visitor(request).scope
        data = await self._write(kind, period, today, scope)
        content_type, suffix = KINDS[kind]
        prefix = "" if scope.county else f"{scope.name(self.content.catalog)}_"
        name = f"{prefix}普法统计_{period.first.isoformat()}_{period.last.isoformat()}{suffix}"
        await self.storage.web.audit(str(visitor(request).admin), f"export_{kind}", name)
        return download(data, name, content_type)

    async def _write(self, kind: str, period: Period, today: dt.date, scope: Scope) -> bytes:
        """The file of `kind`; an admin of one township's holds that township's figures, ledger rows and requests."""
        from bot.reporting.export import sheets, write_csv_zip, write_xlsx
        from bot.reporting.word import write_docx

        everything = self.content.catalog
        statistics, catalog = await scope.collect(self.storage, everything, period)
        suffix = KINDS[kind][1]
        if kind == "docx":
            return await asyncio.to_thread(
                _written, suffix, lambda target: write_docx(target, statistics, catalog, today)
            )
        ledger = scope.entries(
            everything, await self.storage.ledger.between(period.first.isoformat(), period.last.isoformat())
        )
        requests = scope.requests(everything, await self.storage.requests.between(period.start, period.end))
        book = sheets(statistics, catalog, ledger, None, requests, personal=False, today=today)
        write = write_xlsx if kind == "xlsx" else write_csv_zip
        return await asyncio.to_thread(_written, suffix, lambda target: write(target, book))


def _written(suffix: str, write: Callable[[Path], Path]) -> bytes:
    """The bytes of a file a writer of bot.reporting writes, in a folder of its own that is then removed."""
    with tempfile.TemporaryDirectory() as folder:
        return Path(write(Path(folder) / f"export{suffix}")).read_bytes()
