"""群众诉求 and 未答问题: what residents asked of the office.

群众诉求 are the residents who pressed 「请司法所联系我」 (bot/storage/requests.py): the clerk calls back and marks
the request done, as `python -m bot requests done` does; the phone number is shown here because only admins see
the console. 未答问题 are the questions no tip answered, most asked first (the text only, never who asked): the
content editors' list of what to write next.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from aiohttp import web

from bot.channels.web.render import Section, visitor
from bot.i18n import translator

LISTED = 200  # requests on the page (open ones first)
QUESTIONS = 200  # unanswered questions on the page


@dataclass(frozen=True)
class ShownRequest:
    id: int
    day: str
    place: str
    dispute: str
    phone: str
    question: str
    done: bool
    done_note: str


@dataclass(frozen=True)
class ShownQuestion:
    question: str
    asked: int
    last_asked: str


class Inbox(Section):
    async def requests(self, request: web.Request) -> web.StreamResponse:
        t = translator(visitor(request).language)
        everything = request.query.get("all") == "1"
        catalog = self.content.catalog
        disputes = {d.id: d.name for d in catalog.office.disputes} if catalog.office else {}
        places = {p.id: p.name for p in catalog.places}
        shown = [
            ShownRequest(
                id=r.id,
                day=self._day(r.created_at),
                place=places.get(r.place_id or "", t("web.overview.no_place")),
                dispute=disputes.get(r.dispute_id or "", r.dispute_id or t("web.requests.other")),
                phone=r.phone or t("web.requests.no_phone"),
                question=" ".join(r.question.split()),
                done=r.status == "done",
                done_note=t("web.requests.done_by", day=self._day(r.done_at), by=r.done_by or "")
                if r.status == "done" and r.done_at
                else "",
            )
            for r in await self.scope(request).requests_listed(self.storage, catalog, LISTED, everything)
        ]
        done = request.query.get("done", "")
        return self.pages.render(
            request,
            "requests.html",
            title_key="web.nav.requests",
            rows=shown,
            everything=everything,
            notice=t("web.requests.marked", id=int(done)) if done.isdecimal() else None,
        )

    async def mark_done(self, request: web.Request) -> web.StreamResponse:
        request_id = int(request.match_info["id"])
        admin = str(visitor(request).admin)
        if not await self.scope(request).may_mark_done(self.storage, self.content.catalog, request_id):
            return self.not_yours(request, "township.request_not_yours", id=request_id)
        if not await self.storage.requests.mark_done(request_id, f"web:{admin}"):
            return self.pages.problem(request, 404, "web.requests.not_open", id=request_id)
        await self.storage.web.audit(admin, "request_done", f"#{request_id}")
        return self.pages.redirect(f"/requests?done={request_id}")

    async def questions(self, request: web.Request) -> web.StreamResponse:
        shown = [
            ShownQuestion(q.question, q.asked, self._day(q.last_asked))
            for q in await self.storage.questions.unanswered(QUESTIONS)
        ]
        return self.pages.render(request, "questions.html", title_key="web.nav.questions", rows=shown)

    def _day(self, timestamp: int | None) -> str:
        if timestamp is None:
            return ""
        return dt.datetime.fromtimestamp(timestamp, self.settings.zone).strftime("%Y-%m-%d %H:%M")
