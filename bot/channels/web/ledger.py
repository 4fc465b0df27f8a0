"""普法台账: the offline activities of a period (filters by type and place), add, edit, delete with undo, import a
.xlsx/.csv with a preview of what will be imported, skipped and refused, and the template to fill in.

The same rules as `python -m bot ledger` (bot/commands/ledger.py): rows are read by `ledger_io.parse_entry`,
judged by `ledger_io.implausible` (refused unless the admin ticks 「确认无误」, the CLI's --force) and
`plan_import`, and written by `storage.ledger` with the admin's identity in the ledger's own audit. Every change
is also written to the console's audit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from bot.channels.web.overview import chosen_period
from bot.channels.web.render import Pages, Section, download, visitor
from bot.config import Settings
from bot.content.model import Catalog
from bot.content.store import ContentStore
from bot.core.townships import Scope
from bot.i18n import translator
from bot.reporting.activities import ACTIVITY_TYPES, unit_of
from bot.reporting.ledger_io import (
    LedgerImportError,
    ParsedRow,
    PlannedRow,
    Problem,
    describe,
    implausible,
    place_label,
    plan_import,
    read_file,
    render,
    topic_label,
    write_template,
)
from bot.storage import Storage
from bot.storage.ledger import DuplicateEntry, LedgerEntry

FORM_FIELDS = ("day", "type", "count", "place", "topic", "title", "speaker", "organiser", "note")
CHANGEABLE = ("day", "type", "count", "place_id", "location", "topic_id", "title", "speaker", "organiser", "note")
IMPORT_SUFFIXES = (".xlsx", ".xlsm", ".csv")
PENDING_LIFETIME = 30 * 60  # seconds an uploaded file waits for its confirmation
PENDING_KEPT = 20  # uploads waiting at most (oldest dropped)


@dataclass(frozen=True)
class Shown:
    """One ledger row as the list shows it."""

    id: int
    day: str
    type: str
    place: str
    topic: str
    count: str
    title: str
    note: str
    deleted: bool


@dataclass(frozen=True)
class Pending:
    admin: str
    name: str
    data: bytes
    at: float
    township: str | None = None  # the township of the admin who sent it (None: everything)


class Ledger(Section):
    def __init__(
        self, settings: Settings, storage: Storage, content: ContentStore, pages: Pages, today: Callable[[], dt.date]
    ) -> None:
        super().__init__(settings, storage, content, pages, today)
        self._pending: dict[str, Pending] = {}

    # -- the list ------------------------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.StreamResponse:
        catalog = self.content.catalog
        query = request.query
        period, problem = chosen_period(query, self.today(), self.settings.zone)
        kind, place, everything = query.get("type", ""), query.get("place", ""), query.get("all") == "1"
        entries = await self.storage.ledger.between(period.first.isoformat(), period.last.isoformat(), everything)
        entries = self.scope(request).entries(catalog, entries)  # an admin of one township: its rows only
        if kind:
            entries = [e for e in entries if e.type == kind]
        if place:
            entries = [e for e in entries if place in (e.place_id, e.location)]
        t = translator(visitor(request).language)
        return self.pages.render(
            request,
            "ledger.html",
            title_key="web.nav.ledger",
            period=period,
            problem=t(problem) if problem else None,
            kind=kind,
            place=place,
            everything=everything,
            types=list(ACTIVITY_TYPES),
            places=self.scope(request).places(catalog),
            rows=[_shown(e, catalog) for e in entries],
            total=sum(e.count for e in entries if not e.deleted),
            notice=_notice(query, t),
            undo=int(query["deleted"]) if query.get("deleted", "").isdecimal() else None,
        )

    # -- add and edit --------------------------------------------------------------------------------------

    async def new(self, request: web.Request) -> web.StreamResponse:
        return self._form(request, {"day": self.today().isoformat()})

    async def edit_page(self, request: web.Request) -> web.StreamResponse:
        entry = await self._entry(request)
        if (refused := self._not_yours(request, entry)) is not None:
            return refused
        if entry.deleted:
            return self.pages.redirect(f"/ledger?all=1&gone={entry.id}")
        return self._form(request, _values(entry, self.content.catalog), entry_id=entry.id)

    async def add(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        values = _given(form)
        catalog = self.content.catalog
        language = visitor(request).language
        entry, problems = self.scope(request).parse_entry(catalog, values)
        if entry is None:
            return self._form(request, values, problems=render(problems, language), status=400)
        doubts = implausible(entry, catalog, self.today(), self.settings.ledger_max_count)
        if doubts and form.get("force") != "1":
            return self._form(request, values, doubts=render(doubts, language), status=400)
        admin = str(visitor(request).admin)
        added = await self.storage.ledger.add([entry], admin, int(time.time()))
        if added.duplicates:
            return self.pages.redirect(f"/ledger?already={added.duplicates[0][1]}")
        (entry_id,) = added.ids
        await self.storage.web.audit(admin, "ledger_add", f"#{entry_id} {describe(entry, catalog)}")
        return self.pages.redirect(f"/ledger?{_window(entry.day)}&added={entry_id}")

    async def edit(self, request: web.Request) -> web.StreamResponse:
        before = await self._entry(request)
        entry_id = before.id or 0
        if (refused := self._not_yours(request, before)) is not None:
            return refused
        if before.deleted:
            return self.pages.redirect(f"/ledger?all=1&gone={entry_id}")
        form = await request.post()
        values = _given(form)
        catalog = self.content.catalog
        language = visitor(request).language
        entry, problems = self.scope(request).parse_entry(catalog, values)
        if entry is None:
            return self._form(request, values, entry_id=entry_id, problems=render(problems, language), status=400)
        today, limit = self.today(), self.settings.ledger_max_count
        already = set(implausible(before, catalog, today, limit))  # accepted when the row was recorded
        doubts = [p for p in implausible(entry, catalog, today, limit) if p not in already]
        if doubts and form.get("force") != "1":
            return self._form(request, values, entry_id=entry_id, doubts=render(doubts, language), status=400)
        changes = {n: getattr(entry, n) for n in CHANGEABLE if getattr(before, n) != getattr(entry, n)}
        if not changes:
            return self.pages.redirect(f"/ledger?{_window(before.day)}&unchanged={entry_id}")
        admin = str(visitor(request).admin)
        try:
            after = await self.storage.ledger.update(entry_id, changes, admin, int(time.time()))
        except DuplicateEntry as exc:
            message = translator(language)("web.ledger.duplicate", id=exc.existing_id)
            return self._form(request, values, entry_id=entry_id, problems=message, status=400)
        assert after is not None
        await self.storage.web.audit(admin, "ledger_edit", f"#{entry_id} {describe(after, catalog)}")
        return self.pages.redirect(f"/ledger?{_window(after.day)}&edited={entry_id}")

    # -- delete and restore --------------------------------------------------------------------------------

    async def delete(self, request: web.Request) -> web.StreamResponse:
        return await self._set_deleted(request, True)

    async def restore(self, request: web.Request) -> web.StreamResponse:
        return await self._set_deleted(request, False)

    async def _set_deleted(self, request: web.Request, deleted: bool) -> web.StreamResponse:
        entry = await self._entry(request)
        entry_id = entry.id or 0
        if (refused := self._not_yours(request, entry)) is not None:
            return refused
        if entry.deleted != deleted:
            admin = str(visitor(request).admin)
            await self.storage.ledger.set_deleted(entry_id, deleted, admin, int(time.time()))
            action = "ledger_delete" if deleted else "ledger_restore"
            await self.storage.web.audit(admin, action, f"#{entry_id} {describe(entry, self.content.catalog)}")
        key = "deleted" if deleted else "restored"
        return self.pages.redirect(f"/ledger?{_window(entry.day)}&{key}={entry_id}")

    # -- import ------------------------------------------------------------------------------------------

    async def import_page(self, request: web.Request) -> web.StreamResponse:
        return self.pages.render(
            request, "ledger_import.html", title_key="web.ledger.import_title", plan=None, problem=None
        )

    async def upload(self, request: web.Request) -> web.StreamResponse:
        """The file is read and judged, nothing written: the page shows what an import would do."""
        form = await request.post()
        upload = form.get("file")
        t = translator(visitor(request).language)
        if not isinstance(upload, web.FileField) or not upload.filename:
            return self._import_problem(request, t("web.ledger.no_file"))
        name = Path(unquote(upload.filename)).name  # aiohttp's own client %-encodes it; browsers do not
        data = upload.file.read()
        if Path(name).suffix.lower() not in IMPORT_SUFFIXES:
            return self._import_problem(request, render([_unsupported(name)], t.language))
        self._prune()
        token = secrets.token_urlsafe(16)
        who = visitor(request)
        self._pending[token] = Pending(str(who.admin), name, data, time.monotonic(), who.township)
        return await self._preview(request, token, force=form.get("force") == "1")

    async def confirm(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token, force = str(form.get("upload", "")), form.get("force") == "1"
        if form.get("apply") != "1" or force != (form.get("shown_force") == "1"):
            # 「重新核对」, or the box changed since the preview: show what the import would do now
            return await self._preview(request, token, force)
        pending = self._pending.get(token)
        admin = str(visitor(request).admin)
        t = translator(visitor(request).language)
        if pending is None or pending.admin != admin:
            return self._import_problem(request, t("web.ledger.upload_gone"))
        try:
            plan = await self._plan(pending, force)
        except LedgerImportError as exc:
            return self._import_problem(request, render(exc.problems, t.language))
        entries = [row.entry for row in plan if row.status == "import" and row.entry is not None]
        added = await self.storage.ledger.add(entries, admin, int(time.time()), action="import")
        del self._pending[token]
        refused = sum(row.status == "refused" for row in plan)
        skipped = len(plan) - refused - len(entries) + len(added.duplicates)
        summary = t("ledger.import_summary", imported=len(added.ids), skipped=skipped, refused=refused)
        await self.storage.web.audit(admin, "ledger_import", f"{pending.name}: {summary}")
        return self.pages.redirect(f"/ledger?imported={len(added.ids)}&skipped={skipped}&refused={refused}")

    async def template(self, request: web.Request) -> web.StreamResponse:
        scope = self.scope(request)
        catalog = scope.view(self.content.catalog)  # an admin of one township: its places in the drop-down
        town = (self.settings.town or catalog.town) if scope.county else catalog.town
        today, limit = self.today(), self.settings.ledger_max_count
        data = await asyncio.to_thread(_template_bytes, catalog, town, today, limit)
        return download(data, "台账模板.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    async def _preview(self, request: web.Request, token: str, force: bool) -> web.StreamResponse:
        pending = self._pending.get(token)
        admin = str(visitor(request).admin)
        t = translator(visitor(request).language)
        if pending is None or pending.admin != admin:
            return self._import_problem(request, t("web.ledger.upload_gone"))
        try:
            plan = await self._plan(pending, force)
        except LedgerImportError as exc:
            del self._pending[token]
            return self._import_problem(request, f"{pending.name}: {render(exc.problems, t.language)}")
        catalog = self.content.catalog
        rows = [
            {
                "number": row.number,
                "status": row.status,
                "label": t(f"web.ledger.status_{row.status}"),
                "entry": describe(row.entry, catalog) if row.entry is not None else "",
                "why": render(row.problems, t.language),
            }
            for row in plan
        ]
        counts = {status: sum(row.status == status for row in plan) for status in ("import", "duplicate", "refused")}
        forceable = any(p.forceable for row in plan if row.status == "refused" for p in row.problems)
        return self.pages.render(
            request,
            "ledger_import.html",
            title_key="web.ledger.import_title",
            plan=rows,
            counts=counts,
            forceable=forceable,
            force=force,
            token=token,
            name=pending.name,
            problem=None,
        )

    async def _plan(self, pending: Pending, force: bool) -> list[PlannedRow]:
        """What importing the upload would do; an admin of one township's file may hold that township's rows only
        (the others are refused, saying why)."""
        catalog = self.content.catalog
        scope = Scope(pending.township)
        rows = await asyncio.to_thread(_read_upload, pending, scope.view(catalog))
        if not scope.county:
            rows = [_within(scope, catalog, row) for row in rows]
        existing = await self.storage.ledger.fingerprints()
        return plan_import(rows, existing, catalog, self.today(), self.settings.ledger_max_count, force)

    def _import_problem(self, request: web.Request, message: str) -> web.Response:
        return self.pages.render(
            request, "ledger_import.html", status=400, title_key="web.ledger.import_title", plan=None, problem=message
        )

    def _prune(self) -> None:
        now = time.monotonic()
        for token, pending in list(self._pending.items()):
            if now - pending.at > PENDING_LIFETIME:
                del self._pending[token]
        while len(self._pending) >= PENDING_KEPT:
            del self._pending[next(iter(self._pending))]

    # -- parts ---------------------------------------------------------------------------------------------

    async def _entry(self, request: web.Request) -> LedgerEntry:
        entry = await self.storage.ledger.get(int(request.match_info["id"]))
        if entry is None:
            raise web.HTTPNotFound()
        return entry

    def _not_yours(self, request: web.Request, entry: LedgerEntry) -> web.Response | None:
        """403 for a row an admin of one township may not see or change (another township's, or without a place)."""
        if self.scope(request).covers(self.content.catalog, entry.place_id):
            return None
        return self.not_yours(request, "township.ledger_not_yours", id=entry.id)

    def _form(
        self,
        request: web.Request,
        values: Mapping[str, Any],
        entry_id: int | None = None,
        problems: str | None = None,
        doubts: str | None = None,
        status: int = 200,
    ) -> web.Response:
        catalog = self.content.catalog
        return self.pages.render(
            request,
            "ledger_form.html",
            status=status,
            title_key="web.ledger.edit_title" if entry_id else "web.ledger.add_title",
            values={name: "" if values.get(name) is None else str(values[name]) for name in FORM_FIELDS},
            entry_id=entry_id,
            problems=problems,
            doubts=doubts,
            types=list(ACTIVITY_TYPES),
            places=self.scope(request).places(catalog),
            topics=catalog.topics,
            today=self.today().isoformat(),
        )


def _read_upload(pending: Pending, catalog: Catalog) -> list[ParsedRow]:
    """`read_file` reads a path, with the reader its suffix names: the upload is put in a folder of its own."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{Path(pending.name).suffix.lower()}"
        path.write_bytes(pending.data)
        return read_file(path, catalog)


def _within(scope: Scope, catalog: Catalog, row: ParsedRow) -> ParsedRow:
    """A file's row as an admin of one township may import it: refused unless its place is one of the township's."""
    if row.entry is None:
        return row
    refused = scope.refusal(catalog, row.entry)
    return row if refused is None else ParsedRow(row.number, None, (refused,))


def _template_bytes(catalog: Catalog, town: str, today: dt.date, limit: int) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "template.xlsx"
        write_template(path, catalog, town, today, limit)
        return path.read_bytes()


def _given(form: Mapping[str, Any]) -> dict[str, Any]:
    return {name: str(form.get(name, "")).strip() for name in FORM_FIELDS}


def _values(entry: LedgerEntry, catalog: Catalog) -> dict[str, Any]:
    """The form's fields for a row: names where the catalog has them (the form reads them back the same)."""
    return {
        "day": entry.day,
        "type": entry.type,
        "count": entry.count,
        "place": place_label(entry, catalog),
        "topic": entry.topic_id or "",
        "title": entry.title,
        "speaker": entry.speaker,
        "organiser": entry.organiser,
        "note": entry.note,
    }


def _shown(entry: LedgerEntry, catalog: Catalog) -> Shown:
    return Shown(
        id=entry.id or 0,
        day=entry.day,
        type=entry.type,
        place=place_label(entry, catalog),
        topic=topic_label(entry, catalog),
        count=f"{entry.count}{unit_of(entry.type)}",
        title=entry.title,
        note=entry.note,
        deleted=entry.deleted,
    )


def _window(day: str) -> str:
    """The list of the row's year: where the row just changed is seen."""
    year = day[:4]
    return f"from={year}-01-01&to={year}-12-31"


def _unsupported(name: str) -> Problem:
    from bot.reporting.ledger_io import problem

    suffix = Path(name).suffix.lower()
    return problem("old_excel" if suffix in (".xls", ".et", ".wps") else "unsupported")


def _notice(query: Mapping[str, str], t: Any) -> str | None:
    if query.get("imported", "").isdecimal():
        return t(
            "ledger.import_summary",
            imported=int(query["imported"]),
            skipped=_number(query.get("skipped", "")),
            refused=_number(query.get("refused", "")),
        )
    for key in ("added", "edited", "unchanged", "deleted", "restored", "already", "gone"):
        value = query.get(key, "")
        if value.isdecimal():
            return t(f"web.ledger.notice_{key}", id=int(value))
    return None


def _number(text: str) -> int:
    return int(text) if text.isdecimal() else 0
