"""群发: compose a broadcast (a tip of the catalogue, or the office's own words), choose who gets it, see the exact
number of recipients and the message as residents will see it, send now or at a time; follow and cancel.

The same rules as the chat dialog and `python -m bot broadcast`: `bot.core.broadcast_requests` checks, sizes and
queues; `bot.core.screens.broadcast_message` is the message; the running bot's worker sends. Every step that
changes something is written to the console's audit with the admin's identity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.channels.web.render import Section, visitor
from bot.content.model import Catalog
from bot.core import broadcast_requests as requests
from bot.core.events import Image, Reply, Text
from bot.core.screens import BroadcastContent, broadcast_message
from bot.core.townships import outside_township
from bot.i18n import Translator, translator
from bot.storage import Audience, Broadcast

TEXT_LIMIT = 1000  # characters of the office's own words (the chat dialog keeps as many)
LISTED = 20  # broadcasts on the page, newest first
ACTIVE = ("scheduled", "sending")


class ComposeError(Exception):
    """What is wrong with the form, as a catalog key and its values."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key, self.values = key, values


@dataclass(frozen=True)
class Compose:
    """The compose form as the admin filled it in (redisplayed as it was when something is wrong)."""

    content: str = "tip"  # tip | text
    item: str = ""
    text: str = ""
    audience: str = "all"  # all | places | topics
    places: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    when: str = "now"  # now | later
    at: str = ""  # YYYY-MM-DDTHH:MM in the town's time zone

    @classmethod
    def of(cls, form: Mapping[str, Any]) -> Compose:
        def one(name: str, default: str = "") -> str:
            return str(form.get(name, default)).strip()

        def many(name: str) -> tuple[str, ...]:
            getall = getattr(form, "getall", None)
            values = getall(name, []) if getall else [form[name]] if name in form else []
            return tuple(dict.fromkeys(str(v) for v in values))

        return cls(
            content=one("content", "tip"),
            item=one("item"),
            text=str(form.get("text", "")).strip(),
            audience=one("audience", "all"),
            places=many("place"),
            topics=many("topic"),
            when=one("when", "now"),
            at=one("at"),
        )

    def draft(self, catalog: Catalog, township: str | None = None) -> requests.Draft:
        """The broadcast asked for; an admin of one `township` sends within it (everybody there, or topics'
        subscribers there; a place of another township is refused)."""
        if self.content == "text":
            if not self.text:
                raise ComposeError("web.compose.no_text")
            if len(self.text) > TEXT_LIMIT:
                raise ComposeError("web.compose.too_long", limit=TEXT_LIMIT)
            item, text = None, self.text
        else:
            if not self.item:
                raise ComposeError("web.compose.no_tip")
            item, text = self.item, None
        if self.audience == "places":
            if not self.places:
                raise ComposeError("web.compose.no_places")
            audience = Audience(places=self.places)
        elif self.audience == "topics":
            if not self.topics:
                raise ComposeError("web.compose.no_topics")
            audience = Audience(topics=self.topics)
        else:
            audience = Audience()
        try:
            return requests.validate(catalog, requests.Draft(item, text, audience), township)
        except requests.OutsideTownship as exc:
            key, values = outside_township(catalog, exc)
            raise ComposeError(key, **values) from None
        except requests.BroadcastError as exc:
            raise ComposeError("web.compose.invalid", reason=str(exc)) from None

    def send_at(self, zone: dt.tzinfo, now: int) -> int:
        if self.when != "later":
            return now
        try:
            moment = requests.local_timestamp(self.at.replace("T", " ")[:16], zone)
        except ValueError:
            raise ComposeError("web.compose.bad_time") from None
        if moment <= now:
            raise ComposeError("web.compose.past_time")
        return moment


@dataclass(frozen=True)
class Shown:
    """One message of the preview, as a resident's chat shows it."""

    title: str | None
    body: str
    buttons: tuple[str, ...]
    image: str | None = None


@dataclass(frozen=True)
class Listed:
    id: int
    when: str
    what: str
    audience: str
    status: str
    status_label: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def done(self) -> int:
        return self.counts.get("targeted", 0) - self.counts.get("pending", 0)


class Broadcasts(Section):
    # -- pages -------------------------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.StreamResponse:
        return await self._render(request, Compose())

    async def preview(self, request: web.Request) -> web.StreamResponse:
        compose = Compose.of(await request.post())
        catalog = self.content.catalog
        try:
            draft = self._draft(request, compose, catalog)
            send_at = compose.send_at(self.settings.zone, self.storage.web.now())
        except ComposeError as problem:
            return await self._render(request, compose, problem=problem, status=400)
        count = await self._count(catalog, draft)
        content = BroadcastContent(item_id=draft.item_id, text=draft.text, topic_id=draft.topic_id)
        replies = broadcast_message(content, catalog, "zh-CN", self.settings.content_dir) or []
        shown = [shown_message(reply) for reply in replies]
        return await self._render(
            request, compose, preview={"count": count, "messages": shown, "when": self._when(compose, send_at)}
        )

    async def send(self, request: web.Request) -> web.StreamResponse:
        compose = Compose.of(await request.post())
        catalog = self.content.catalog
        now = self.storage.web.now()
        try:
            draft = self._draft(request, compose, catalog)
            send_at = compose.send_at(self.settings.zone, now)
            count = await self._count(catalog, draft)
            if count == 0:
                raise ComposeError("web.compose.nobody")
        except ComposeError as problem:
            return await self._render(request, compose, problem=problem, status=400)
        admin = str(visitor(request).admin)
        township = self.scope(request).township
        broadcast_id = await requests.create(self.storage, catalog, draft, admin, send_at, now, township)
        broadcast = await self.storage.broadcasts.get(broadcast_id)
        assert broadcast is not None  # created a moment ago
        await self.storage.web.audit(
            admin, "broadcast", f"{requests.describe(broadcast, self.settings.zone)} ({count})"
        )
        return self.pages.redirect(f"/broadcasts?created={broadcast_id}&count={count}#list")

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        broadcast_id = int(request.match_info["id"])
        broadcast = await self.storage.broadcasts.get(broadcast_id)
        if broadcast is None:
            raise web.HTTPNotFound()
        admin = str(visitor(request).admin)
        if not self.scope(request).sees_broadcast(self.content.catalog, broadcast, admin):
            return self.not_yours(request, "township.broadcast_not_yours", id=broadcast_id)
        if not await self.storage.broadcasts.cancel(broadcast_id, self.storage.web.now()):
            return self.pages.redirect(f"/broadcasts?finished={broadcast_id}#list")
        await self.storage.web.audit(admin, "cancel", requests.describe(broadcast, self.settings.zone))
        return self.pages.redirect(f"/broadcasts?cancelled={broadcast_id}#list")

    async def progress(self, request: web.Request) -> web.StreamResponse:
        """{"broadcasts": [{"id", "status", "status_label", "active", "targeted", "delivered", …}]}: live progress."""
        who = visitor(request)
        t = translator(who.language)
        ids = [int(v) for v in request.query.getall("id", []) if v.isdecimal()][:LISTED]
        found = []
        for broadcast_id in ids:
            broadcast = await self.storage.broadcasts.get(broadcast_id)
            if broadcast is None or not who.scope.sees_broadcast(self.content.catalog, broadcast, str(who.admin)):
                continue
            counts = (await self.storage.broadcasts.progress(broadcast_id)).as_dict()
            found.append(
                {
                    "id": broadcast.id,
                    "status": broadcast.status,
                    "status_label": t(f"bcast.status_{broadcast.status}"),
                    "active": broadcast.status in ACTIVE,
                    **counts,
                }
            )
        return web.json_response({"broadcasts": found}, headers={"Cache-Control": "no-store"})

    # -- parts ---------------------------------------------------------------------------------------------

    def _draft(self, request: web.Request, compose: Compose, catalog: Catalog) -> requests.Draft:
        return compose.draft(catalog, self.scope(request).township)

    async def _count(self, catalog: Catalog, draft: requests.Draft) -> int:
        channels = self.settings.broadcast_channels
        if not channels:  # no chat channel configured: nobody would receive it (the console never does)
            return 0
        return await requests.audience_size(self.storage, catalog, draft, channels)

    def _when(self, compose: Compose, send_at: int) -> str | None:
        if compose.when != "later":
            return None
        return dt.datetime.fromtimestamp(send_at, self.settings.zone).strftime("%Y-%m-%d %H:%M")

    async def _render(
        self,
        request: web.Request,
        compose: Compose,
        problem: ComposeError | None = None,
        preview: dict[str, Any] | None = None,
        status: int = 200,
    ) -> web.Response:
        catalog = self.content.catalog
        who = visitor(request)
        t = translator(who.language)
        today = self.today()
        shown = await who.scope.broadcasts(self.storage, catalog, str(who.admin), LISTED)
        listed = [await self._listed(b, catalog, t) for b in shown]
        return self.pages.render(
            request,
            "broadcasts.html",
            status=status,
            title_key="web.nav.broadcasts",
            compose=compose,
            problem=t(problem.key, **problem.values) if problem else None,
            preview=preview,
            topics=[(topic, topic.served_tips(today)) for topic in catalog.topics],
            places=who.scope.places(catalog),
            township=None if who.scope.county else who.scope.name(catalog),
            no_channels=not self.settings.broadcast_channels,
            listed=listed,
            notice=_notice(request.query, t),
            now_local=dt.datetime.now(self.settings.zone).strftime("%Y-%m-%dT%H:%M"),
        )

    async def _listed(self, broadcast: Broadcast, catalog: Catalog, t: Translator) -> Listed:
        counts = (await self.storage.broadcasts.progress(broadcast.id)).as_dict()
        return Listed(
            id=broadcast.id,
            when=dt.datetime.fromtimestamp(broadcast.send_at, self.settings.zone).strftime("%Y-%m-%d %H:%M"),
            what=_what(broadcast, catalog, t),
            audience=audience_text(broadcast.audience, catalog, t),
            status=broadcast.status,
            status_label=t(f"bcast.status_{broadcast.status}"),
            counts=counts,
        )


def audience_text(audience: Audience, catalog: Catalog, t: Translator) -> str:
    whole = _whole_township(audience, catalog)
    if whole is not None:  # a township admin's "everybody": its every place
        names = [t("township.whole", township=whole)]
    else:
        names = [(p.name if (p := catalog.place(place)) else place) for place in audience.places]
    names += [
        t("web.audience.topic", topic=c.name(t.language) if (c := catalog.topic(topic)) else topic)
        for topic in audience.topics
    ]
    names += [t("web.audience.language", language=language) for language in audience.languages]
    return "、".join(names) if names else t("web.audience.all")


def _whole_township(audience: Audience, catalog: Catalog) -> str | None:
    """The township whose every place (and nothing else) the audience names, with several townships; else None."""
    if not catalog.multi_township or not audience.places:
        return None
    first = catalog.township_of(audience.places[0])
    own = {p.id for p in catalog.places_of(first)} if first else set()
    if first is None or set(audience.places) != own:
        return None
    township = catalog.township(first)
    return township.name if township else first


def _what(broadcast: Broadcast, catalog: Catalog, t: Translator) -> str:
    campaign = next((c.name for c in catalog.campaigns if c.id == broadcast.campaign_id), None)
    if broadcast.item_id:
        tip = catalog.tip(broadcast.item_id)
        what = tip.title if tip else broadcast.item_id
    else:
        text = " ".join((broadcast.text or "").split())
        what = text if len(text) <= 40 else text[:39] + "…"
    return t("web.broadcasts.campaign", campaign=campaign, what=what) if campaign else what


def shown_message(reply: Reply) -> Shown:
    buttons = tuple(b.label for row in getattr(reply, "buttons", ()) for b in row)
    if isinstance(reply, Image):
        return Shown(reply.title, reply.caption, buttons, image=reply.path.name)
    if isinstance(reply, Text):
        return Shown(reply.title, reply.body, buttons)
    return Shown(None, "", buttons)


def _notice(query: Mapping[str, str], t: Translator) -> str | None:
    for key in ("created", "cancelled", "finished"):
        value = query.get(key, "")
        if value.isdecimal():
            count = query.get("count", "")
            return t(f"web.broadcasts.notice_{key}", id=int(value), count=int(count) if count.isdecimal() else "?")
    return None
