"""内容: which content is serving and since when, what `python -m bot content check` says about the files now, and
a reload button.

The check reads the files as they are on disk (an editor may have saved since the last load), with the same code
and messages as the CLI. Reload is the bot's own (`ContentStore.reload`): a directory with errors is refused and the
old content keeps serving, and the page says why. When the console runs inside `python -m bot run` it reloads what
the bot serves; `python -m bot web` alone reloads only its own copy, and the page says so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from aiohttp import web

from bot.channels.web.render import Section, visitor
from bot.content.checker import check_directory
from bot.content.problems import Severity
from bot.i18n import translator


@dataclass(frozen=True)
class ShownProblem:
    place: str  # file:line
    message: str
    error: bool


class Content(Section):
    with_bot = False  # set by the runner when the console shares the bot's content

    async def page(self, request: web.Request) -> web.StreamResponse:
        language = visitor(request).language
        t = translator(language)
        report = await asyncio.to_thread(check_directory, self.content.directory, self.today())
        problems = [
            ShownProblem(f"{p.file}:{p.line}", p.message(language), p.severity is Severity.ERROR)
            for p in report.problems
        ]
        catalog = self.content.catalog
        refused = self.content.refused
        outcome = request.query.get("reloaded", "")
        return self.pages.render(
            request,
            "content.html",
            title_key="web.nav.content",
            loaded_at=self._moment(self.content.loaded_at),
            counts={
                "topics": len(catalog.topics),
                "tips": sum(len(topic.tips) for topic in catalog.topics),
                "questions": sum(len(topic.quiz) for topic in catalog.topics),
                "campaigns": len(catalog.campaigns),
                "places": len(catalog.places),
                "laws": len(catalog.laws),
            },
            directory=str(self.content.directory),
            summary=report.summary.render(language),
            failed=report.failed,
            problems=problems,
            errors=sum(p.error for p in problems),
            refused_at=self._moment(self.content.refused_at) if refused and self.content.refused_at else None,
            notice=t(f"web.content.{outcome}") if outcome in ("ok", "refused") else None,
            notice_refused=outcome == "refused",
            with_bot=self.with_bot,
            may_reload=self.scope(request).county,
        )

    async def reload(self, request: web.Request) -> web.StreamResponse:
        if not self.scope(request).county:  # the content serves every township: reloading it is the county's
            return self.pages.problem(request, 403, "township.reload_county_only")
        result = await self.content.reload()
        admin = str(visitor(request).admin)
        errors = sum(p.severity is Severity.ERROR for p in result.problems)
        detail = f"{len(result.catalog.topics)} topics" if result.catalog else f"refused: {errors} errors"
        await self.storage.web.audit(admin, "content_reload", detail)
        return self.pages.redirect(f"/content?reloaded={'ok' if result.ok else 'refused'}")

    def _moment(self, timestamp: float) -> str:
        return dt.datetime.fromtimestamp(timestamp, self.settings.zone).strftime("%Y-%m-%d %H:%M:%S")
