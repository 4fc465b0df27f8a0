"""Broadcast requests: checked, sized and created the same way from the command line, the chat and the web."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.content.model import Catalog
from bot.storage import Audience, Broadcast, Progress, Storage


class BroadcastError(ValueError):
    """A broadcast request that cannot be carried out; the message says why."""


class OutsideTownship(BroadcastError):
    """An admin of one township chose a place of another (or their township has no place to send to)."""

    def __init__(self, township: str, place: str | None) -> None:
        if place:
            what = f"audience place:{place} is not a place of township {township!r}"
        else:
            what = f"township {township!r} has no places in content/places.yaml"
        super().__init__(f"{what}: an admin of {township} sends to its villages and schools only")
        self.township, self.place = township, place


@dataclass(frozen=True)
class Draft:
    item_id: str | None
    text: str | None
    audience: Audience
    image: str | None = None
    topic_id: str | None = None


def validate(catalog: Catalog, draft: Draft, township: str | None = None) -> Draft:
    """Check the content and audience against the catalog; fill in the topic of a tip. With a `township` (an admin
    scoped to one), the audience is kept within its places: everybody becomes everybody there, topics' subscribers
    those there, and a place of another township is refused (OutsideTownship)."""
    if (draft.item_id is None) == (draft.text is None):
        raise BroadcastError("give exactly one of --item ID or --text TEXT")
    topic_id = draft.topic_id
    if draft.item_id is not None:
        tip = catalog.tip(draft.item_id)
        if tip is None:
            raise BroadcastError(f"no tip with id {draft.item_id!r} (see content/topics/)")
        topic_id = topic_id or tip.topic_id
    if draft.text is not None and not draft.text.strip():
        raise BroadcastError("the text is empty")
    if topic_id is not None and catalog.topic(topic_id) is None:
        raise BroadcastError(f"no topic with id {topic_id!r}")
    for topic in draft.audience.topics:
        if catalog.topic(topic) is None:
            raise BroadcastError(f"audience topic:{topic}: no such topic")
    for place in draft.audience.places:
        if catalog.place(place) is None:
            raise BroadcastError(f"audience place:{place}: no such place (see content/places.yaml)")
    for language in draft.audience.languages:
        if language not in ("zh-CN", "en"):
            raise BroadcastError(f"audience lang:{language}: use lang:zh-CN or lang:en")
    audience = draft.audience if township is None else within(catalog, draft.audience, township)
    return Draft(draft.item_id, draft.text, audience, draft.image, topic_id)


def within(catalog: Catalog, audience: Audience, township: str) -> Audience:
    """The audience narrowed to one township's places (kinds combine with AND: topics' subscribers there)."""
    own = tuple(place.id for place in catalog.places_of(township))
    if not own:
        raise OutsideTownship(township, None)  # never an empty place filter: that would mean everybody
    for place in audience.places:
        if place not in own:
            raise OutsideTownship(township, place)
    return Audience(audience.topics, audience.places or own, audience.languages)


async def create(
    storage: Storage,
    catalog: Catalog,
    draft: Draft,
    created_by: str,
    send_at: int,
    now: int,
    township: str | None = None,
) -> int:
    """Queue the broadcast; the running bot's worker sends it from `send_at` on."""
    draft = validate(catalog, draft, township)
    broadcast_id = await storage.broadcasts.create(
        created_by,
        draft.audience,
        send_at,
        now,
        item_id=draft.item_id,
        text=draft.text,
        image=draft.image,
        topic_id=draft.topic_id,
    )
    assert broadcast_id is not None  # only campaign occurrences can collide
    return broadcast_id


async def audience_size(
    storage: Storage, catalog: Catalog, draft: Draft, channels: list[str], township: str | None = None
) -> int:
    """Exactly who would receive it now on the channels that broadcast (the console never does)."""
    draft = validate(catalog, draft, township)
    return await storage.broadcasts.count_audience(draft.audience, draft.topic_id, channels)


def eta_seconds(progress: Progress, rate: float) -> float:
    return progress.pending / rate if rate > 0 else 0.0


def describe(broadcast: Broadcast, zone: dt.tzinfo) -> str:
    when = dt.datetime.fromtimestamp(broadcast.send_at, zone).strftime("%Y-%m-%d %H:%M")
    what = f"tip {broadcast.item_id}" if broadcast.item_id else f"text {_cut(broadcast.text or '', 24)!r}"
    return f"#{broadcast.id} {broadcast.status:<9} {when}  {what}  to {' '.join(broadcast.audience.describe())}"


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def local_timestamp(text: str, zone: dt.tzinfo) -> int:
    """'YYYY-MM-DD HH:MM' in the town's time zone -> unix seconds."""
    moment = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    return int(moment.timestamp())
