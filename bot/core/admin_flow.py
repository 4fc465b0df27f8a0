"""The admins' /broadcast dialog: content, audience, preview with the exact count, now or later.

The draft lives in SQLite (`admin_drafts`), so a restart in the middle loses nothing. Only the core
routes here, and only for configured admins.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from bot.config import Identity, Settings
from bot.content.model import Catalog
from bot.core import broadcast_requests as requests
from bot.core import screens
from bot.core.broadcast_requests import local_timestamp
from bot.core.events import Button, Keyboard, Reply, Text
from bot.core.payloads import Action, Payload, encode
from bot.core.townships import Scope, broadcast_refusal
from bot.i18n import Translator
from bot.storage import Audience, Resident, Storage


class BroadcastFlow:
    def __init__(self, storage: Storage, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock

    # -- entry points --------------------------------------------------------------------------

    async def start(self, resident: Resident, t: Translator, catalog: Catalog) -> list[Reply]:
        await self.storage.conversations.save_draft(resident.id, {"step": "content"})
        buttons = [
            Button(topic.label(t.language), encode(Action.BROADCAST_TOPIC, topic.id)) for topic in catalog.topics
        ]
        return [Text(t("bcast.step_content"), buttons=(*screens.rows(buttons), (self._cancel(t),)))]

    async def wants_text(self, resident: Resident) -> bool:
        draft = await self.storage.conversations.draft(resident.id)
        return draft is not None and draft.get("step") in ("content", "time")

    async def text(self, resident: Resident, t: Translator, catalog: Catalog, text: str) -> list[Reply]:
        draft = await self.storage.conversations.draft(resident.id) or {}
        if draft.get("step") == "content":
            draft.update(step="audience", text=text.strip()[:1000], item_id=None)
            await self.storage.conversations.save_draft(resident.id, draft)
            return [self._audience_screen(t, catalog, draft, self.scope(resident))]
        # step "time"
        try:
            send_at = local_timestamp(text, self.settings.zone)
        except ValueError:
            send_at = 0
        if send_at <= self.clock():
            return [Text(t("bcast.bad_time"), buttons=((self._cancel(t),),))]
        return await self._create(resident, t, catalog, draft, send_at)

    async def button(self, resident: Resident, t: Translator, catalog: Catalog, payload: Payload) -> list[Reply]:
        action = payload.action
        if action is Action.BROADCAST_PROGRESS:
            return await self.progress(resident, t, catalog, int(payload.arg)) if payload.arg.isdigit() else []
        draft = await self.storage.conversations.draft(resident.id)
        if action is Action.BROADCAST_CANCEL or draft is None:
            await self.storage.conversations.save_draft(resident.id, None)
            return [Text(t("bcast.cancelled"), buttons=screens.main_menu(t).buttons)]
        if action is Action.BROADCAST_TOPIC:
            topic = catalog.topic(payload.arg)
            tips = topic.served_tips(dt.datetime.now(self.settings.zone).date()) if topic else ()
            buttons = tuple((Button(tip.title, encode(Action.BROADCAST_ITEM, tip.id)),) for tip in tips)
            return [Text(t("bcast.pick_tip"), buttons=(*buttons, (self._cancel(t),)), replace=True)]
        if action is Action.BROADCAST_ITEM:
            if catalog.tip(payload.arg) is None:
                return [Text(t("fallback.stale"))]
            draft.update(step="audience", item_id=payload.arg, text=None)
        elif action is Action.BROADCAST_ALL:
            draft.update(places=[], topics=[])
        elif action is Action.BROADCAST_PLACE:
            draft["places"] = _toggle(draft.get("places", []), payload.arg)
        elif action is Action.BROADCAST_TOPIC_FILTER:
            draft["topics"] = _toggle(draft.get("topics", []), payload.arg)
        elif action is Action.BROADCAST_PREVIEW:
            return await self._preview(resident, t, catalog, draft)
        elif action is Action.BROADCAST_NOW:
            return await self._create(resident, t, catalog, draft, int(self.clock()))
        elif action is Action.BROADCAST_LATER:
            draft["step"] = "time"
            await self.storage.conversations.save_draft(resident.id, draft)
            return [Text(t("bcast.ask_time"), buttons=((self._cancel(t),),))]
        await self.storage.conversations.save_draft(resident.id, draft)
        scope = self.scope(resident)
        return [self._audience_screen(t, catalog, draft, scope, replace=action is not Action.BROADCAST_ITEM)]

    async def listing(self, resident: Resident, t: Translator, catalog: Catalog) -> list[Reply]:
        """The latest broadcasts this admin sees: an admin of one township, those within it."""
        broadcasts = await self.scope(resident).broadcasts(self.storage, catalog, _actor(resident), 10)
        if not broadcasts:
            return [Text(t("bcast.none"))]
        lines = []
        buttons = []
        for broadcast in broadcasts:
            counts = (await self.storage.broadcasts.progress(broadcast.id)).as_dict()
            lines.append(
                f"{requests.describe(broadcast, self.settings.zone)}  ✓{counts['delivered']}/{counts['targeted']}"
            )
            if broadcast.status in ("scheduled", "sending"):
                buttons.append(Button(f"#{broadcast.id}", encode(Action.BROADCAST_PROGRESS, broadcast.id)))
        return [Text("\n".join(lines), title=t("bcast.list_title"), buttons=screens.rows(buttons, 4))]

    async def progress(self, resident: Resident, t: Translator, catalog: Catalog, broadcast_id: int) -> list[Reply]:
        broadcast = await self.storage.broadcasts.get(broadcast_id)
        if broadcast is None:
            return [Text(t("fallback.stale"))]
        scope = self.scope(resident)
        if not scope.sees_broadcast(catalog, broadcast, _actor(resident)):
            return [Text(t("township.broadcast_not_yours", id=broadcast_id, township=scope.name(catalog)))]
        progress = await self.storage.broadcasts.progress(broadcast_id)
        counts = progress.as_dict()
        body = t(
            "bcast.progress",
            id=broadcast.id,
            status=t(f"bcast.status_{broadcast.status}"),
            eta=round(requests.eta_seconds(progress, self.settings.broadcast_rate)),
            **counts,
        )
        refresh = Button(t("bcast.progress_button"), encode(Action.BROADCAST_PROGRESS, broadcast.id))
        return [Text(body, buttons=((refresh,),), replace=True)]

    # -- steps ---------------------------------------------------------------------------------

    def scope(self, resident: Resident) -> Scope:
        return Scope.of(self.settings, Identity(resident.channel, resident.external_id))

    def _audience_screen(
        self, t: Translator, catalog: Catalog, draft: dict[str, Any], scope: Scope, replace: bool = False
    ) -> Text:
        places, topics = set(draft.get("places", [])), set(draft.get("topics", []))
        place_buttons = [
            Button(
                ("✅ " if p.id in places else "") + self._place_label(t, catalog, scope, p.id),
                encode(Action.BROADCAST_PLACE, p.id),
            )
            for p in scope.places(catalog)
        ]
        topic_buttons = [
            Button(("✅ " if c.id in topics else "") + c.label(t.language), encode(Action.BROADCAST_TOPIC_FILTER, c.id))
            for c in catalog.topics
        ]
        everybody = t("bcast.everyone") if scope.county else t("township.everyone", township=scope.name(catalog))
        everyone = Button(("✅ " if not places and not topics else "") + everybody, encode(Action.BROADCAST_ALL))
        keyboard: Keyboard = (
            (everyone,),
            *screens.rows(place_buttons, 3),
            *screens.rows(topic_buttons),
            (Button(t("bcast.next"), encode(Action.BROADCAST_PREVIEW)), self._cancel(t)),
        )
        return Text(t("bcast.step_audience"), buttons=keyboard, replace=replace)

    @staticmethod
    def _place_label(t: Translator, catalog: Catalog, scope: Scope, place_id: str) -> str:
        """A place's button: after its township's name for a county admin of several (two may have a 茶园村)."""
        if scope.county:
            return screens.place_name(t, catalog, place_id)
        place = catalog.place(place_id)
        return place.name if place else place_id

    def _draft(self, draft: dict[str, Any]) -> requests.Draft:
        specs = [f"place:{p}" for p in draft.get("places", [])] + [f"topic:{c}" for c in draft.get("topics", [])]
        return requests.Draft(draft.get("item_id"), draft.get("text"), Audience.parse(specs))

    async def _preview(self, resident: Resident, t: Translator, catalog: Catalog, draft: dict[str, Any]) -> list[Reply]:
        scope = self.scope(resident)
        chosen = self._draft(draft)
        try:
            request = requests.validate(catalog, chosen, scope.township)
        except requests.BroadcastError as exc:
            return [Text(broadcast_refusal(t, catalog, exc), buttons=((self._cancel(t),),))]
        count = await requests.audience_size(self.storage, catalog, request, self.settings.broadcast_channels)
        if count == 0:
            return [Text(t("bcast.nobody")), self._audience_screen(t, catalog, draft, scope)]
        content = screens.BroadcastContent(item_id=request.item_id, text=request.text, topic_id=request.topic_id)
        shown = screens.broadcast_message(content, catalog, t.language, self.settings.content_dir) or []
        places = [(catalog.place(p).name if catalog.place(p) else p) for p in chosen.audience.places]
        topics = [(catalog.topic(c).title if catalog.topic(c) else c) for c in chosen.audience.topics]
        if places or scope.county:
            audience = "、".join(places + topics) or t("bcast.audience_all")
        elif topics:  # the topics' subscribers in the township only
            audience = t("township.audience_topics", township=scope.name(catalog), topics="、".join(topics))
        else:
            audience = t("township.audience_all", township=scope.name(catalog))
        summary = Text(
            t("bcast.preview", audience=audience, count=count),
            title=t("bcast.preview_title"),
            buttons=(
                (
                    Button(t("bcast.now"), encode(Action.BROADCAST_NOW)),
                    Button(t("bcast.later"), encode(Action.BROADCAST_LATER)),
                ),
                (self._cancel(t),),
            ),
        )
        # The preview shows the message itself, without buttons or a reach event: it is not a delivery.
        preview = [Text(r.body, title=r.title) for r in shown if isinstance(r, Text)]
        return [*preview, summary]

    async def _create(
        self, resident: Resident, t: Translator, catalog: Catalog, draft: dict[str, Any], send_at: int
    ) -> list[Reply]:
        township = self.scope(resident).township
        try:
            request = requests.validate(catalog, self._draft(draft), township)
        except requests.BroadcastError as exc:
            return [Text(broadcast_refusal(t, catalog, exc))]
        count = await requests.audience_size(self.storage, catalog, request, self.settings.broadcast_channels)
        broadcast_id = await requests.create(
            self.storage, catalog, request, _actor(resident), send_at, int(self.clock()), township
        )
        await self.storage.conversations.save_draft(resident.id, None)
        progress = Button(t("bcast.progress_button"), encode(Action.BROADCAST_PROGRESS, broadcast_id))
        if send_at > self.clock() + 5:
            when = dt.datetime.fromtimestamp(send_at, self.settings.zone).strftime("%Y-%m-%d %H:%M")
            return [Text(t("bcast.scheduled", id=broadcast_id, when=when, count=count), buttons=((progress,),))]
        return [Text(t("bcast.started", id=broadcast_id, count=count), buttons=((progress,),))]

    def _cancel(self, t: Translator) -> Button:
        return Button(t("bcast.cancel"), encode(Action.BROADCAST_CANCEL))


def _actor(resident: Resident) -> str:
    return f"{resident.channel}:{resident.external_id}"


def _toggle(values: list[str], value: str) -> list[str]:
    return [v for v in values if v != value] if value in values else [*values, value]
