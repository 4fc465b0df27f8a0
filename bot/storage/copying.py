"""Moving an office's SQLite database to another database (PostgreSQL, for a county): every table, every row.

The source is brought to the current schema first (opened once through `Storage`, which migrates it and imports
any events spilled beside it), then read with a plain read-only connection, table by table in the order of their
foreign keys, and written to the target in batches, all in one transaction: a copy that fails leaves the target
as empty as it was. The target must be empty (a fresh database, migrated by the bot itself). Afterwards the
target's own id counters continue after the copied ids.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.storage.db import Database

BATCH = 5000  # rows per INSERT batch
BOOKKEEPING = ("schema_migrations",)  # written by the target's own migrations


class TargetNotEmpty(Exception):
    """The target already holds data: refuse rather than mix two offices' records."""


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def equal(self) -> bool:
        return self.source == self.target


def source_tables(path: Path) -> list[str]:
    """The source's tables, parents before the tables whose foreign keys point at them."""
    with contextlib.closing(_read_only(path)) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        parents = {
            name: {row[2] for row in connection.execute(f"PRAGMA foreign_key_list('{name}')")} - {name}
            for name in names
        }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:  # a cycle: the rest in name order (none in our schema)
            ready = [n for n in names if n not in ordered]
        ordered.extend(ready)
    return ordered


async def ensure_empty(target: Database, tables: list[str]) -> None:
    for table in tables:
        if table in BOOKKEEPING:
            continue
        if await target.fetchone(f"SELECT 1 FROM {table} LIMIT 1") is not None:
            raise TargetNotEmpty(f"the target already has rows in {table}: copy only into a new, empty database")


async def copy_rows(
    source: Path, target: Database, tables: list[str], progress: Callable[[str, int], None] | None = None
) -> None:
    """Every row of every table (but the target's own bookkeeping), in one transaction of the target."""
    with contextlib.closing(_read_only(source)) as connection:
        async with target.atomic() as tx:
            for table in tables:
                if table in BOOKKEEPING:
                    continue
                cursor = connection.execute(f"SELECT * FROM {table}")
                columns = [d[0] for d in cursor.description]
                insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                copied = 0
                while rows := cursor.fetchmany(BATCH):
                    await tx.executemany(insert, [tuple(row) for row in rows])
                    copied += len(rows)
                if progress:
                    progress(table, copied)
            for table in tables:
                await target.continue_ids(tx, table)


async def count_rows(database: Database, tables: list[str]) -> dict[str, int]:
    return {table: int(await database.fetchvalue(f"SELECT COUNT(*) FROM {table}") or 0) for table in tables}


def _read_only(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection.row_factory = None
    return connection
