"""操作记录: who did what in the console (sign-in, broadcasts, ledger, requests, exports, reloads), and every change
to the ledger from any face (console, chat, CLI) — the two audit trails the storage keeps, newest first.

The ledger's own trail records values before and after, so an edit shows exactly which fields changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.channels.web.render import Section, visitor
from bot.i18n import Translator, translator
from bot.storage.ledger import AuditRecord
from bot.storage.web_sessions import AuditEntry

LISTED = 200
SCANNED = 10_000  # changes read for an admin of one township, before keeping theirs
SHOWN_FIELDS = ("day", "type", "count", "place_id", "topic_id", "title", "location", "speaker", "organiser", "note")


@dataclass(frozen=True)
class ShownAction:
    at: str
    actor: str
    action: str
    detail: str


class Audit(Section):
    async def page(self, request: web.Request) -> web.StreamResponse:
        t = translator(visitor(request).language)
        console = [
            ShownAction(self._moment(e.at), e.actor, t(f"web.audit.action.{e.action}"), _detail(e, t))
            for e in await self.storage.web.audit_log(LISTED)
        ]
        scope, catalog = self.scope(request), self.content.catalog
        # the ledger's trail: an admin of one township sees the changes to its rows only
        limit = LISTED if scope.county else SCANNED
        records = [r for r in await self.storage.ledger.audit(limit=limit) if scope.sees_change(catalog, r)]
        ledger = [
            ShownAction(self._moment(r.at), r.actor, t(f"web.audit.ledger.{r.action}", id=r.entry_id), _changes(r, t))
            for r in reversed(records[-LISTED:])
        ]
        return self.pages.render(request, "audit.html", title_key="web.nav.audit", console=console, ledger=ledger)

    def _moment(self, timestamp: int) -> str:
        return dt.datetime.fromtimestamp(timestamp, self.settings.zone).strftime("%Y-%m-%d %H:%M:%S")


def _detail(entry: AuditEntry, t: Translator) -> str:
    if entry.action == "link_refused":  # the reason code of bot.core.web_links.LinkRefused
        return t(f"web.audit.reason.{entry.detail}")
    return entry.detail


def _changes(record: AuditRecord, t: Translator) -> str:
    """What the change did to the row: its fields for an add or an import, before → after for an edit."""
    before, after = record.before or {}, record.after or {}
    if record.action in ("add", "import"):
        return "；".join(f"{_label(name, t)}：{_value(after.get(name))}" for name in SHOWN_FIELDS if after.get(name))
    if record.action == "edit":
        changed = [name for name in SHOWN_FIELDS if before.get(name) != after.get(name)]
        return "；".join(
            f"{_label(name, t)}：{_value(before.get(name))} → {_value(after.get(name))}" for name in changed
        )
    return ""


def _label(name: str, t: Translator) -> str:
    return t(f"ledger.column.{name.removesuffix('_id')}")


def _value(value: Any) -> str:
    return "—" if value in (None, "") else str(value)
