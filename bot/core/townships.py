"""Townships as tenants: what one admin may see and act on.

A county deployment serves many townships (content/places.yaml `townships:`). An admin scoped to one
(`BOT_ADMINS=telegram:123@zhoujiadian`) sees, sends to and exports only that township: residents and reach by their
place, broadcasts whose audience lies within its places, ledger rows and residents' requests whose place is one of
its places. An admin without a scope (a county admin) sees everything, and so does every admin of a deployment of
one town. The chat dialogs and the web console ask the same `Scope`, so both faces draw the same line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.config import Identity, Settings
from bot.content.model import Catalog, Place, Township
from bot.core.broadcast_requests import BroadcastError, OutsideTownship
from bot.i18n import Translator
from bot.reporting.ledger_io import Problem, parse_entry, problem
from bot.reporting.statistics import Period, Statistics, collect
from bot.storage import Broadcast, HelpRequest, Storage
from bot.storage.ledger import AuditRecord, LedgerEntry

SCAN = 10_000  # rows read before filtering by township (broadcasts, open requests): far more than a county has


@dataclass(frozen=True)
class Scope:
    """The township an admin acts for; `township` None: the whole deployment (a county admin)."""

    township: str | None = None

    @classmethod
    def of(cls, settings: Settings, identity: Identity) -> Scope:
        return cls(settings.township_of_admin(identity))

    @property
    def county(self) -> bool:
        return self.township is None

    def name(self, catalog: Catalog) -> str:
        """The township's name (its id when the content does not know it); the town's name for a county admin."""
        if self.township is None:
            return catalog.town
        township = catalog.township(self.township)
        return township.name if township else self.township

    def places(self, catalog: Catalog) -> tuple[Place, ...]:
        """The places this admin may choose: every place, or the township's."""
        return catalog.places if self.township is None else catalog.places_of(self.township)

    def covers(self, catalog: Catalog, place_id: str | None) -> bool:
        """A place this admin may see and act for. A county admin: every place, and none; a scoped admin: their
        township's places only (not a row without a place, not a place the content no longer has)."""
        if self.township is None:
            return True
        return place_id is not None and catalog.township_of(place_id) == self.township

    def view(self, catalog: Catalog) -> Catalog:
        """The content as this admin's reports show it: for a scoped admin, their township alone, named as the town
        (the report's 我镇, the export's title), with only its places (tables, charts, the ledger template)."""
        if self.township is None:
            return catalog
        township = catalog.township(self.township) or Township(self.township, self.township)
        return dataclasses.replace(
            catalog, town=township.name, places=catalog.places_of(self.township), townships=(township,)
        )

    # -- what a scoped admin sees -----------------------------------------------------------------------

    def sees_broadcast(self, catalog: Catalog, broadcast: Broadcast, admin: str) -> bool:
        """A broadcast of this admin's own, or one sent only to places of their township. A broadcast to everybody
        (or to topics' subscribers everywhere) is the county's."""
        if self.township is None or broadcast.created_by == admin:
            return True
        places = broadcast.audience.places
        return bool(places) and all(self.covers(catalog, place) for place in places)

    def entries(self, catalog: Catalog, entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
        return [entry for entry in entries if self.covers(catalog, entry.place_id)]

    def requests(self, catalog: Catalog, requests: Iterable[HelpRequest]) -> list[HelpRequest]:
        return [request for request in requests if self.covers(catalog, request.place_id)]

    def sees_change(self, catalog: Catalog, record: AuditRecord) -> bool:
        """A change of the ledger's audit trail: shown when the row was, or became, one of the township's."""
        if self.township is None:
            return True
        return any(self.covers(catalog, (side or {}).get("place_id")) for side in (record.before, record.after))

    # -- acting -----------------------------------------------------------------------------------------

    def parse_entry(self, catalog: Catalog, values: Mapping[str, Any]) -> tuple[LedgerEntry | None, list[Problem]]:
        """A ledger row as `ledger_io.parse_entry` reads it; for a scoped admin its place must be one of the
        township's (a place's name is looked up among the township's places first)."""
        if self.township is None:
            return parse_entry(catalog, values)
        entry, problems = parse_entry(self.view(catalog), values)
        if entry is None:
            return entry, problems
        refused = self.refusal(catalog, entry)
        return (None, [refused]) if refused else (entry, [])

    def refusal(self, catalog: Catalog, entry: LedgerEntry) -> Problem | None:
        """Why a scoped admin may not record this row (None: they may)."""
        if self.covers(catalog, entry.place_id):
            return None
        township = self.name(catalog)
        written = entry.location or entry.place_id or ""
        elsewhere = catalog.place(entry.place_id) if entry.place_id else _named(catalog, written)
        if elsewhere is not None:
            other = catalog.township(elsewhere.township_id)
            return problem(
                "other_township",
                place=elsewhere.name,
                other=other.name if other else elsewhere.township_id,
                township=township,
            )
        return problem("township_place_needed", township=township)

    async def collect(self, storage: Storage, catalog: Catalog, period: Period) -> tuple[Statistics, Catalog]:
        """The period's figures this admin may see, and the content to show them with (`view`)."""
        if self.township is None:
            return await collect(storage, catalog, period), catalog
        view = self.view(catalog)
        return await collect(storage, view, period, township=self.township), view  # type: ignore[call-arg]

    async def requests_listed(
        self, storage: Storage, catalog: Catalog, limit: int, include_done: bool = False
    ) -> list[HelpRequest]:
        """The open requests (with `include_done`, the done ones too) this admin sees, open ones first, newest first."""
        if self.township is None:
            return await storage.requests.listing(include_done=include_done, limit=limit)
        found = await storage.requests.listing(include_done=include_done, limit=SCAN)
        return self.requests(catalog, found)[:limit]

    async def may_mark_done(self, storage: Storage, catalog: Catalog, request_id: int) -> bool:
        """False for an open request of another township: a scoped admin marks done their township's only. (A
        request that is not open cannot be marked done by anybody: the store says so.)"""
        if self.township is None:
            return True
        found = await storage.requests.listing(limit=SCAN)
        return all(self.covers(catalog, r.place_id) for r in found if r.id == request_id)

    async def broadcasts(self, storage: Storage, catalog: Catalog, admin: str, limit: int) -> list[Broadcast]:
        """The latest broadcasts this admin sees, newest first."""
        if self.township is None:
            return await storage.broadcasts.recent(limit)
        found = await storage.broadcasts.recent(SCAN)
        return [b for b in found if self.sees_broadcast(catalog, b, admin)][:limit]


def broadcast_refusal(t: Translator, catalog: Catalog, error: BroadcastError) -> str:
    """Why a broadcast cannot be sent, in the admin's words when it is a township's limit (the rest as the CLI)."""
    if not isinstance(error, OutsideTownship):
        return str(error)
    key, values = outside_township(catalog, error)
    return t(key, **values)


def outside_township(catalog: Catalog, error: OutsideTownship) -> tuple[str, dict[str, str]]:
    """The catalog key and values that say why a township's admin cannot send this broadcast."""
    township = catalog.township(error.township)
    name = township.name if township else error.township
    if error.place is None:
        return "township.no_places", {"township": name}
    place = catalog.place(error.place)
    return "township.outside", {"place": place.name if place else error.place, "township": name}


def _named(catalog: Catalog, text: str) -> Place | None:
    """The place a ledger row's free-text location names, by id or name, anywhere in the content."""
    wanted = "".join(text.split()).lower()
    if not wanted:
        return None
    return next((p for p in catalog.places if wanted in (p.id, "".join(p.name.split()).lower())), None)
