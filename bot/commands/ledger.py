"""`ledger add|import|list|edit|delete|restore|audit|template`: the publicity ledger (普法台账) of offline activities.

Every change goes to the ledger's audit log as `cli:<login name>`. The clerks who keep the ledger read Chinese:
the messages come from the `ledger` section of the message catalog, in Chinese.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import time
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.commands.common import (
    EXIT_FAILURE,
    EXIT_OK,
    Argument,
    Failure,
    Subparsers,
    UsageError,
    actions,
    arg,
    command,
    login_name,
    period,
    period_arguments,
    with_storage,
)
from bot.commands.statistics import town_argument, town_places
from bot.config import Settings
from bot.i18n import DEFAULT_LANGUAGE, Translator

if TYPE_CHECKING:
    from bot.content.model import Catalog
    from bot.reporting.ledger_io import Problem
    from bot.storage import Storage
    from bot.storage.ledger import AuditRecord, LedgerEntry

t = Translator(DEFAULT_LANGUAGE)
TYPES = "进村宣传, 进校园, 法治讲座, 悬挂横幅, 发放资料, 村村响广播, 其他 (bot/reporting/activity_types.yaml)"
EVIDENCE_FOLDER = "ledger-evidence"  # beside the database: <data dir>/ledger-evidence/<id>/
CELL_WIDTH = 24  # display columns a free-text cell of `ledger list` shows at most
CLIPPED = ("place", "title", "speaker", "organiser", "note")
# The options of add and edit, and the entry fields each one sets (for edit: what changes).
FIELDS = {
    "date": ("day", ("day",)),
    "type": ("type", ("type",)),
    "count": ("count", ("count",)),
    "place": ("place", ("place_id", "location")),
    "topic": ("topic", ("topic_id", "title")),
    "title": ("title", ("title",)),
    "speaker": ("speaker", ("speaker",)),
    "organiser": ("organiser", ("organiser",)),
    "note": ("note", ("note",)),
}


def register(commands: Subparsers) -> None:
    ledger = command(
        commands,
        "ledger",
        "the publicity ledger (普法台账) of offline activities",
        "python -m bot ledger add --date 2026-12-04 --type 进村宣传 --place hexi-village --count 80",
    )
    ledger_actions = actions(
        ledger, "ledger_command", "choose an action: add, import, list, edit, delete, restore, audit, template"
    )
    command(
        ledger_actions,
        "add",
        "record one activity",
        "python -m bot ledger add --date 2026-12-04 --type 发放资料 --count 300 --topic 宪法 --evidence 照片.jpg",
        *_field_options(required=True),
        handler=_add,
    )
    command(
        ledger_actions,
        "import",
        "import rows from .csv (UTF-8 or GBK) or .xlsx; rows already in the ledger are skipped",
        "python -m bot ledger import 台账2026.xlsx --dry-run",
        arg("file", type=Path),
        arg("--dry-run", action="store_true", help="show what would be imported, skipped and refused; write nothing"),
        arg("--force", action="store_true", help="also import rows that look wrong (see ledger add --help)"),
        handler=_import,
    )
    command(
        ledger_actions,
        "list",
        "the activities of a period, with their ids",
        "python -m bot ledger list --from 2026-01-01 --to 2026-12-31 --all",
        *period_arguments(described=True),
        arg("--all", action="store_true", help="include deleted rows"),
        town_argument("only the rows at this township's places (a row whose place is free text is the county's)"),
        handler=_list,
    )
    command(
        ledger_actions,
        "edit",
        "correct a row: only the options given change",
        "python -m bot ledger edit 12 --count 80 --note 村部会议室",
        arg("id", type=int, help="the row's id (编号, see ledger list)"),
        *_field_options(required=False),
        handler=_edit,
    )
    command(
        ledger_actions,
        "delete",
        "delete a row: it is kept, marked deleted, and no longer counts; restore undoes it",
        "python -m bot ledger delete 12",
        arg("id", type=int, help="the row's id (编号, see ledger list)"),
        handler=_delete,
    )
    command(
        ledger_actions,
        "restore",
        "undo the deletion of a row",
        "python -m bot ledger restore 12",
        arg("id", type=int, help="the row's id (编号, see ledger list --all)"),
        handler=_restore,
    )
    command(
        ledger_actions,
        "audit",
        "every change to the ledger: who, when, before and after",
        "python -m bot ledger audit --id 12",
        arg("--id", type=int, help="only the changes of this row"),
        arg("--limit", type=int, default=200, help="the latest N changes (default 200)"),
        handler=_audit,
    )
    command(
        ledger_actions,
        "template",
        "write an .xlsx template to fill in, with drop-down lists of activity types and places",
        "python -m bot ledger template --out 台账模板.xlsx",
        arg("--out", type=Path, default=Path("台账模板.xlsx"), help="where to write it (default 台账模板.xlsx)"),
        handler=_template,
    )


def _field_options(required: bool) -> tuple[Argument, ...]:
    return (
        arg("--date", required=required, help="2026-08-01, 2026/8/1 or 2026年8月1日"),
        arg("--type", required=required, help=TYPES),
        arg("--count", required=required, help="attendees (人次), leaflets (份), banners (条) or plays (次)"),
        arg("--place", help="a place of places.yaml (id or name), or any place as text"),
        arg("--topic", help="a topic (id or title, e.g. 禁毒), or a theme as text"),
        arg("--title", help="the activity's name (活动名称)"),
        arg("--speaker", help="主讲人"),
        arg("--organiser", "--organizer", dest="organiser", help="组织单位"),
        arg("--note", help="备注"),
        arg(
            "--evidence",
            action="append",
            type=Path,
            default=[],
            metavar="FILE",
            help=f"a photo or file to keep with the row, copied to <data dir>/{EVIDENCE_FOLDER}/<id>/ (repeatable)",
        ),
        arg(
            "--force",
            action="store_true",
            help="record values that look wrong: a future date or one before 2000, a count above LEDGER_MAX_COUNT, "
            "an audience larger than the place's population",
        ),
    )


# -- handlers ----------------------------------------------------------------------------------------


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.ledger_io import describe, implausible, parse_entry, render

    async def work(storage: Storage, catalog: Catalog) -> int:
        files = _evidence_files(args.evidence)
        entry, problems = parse_entry(catalog, _given(args))
        if entry is None:
            raise UsageError(render(problems))
        _confirm(implausible(entry, catalog, _today(settings), settings.ledger_max_count), args.force)
        added = await storage.ledger.add([entry], _actor(), _now())
        if added.duplicates:
            print(t("ledger.already", id=added.duplicates[0][1]))
            return EXIT_OK
        (entry_id,) = added.ids
        print(t("ledger.added", id=entry_id, entry=describe(entry, catalog)))
        if files:
            stored = _store_evidence(settings, entry_id, files)
            await storage.ledger.update(entry_id, {"evidence": stored}, _actor(), _now())
        return EXIT_OK

    return with_storage(settings, work)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.ledger_io import LedgerImportError, describe, plan_import, problem, read_file, render

    async def work(storage: Storage, catalog: Catalog) -> int:
        if not args.file.is_file():
            raise Failure(problem("no_file", path=args.file).render())
        try:
            rows = read_file(args.file, catalog)
        except LedgerImportError as exc:
            raise Failure(f"{args.file}: {render(exc.problems)}") from None
        existing = await storage.ledger.fingerprints()
        plan = plan_import(rows, existing, catalog, _today(settings), settings.ledger_max_count, args.force)
        refused = [row for row in plan if row.status == "refused"]
        imported = [row for row in plan if row.status == "import"]
        skipped = len(plan) - len(refused) - len(imported)
        if args.dry_run:
            for row in plan:
                if row.status == "import" and row.entry is not None:
                    print(t("ledger.row_import", row=row.number, entry=describe(row.entry, catalog)))
                else:
                    key = "ledger.row_refuse" if row.status == "refused" else "ledger.row_skip"
                    print(t(key, row=row.number, reason=render(row.problems)))
            print(t("ledger.dry_run_summary", imported=len(imported), skipped=skipped, refused=len(refused)))
        else:
            entries = [row.entry for row in imported if row.entry is not None]
            added = await storage.ledger.add(entries, _actor(), _now(), action="import")
            for row in refused:
                print(t("ledger.row_refuse", row=row.number, reason=render(row.problems)))
            skipped += len(added.duplicates)  # written meanwhile by someone else
            print(t("ledger.import_summary", imported=len(added.ids), skipped=skipped, refused=len(refused)))
        if refused:
            if not args.force and any(p.forceable for row in refused for p in row.problems):
                print(t("ledger.force_cli"))
            print(t("ledger.fix_and_reimport"))
            return EXIT_FAILURE
        return EXIT_OK

    return with_storage(settings, work)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.activities import unit_of
    from bot.reporting.ledger_io import place_label, topic_label

    days = period(settings, args.first, args.last)

    async def work(storage: Storage, catalog: Catalog) -> int:
        places = town_places(catalog, args.town)
        entries = await storage.ledger.between(days.first.isoformat(), days.last.isoformat(), args.all)
        if places is not None:
            entries = [e for e in entries if e.place_id in places]
        if not entries:
            print(t("ledger.no_rows"))
            return EXIT_OK
        first_of: dict[str, int] = {}
        rows = []
        for e in entries:
            status = ""
            if e.deleted:
                status = t("ledger.deleted_flag", actor=e.deleted_by, day=_when(settings, e.deleted_at or 0)[:10])
            elif e.fingerprint in first_of:  # doubled before duplicates were refused (migration 11)
                status = t("ledger.duplicate_flag", id=first_of[e.fingerprint])
            else:
                first_of[e.fingerprint] = e.id or 0
            rows.append(
                {
                    "id": str(e.id),
                    "day": e.day,
                    "type": e.type,
                    "place": place_label(e, catalog),
                    "topic": topic_label(e, catalog),
                    "count": f"{e.count}{unit_of(e.type)}",
                    "title": e.title,
                    "speaker": e.speaker,
                    "organiser": e.organiser,
                    "note": e.note,
                    "evidence": str(len(e.evidence)) if e.evidence else "",
                    "status": status,
                }
            )
        always = ("id", "day", "type", "place", "topic", "count")
        columns = [c for c in rows[0] if c in always or any(row[c] for row in rows)]
        table = [[_clip(row[c]) if c in CLIPPED else row[c] for c in columns] for row in rows]
        print(_table([t(f"ledger.column.{c}") for c in columns], table))
        deleted = sum(e.deleted for e in entries)
        if deleted:
            print(t("ledger.total_with_deleted", count=len(entries), deleted=deleted))
        else:
            print(t("ledger.total", count=len(entries)))
        return EXIT_OK

    return with_storage(settings, work)


def _edit(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.ledger_io import implausible, parse_entry, read_topic, render, values_of
    from bot.storage.ledger import DuplicateEntry

    given = {key: value for key, value in _given(args).items() if value is not None}
    if not given and not args.evidence:
        raise UsageError(t("ledger.nothing_to_edit"))

    async def work(storage: Storage, catalog: Catalog) -> int:
        before = await _row(storage, args.id)
        if before.deleted:
            raise Failure(t("ledger.edit_deleted", id=args.id))
        files = _evidence_files(args.evidence)
        values = values_of(before) | given
        if "topic" in given and "title" not in given and read_topic(catalog, given["topic"], "")[1]:
            values["title"] = ""  # a theme given as text replaces the old one
        entry, problems = parse_entry(catalog, values)
        if entry is None:
            raise UsageError(render(problems))
        today, limit = _today(settings), settings.ledger_max_count
        already = set(implausible(before, catalog, today, limit))  # accepted when the row was recorded
        _confirm([p for p in implausible(entry, catalog, today, limit) if p not in already], args.force)
        changed = {name for option, (_, names) in FIELDS.items() if option in _options(given) for name in names}
        changes: dict[str, Any] = {name: getattr(entry, name) for name in sorted(changed)}
        changes = {name: value for name, value in changes.items() if getattr(before, name) != value}
        if files:
            changes["evidence"] = before.evidence + _store_evidence(settings, before.id or 0, files)
        if not changes:
            print(t("ledger.unchanged", id=args.id))
            return EXIT_OK
        try:
            after = await storage.ledger.update(args.id, changes, _actor(), _now())
        except DuplicateEntry as exc:
            raise Failure(t("ledger.edit_duplicate", id=exc.existing_id)) from None
        assert after is not None
        print(t("ledger.edited", id=args.id, changes=_diff(before, after, catalog)))
        return EXIT_OK

    return with_storage(settings, work)


def _delete(args: argparse.Namespace, settings: Settings) -> int:
    return _set_deleted(args.id, True, settings)


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    return _set_deleted(args.id, False, settings)


def _set_deleted(entry_id: int, deleted: bool, settings: Settings) -> int:
    async def work(storage: Storage, catalog: Catalog) -> int:
        entry = await _row(storage, entry_id)
        if entry.deleted == deleted:
            raise Failure(t("ledger.already_deleted" if deleted else "ledger.not_deleted", id=entry_id))
        await storage.ledger.set_deleted(entry_id, deleted, _actor(), _now())
        print(t("ledger.deleted" if deleted else "ledger.restored", id=entry_id))
        return EXIT_OK

    return with_storage(settings, work)


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    async def work(storage: Storage, catalog: Catalog) -> int:
        records = await storage.ledger.audit(args.id, max(1, args.limit))
        if not records:
            print(t("ledger.no_audit"))
            return EXIT_OK
        header = [t(f"ledger.column.{c}") for c in ("at", "actor", "action", "id", "change")]
        rows = [
            [_when(settings, r.at), r.actor, t(f"ledger.action.{r.action}"), str(r.entry_id), _change(r, catalog)]
            for r in records
        ]
        print(_table(header, rows))
        return EXIT_OK

    return with_storage(settings, work)


def _template(args: argparse.Namespace, settings: Settings) -> int:
    from bot.content.store import ContentStore
    from bot.reporting.ledger_io import write_template

    catalog = ContentStore.load(settings.content_dir).catalog
    town = settings.town or catalog.town
    write_template(args.out, catalog, town, _today(settings), settings.ledger_max_count)
    print(t("ledger.template_written", path=args.out))
    return EXIT_OK


# -- helpers -----------------------------------------------------------------------------------------


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The options of add/edit as parse_entry's named values (None where not given)."""
    return {key: getattr(args, option) for option, (key, _) in FIELDS.items()}


def _options(given: dict[str, Any]) -> set[str]:
    return {option for option, (key, _) in FIELDS.items() if key in given}


def _confirm(doubts: list[Problem], force: bool) -> None:
    from bot.reporting.ledger_io import render

    if doubts and not force:
        raise Failure(f"{render(doubts)}。{t('ledger.force_cli')}")


async def _row(storage: Storage, entry_id: int) -> LedgerEntry:
    entry = await storage.ledger.get(entry_id)
    if entry is None:
        raise Failure(t("ledger.not_found", id=entry_id))
    return entry


def _evidence_files(paths: list[Path]) -> list[Path]:
    from bot.reporting.ledger_io import problem

    for path in paths:
        if not path.is_file():
            raise UsageError(problem("no_evidence", path=path).render())
    return paths


def _store_evidence(settings: Settings, entry_id: int, files: list[Path]) -> tuple[str, ...]:
    """Copy the files under the data directory; their paths relative to it, as the row keeps them."""
    data_dir = settings.data_dir
    folder = data_dir / EVIDENCE_FOLDER / str(entry_id)
    folder.mkdir(parents=True, exist_ok=True)
    stored = []
    for source in files:
        target = folder / source.name
        number = 1
        while target.exists():
            number += 1
            target = folder / f"{source.stem}-{number}{source.suffix}"
        shutil.copy2(source, target)
        stored.append(target.relative_to(data_dir).as_posix())
    print(t("ledger.evidence_saved", count=len(stored), folder=folder))
    return tuple(stored)


def _diff(before: LedgerEntry, after: LedgerEntry, catalog: Catalog) -> str:
    """「数量 99999 → 80；备注 （空） → 村部」: the fields that differ, with names instead of ids."""
    from bot.reporting.ledger_io import place_label, topic_label

    def shown(entry: LedgerEntry) -> dict[str, str]:
        return {
            "day": entry.day,
            "type": entry.type,
            "count": str(entry.count),
            "place": place_label(entry, catalog),
            "topic": topic_label(entry, catalog),
            "title": entry.title,
            "speaker": entry.speaker,
            "organiser": entry.organiser,
            "note": entry.note,
            "evidence": "、".join(entry.evidence),
        }

    old, new = shown(before), shown(after)
    empty = t("ledger.empty_value")
    return t("ledger.separator").join(
        f"{t(f'ledger.column.{name}')} {old[name] or empty} → {new[name] or empty}"
        for name in old
        if old[name] != new[name]
    )


def _change(record: AuditRecord, catalog: Catalog) -> str:
    from bot.reporting.ledger_io import describe

    before = _from_record(record.before) if record.before else None
    after = _from_record(record.after) if record.after else None
    if record.action == "edit" and before is not None and after is not None:
        return _diff(before, after, catalog)
    shown = after or before
    return describe(shown, catalog) if shown is not None else ""


def _from_record(record: dict[str, Any]) -> LedgerEntry:
    from bot.storage.ledger import EDITABLE, LedgerEntry

    return LedgerEntry(**{name: record.get(name) for name in EDITABLE}, evidence=tuple(record.get("evidence") or ()))


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Columns aligned for Chinese: a CJK character takes two columns of the terminal."""
    cells = [header, *rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell + " " * (width - _width(cell)) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def _width(text: str) -> int:
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text
    )


def _clip(text: str) -> str:
    if _width(text) <= CELL_WIDTH:
        return text
    while _width(text) > CELL_WIDTH - 1:
        text = text[:-1]
    return text + "…"


def _when(settings: Settings, timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, settings.zone).strftime("%Y-%m-%d %H:%M")


def _today(settings: Settings) -> dt.date:
    return dt.datetime.now(settings.zone).date()


def _now() -> int:
    return int(time.time())


def _actor() -> str:
    return f"cli:{login_name()}"
