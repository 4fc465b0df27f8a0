"""The publicity ledger (普法台账): offline activities, recorded by admins, reported beside the online reach.

A row is never removed: a deletion marks it (who, when), every figure leaves it out, and `restore` undoes it.
Each row's natural key (day, type, place or location, topic, count, title) is stored as its fingerprint, unique
over all rows, deleted ones included: the same activity typed twice or imported twice is recorded once, and a file
imported again cannot bring back a row the office deleted. Every change is written, in the same transaction, to
`ledger_audit` with the row before and after as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from bot.storage.db import Database, Row, Transaction

_KEY_SEPARATOR = "\x1f"  # char(31) in migration 11, which computed the fingerprints of older rows
# What an edit may change, in the order the audit log and the listings show them.
EDITABLE = ("day", "type", "count", "place_id", "location", "topic_id", "title", "speaker", "organiser", "note")
_COLUMNS = (
    "id, day, type, count, place_id, location, topic_id, title, speaker, organiser, note, evidence,"
    " created_at, created_by, deleted_at, deleted_by"
)


@dataclass(frozen=True)
class LedgerEntry:
    day: str  # YYYY-MM-DD
    type: str  # an activity type of bot/reporting/activity_types.yaml
    count: int  # attendees, leaflets, banners or plays, in the type's unit
    place_id: str | None = None
    topic_id: str | None = None
    note: str = ""
    id: int | None = None
    title: str = ""  # the activity's name or theme as the office wrote it
    location: str = ""  # 地点 as free text, when it is not a place of places.yaml
    speaker: str = ""  # 主讲人
    organiser: str = ""  # 组织单位
    evidence: tuple[str, ...] = ()  # photos and files, relative to the data directory
    created_at: int | None = None
    created_by: str = ""
    deleted_at: int | None = None
    deleted_by: str | None = None

    @property
    def fingerprint(self) -> str:
        """The natural key: two rows with the same one are the same activity."""
        parts = (self.day, self.type, self.place_id or self.location, self.topic_id or "", str(self.count), self.title)
        return _KEY_SEPARATOR.join(parts)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def record(self) -> dict[str, Any]:
        """The row as the audit log keeps it."""
        kept = {name: getattr(self, name) for name in EDITABLE}
        return {**kept, "evidence": list(self.evidence), "deleted_at": self.deleted_at, "deleted_by": self.deleted_by}


@dataclass(frozen=True)
class Added:
    """What `add` did: the ids of the new rows, and each entry skipped as (its index, the id already there)."""

    ids: tuple[int, ...] = ()
    duplicates: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class AuditRecord:
    id: int
    entry_id: int
    action: str  # add, import, edit, delete, restore
    actor: str
    at: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class DuplicateEntry(Exception):
    """An edit would make the row the same activity as another one."""

    def __init__(self, existing_id: int) -> None:
        super().__init__(f"the same activity is row {existing_id}")
        self.existing_id = existing_id


@dataclass
class _Audit:
    tx: Transaction
    actor: str
    now: int
    rows: list[tuple[int, str, str, int, str | None, str | None]] = field(default_factory=list)

    def __call__(self, entry_id: int, action: str, before: LedgerEntry | None, after: LedgerEntry | None) -> None:
        self.rows.append((entry_id, action, self.actor, self.now, _json(before), _json(after)))

    async def write(self) -> None:
        await self.tx.executemany(
            "INSERT INTO ledger_audit (entry_id, action, actor, at, before, after) VALUES (?, ?, ?, ?, ?, ?)",
            self.rows,
        )


class LedgerStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, entries: Sequence[LedgerEntry], actor: str, now: int, action: str = "add") -> Added:
        """Add the entries not already in the ledger (deleted rows included), in one transaction."""
        ids, duplicates = [], []
        async with self._db.atomic() as tx:
            audit = _Audit(tx, actor, now)
            for index, entry in enumerate(entries):
                existing = await _id_of(tx, entry.fingerprint)
                if existing is not None:
                    duplicates.append((index, existing))
                    continue
                inserted = await tx.fetchone(
                    "INSERT INTO ledger (day, type, count, place_id, location, topic_id, title, speaker, organiser,"
                    " note, evidence, fingerprint, created_at, created_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (*_values(entry), entry.fingerprint, now, actor),
                )
                entry_id = int(inserted[0]) if inserted is not None else 0
                ids.append(entry_id)
                audit(entry_id, action, None, replace(entry, id=entry_id, created_at=now, created_by=actor))
            await audit.write()
        return Added(tuple(ids), tuple(duplicates))

    async def get(self, entry_id: int) -> LedgerEntry | None:
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM ledger WHERE id = ?", (entry_id,))
        return _entry(row) if row is not None else None

    async def between(self, first_day: str, last_day: str, include_deleted: bool = False) -> list[LedgerEntry]:
        deleted = "" if include_deleted else " AND deleted_at IS NULL"
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM ledger WHERE day BETWEEN ? AND ?{deleted} ORDER BY day, id",
            (first_day, last_day),
        )
        return [_entry(row) for row in rows]

    async def fingerprints(self) -> dict[str, int]:
        """Every row's natural key and id, deleted rows included: what an import would duplicate."""
        rows = await self._db.fetchall("SELECT fingerprint, id FROM ledger WHERE fingerprint IS NOT NULL")
        return {row[0]: int(row[1]) for row in rows}

    async def update(self, entry_id: int, changes: Mapping[str, Any], actor: str, now: int) -> LedgerEntry | None:
        """Change fields of a row (those of EDITABLE, and `evidence`); returns the row after, or None when there
        is no such row. Raises DuplicateEntry when the row would become the same activity as another."""
        async with self._db.atomic() as tx:
            row = await tx.fetchone(f"SELECT {_COLUMNS} FROM ledger WHERE id = ?", (entry_id,))
            if row is None:
                return None
            before = _entry(row)
            after = replace(before, **changes)
            if after == before:
                return after
            existing = await _id_of(tx, after.fingerprint)
            if existing not in (None, entry_id):
                raise DuplicateEntry(existing)
            await tx.execute(
                "UPDATE ledger SET day = ?, type = ?, count = ?, place_id = ?, location = ?, topic_id = ?, title = ?,"
                " speaker = ?, organiser = ?, note = ?, evidence = ?, fingerprint = ? WHERE id = ?",
                (*_values(after), after.fingerprint, entry_id),
            )
            audit = _Audit(tx, actor, now)
            audit(entry_id, "edit", before, after)
            await audit.write()
        return after

    async def set_deleted(self, entry_id: int, deleted: bool, actor: str, now: int) -> LedgerEntry | None:
        """Delete (deleted=True) or restore a row; returns the row after, or None when there is no such row or it
        already was in that state."""
        async with self._db.atomic() as tx:
            row = await tx.fetchone(f"SELECT {_COLUMNS} FROM ledger WHERE id = ?", (entry_id,))
            if row is None or _entry(row).deleted == deleted:
                return None
            before = _entry(row)
            after = replace(before, deleted_at=now if deleted else None, deleted_by=actor if deleted else None)
            await tx.execute(
                "UPDATE ledger SET deleted_at = ?, deleted_by = ? WHERE id = ?",
                (after.deleted_at, after.deleted_by, entry_id),
            )
            audit = _Audit(tx, actor, now)
            audit(entry_id, "delete" if deleted else "restore", before, after)
            await audit.write()
        return after

    async def audit(self, entry_id: int | None = None, limit: int = 1000) -> list[AuditRecord]:
        """The latest `limit` changes (of one row, or of all), oldest first."""
        where = "WHERE entry_id = ?" if entry_id is not None else ""
        params: tuple[Any, ...] = (entry_id, limit) if entry_id is not None else (limit,)
        rows = await self._db.fetchall(
            "SELECT * FROM (SELECT id, entry_id, action, actor, at, before, after FROM ledger_audit"
            f" {where} ORDER BY id DESC LIMIT ?) AS recent ORDER BY id",
            params,
        )
        return [
            AuditRecord(
                row["id"],
                row["entry_id"],
                row["action"],
                row["actor"],
                row["at"],
                json.loads(row["before"]) if row["before"] else None,
                json.loads(row["after"]) if row["after"] else None,
            )
            for row in rows
        ]


async def _id_of(tx: Transaction, fingerprint: str) -> int | None:
    row = await tx.fetchone("SELECT id FROM ledger WHERE fingerprint = ?", (fingerprint,))
    return int(row[0]) if row is not None else None


def _values(entry: LedgerEntry) -> tuple[Any, ...]:
    return (
        entry.day,
        entry.type,
        entry.count,
        entry.place_id,
        entry.location,
        entry.topic_id,
        entry.title,
        entry.speaker,
        entry.organiser,
        entry.note,
        json.dumps(list(entry.evidence), ensure_ascii=False),
    )


def _json(entry: LedgerEntry | None) -> str | None:
    return json.dumps(entry.record(), ensure_ascii=False) if entry is not None else None


def _entry(row: Row) -> LedgerEntry:
    names = {f.name for f in fields(LedgerEntry)}
    values = {name: row[name] for name in names if name != "evidence"}
    return LedgerEntry(**values, evidence=tuple(json.loads(row["evidence"] or "[]")))
