"""宣传日历: the coming campaign days of content/campaigns.yaml, and what each will send to whom.

The dates come from the same rules the running bot's scheduler follows (bot.broadcasting.calendar.occurrences),
the message from the same code as a broadcast's preview, and the recipient count from the same query as the
群发 page — so the page shows what will happen, not a second description of it. A day whose tip is missing or
expired before it says so here, as the scheduler will warn the admins three days ahead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from aiohttp import web

from bot.channels.web.broadcasts import Shown, audience_text, shown_message
from bot.channels.web.render import Section, visitor
from bot.content.model import Catalog, Tip
from bot.core import broadcast_requests as requests
from bot.core.campaign_days import Occurrence, content_problem, occurrences
from bot.core.screens import BroadcastContent, broadcast_message
from bot.i18n import Translator, translator
from bot.storage import Audience

AHEAD = dt.timedelta(days=366)  # a year: every yearly publicity day appears once
LISTED = 40  # occurrences at most (a weekly campaign would otherwise fill the page)


@dataclass(frozen=True)
class Coming:
    key: str
    when: str
    days_left: int
    name: str
    what: str
    audience: str
    recipients: int | None  # None: no chat channel broadcasts, so nobody would
    problem: str | None
    created: bool  # the scheduler has already made its broadcast
    messages: tuple[Shown, ...]


class Campaigns(Section):
    async def page(self, request: web.Request) -> web.StreamResponse:
        t = translator(visitor(request).language)
        catalog = self.content.catalog
        now = dt.datetime.fromtimestamp(self.storage.web.now(), self.settings.zone)
        window_start = now - dt.timedelta(hours=12)  # an occurrence still fires 12 h after its time
        found = [
            o
            for o in occurrences(catalog, window_start.date(), (now + AHEAD).date(), self.settings.zone)
            if o.at >= window_start
        ][:LISTED]
        created = await self.storage.broadcasts.occurrences([c.id for c in catalog.campaigns]) if found else set()
        sizes: dict[tuple[str, ...], int | None] = {}
        coming = [await self._coming(o, catalog, t, now.date(), o.key in created, sizes) for o in found]
        return self.pages.render(
            request,
            "campaigns.html",
            title_key="web.nav.campaigns",
            coming=coming,
            campaigns=len(catalog.campaigns),
            no_channels=not self.settings.broadcast_channels,
        )

    async def _coming(
        self,
        occurrence: Occurrence,
        catalog: Catalog,
        t: Translator,
        today: dt.date,
        created: bool,
        sizes: dict[tuple[str, ...], int | None],
    ) -> Coming:
        campaign = occurrence.campaign
        audience = Audience.parse(campaign.audience)
        problem = content_problem(catalog, occurrence)
        tip = catalog.tip(campaign.item_id) if campaign.item_id else None
        what = tip.title if tip else campaign.item_id or _cut(campaign.text or "")
        messages: tuple[Shown, ...] = ()
        if problem is None:
            content = BroadcastContent(item_id=campaign.item_id, text=campaign.text, topic_id=campaign.topic_id)
            replies = broadcast_message(content, catalog, "zh-CN", self.settings.content_dir) or []
            messages = tuple(shown_message(reply) for reply in replies)
        cache_key = (*campaign.audience, campaign.topic_id or "", campaign.item_id or "")
        if cache_key not in sizes:
            sizes[cache_key] = await self._size(catalog, campaign.item_id, campaign.text, audience, campaign.topic_id)
        return Coming(
            key=occurrence.key,
            when=occurrence.at.strftime("%Y-%m-%d %H:%M"),
            days_left=(occurrence.day - today).days,
            name=campaign.name,
            what=what,
            audience=audience_text(audience, catalog, t),
            recipients=sizes[cache_key],
            problem=_problem(t, campaign.item_id, tip) if problem else None,
            created=created,
            messages=messages,
        )

    async def _size(
        self, catalog: Catalog, item_id: str | None, text: str | None, audience: Audience, topic_id: str | None
    ) -> int | None:
        channels = self.settings.broadcast_channels
        if not channels:
            return None
        draft = requests.Draft(item_id, text, audience, topic_id=topic_id)
        try:
            return await requests.audience_size(self.storage, catalog, draft, channels)
        except requests.BroadcastError:  # a missing tip: the problem column says so
            return None


def _problem(t: Translator, item_id: str | None, tip: Tip | None) -> str:
    """The scheduler's `content_problem`, in the admin's language."""
    if tip is None:
        return t("web.campaigns.tip_missing", id=item_id)
    return t("web.campaigns.tip_expired", id=item_id, until=str(tip.valid_until))


def _cut(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
