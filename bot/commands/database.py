"""`db copy`: move an office's SQLite database to PostgreSQL (or to another SQLite file), and prove it moved whole.

    python -m bot db copy --from data/bot.sqlite3 --to postgresql://pufa@db.example/county

The target must be empty (a new database: the bot creates its tables). After the copy, every table's row count
and the statistics of the whole history (`stats --json` from the first day to today) are compared on both sides;
any difference fails the command (exit 1) and says where. The target URL's password is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot.commands.common import EXIT_OK, Failure, Subparsers, actions, arg, command
from bot.config import Settings, is_database_url

HISTORY_START = dt.date(2000, 1, 1)  # statistics compared from before any bot existed


def register(commands: Subparsers) -> None:
    database = command(
        commands,
        "db",
        "the database itself: copy an office's SQLite file to PostgreSQL",
        "python -m bot db copy --from data/bot.sqlite3 --to postgresql://user@host/county",
    )
    database_actions = actions(database, "db_command", "choose an action: copy")
    command(
        database_actions,
        "copy",
        "copy every table of a SQLite database into an empty database (PostgreSQL URL or SQLite file), then "
        "compare row counts and statistics on both sides",
        "python -m bot db copy --from data/bot.sqlite3 --to postgresql://user@host/county",
        arg("--from", dest="source", type=Path, required=True, help="the SQLite database file to copy"),
        arg("--to", dest="target", required=True, help="a postgresql:// URL or a new SQLite file"),
        handler=_copy,
    )


def shown(target: str) -> str:
    """A database URL without its password, for messages."""
    if not is_database_url(target):
        return target
    parts = urlsplit(target)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}{host}", parts.path, "", ""))


def _copy(args: argparse.Namespace, settings: Settings) -> int:
    source: Path = args.source
    if not source.is_file():
        raise Failure(f"no SQLite database at {source}")
    if not is_database_url(args.target) and Path(args.target).resolve() == source.resolve():
        raise Failure("--from and --to are the same database")
    return asyncio.run(_copy_async(source, args.target, settings))


async def _copy_async(source: Path, target: str, settings: Settings) -> int:
    from bot.content.store import ContentStore
    from bot.reporting.statistics import Period, collect
    from bot.storage import Storage
    from bot.storage.copying import TargetNotEmpty, copy_rows, count_rows, ensure_empty, source_tables

    catalog = ContentStore.load(settings.content_dir).catalog
    opened = await Storage.open(source, zone_offset=settings.zone_offset)  # brings it to the current schema
    await opened.close()
    tables = source_tables(source)
    print(f"copying {len(tables)} tables from {source} to {shown(target)}")
    destination = await Storage.open(target, zone_offset=settings.zone_offset, data_dir=settings.data_dir)
    try:
        try:
            await ensure_empty(destination.db, tables)
        except TargetNotEmpty as exc:
            raise Failure(str(exc)) from None

        def progress(table: str, rows: int) -> None:
            if rows:
                print(f"  {table}: {rows} rows")

        await copy_rows(source, destination.db, tables, progress)
        origin = await Storage.open(source, zone_offset=settings.zone_offset)
        try:
            counts = (await count_rows(origin.db, tables), await count_rows(destination.db, tables))
            today = dt.datetime.now(settings.zone).date()
            period = Period(HISTORY_START, today + dt.timedelta(days=1), settings.zone)
            figures = [(await collect(s, catalog, period)).as_dict() for s in (origin, destination)]
        finally:
            await origin.close()
    finally:
        await destination.close()
    differing = [t for t in tables if counts[0][t] != counts[1][t]]
    for table in differing:
        print(f"  ✗ {table}: {counts[0][table]} rows in the source, {counts[1][table]} in the target")
    changed = _differences(figures[0], figures[1])
    for path in changed[:20]:
        print(f"  ✗ statistics differ at {path}")
    if differing or changed:
        raise Failure("the copy does not match its source (see above); the target keeps what was copied")
    rows = sum(counts[0].values())
    print(
        f"verified: {len(tables)} tables, {rows} rows, equal counts per table; statistics of the whole history equal "
        f"(deliveries {figures[0]['deliveries']}, reached {figures[0]['reached']})"
    )
    return EXIT_OK


def _differences(left: Any, right: Any, path: str = "") -> list[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in sorted(set(left) | set(right), key=str):
            found += _differences(left.get(key), right.get(key), f"{path}.{key}" if path else str(key))
        return found
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [p for i, (a, b) in enumerate(zip(left, right, strict=True)) for p in _differences(a, b, f"{path}[{i}]")]
    if isinstance(left, float) and isinstance(right, float):
        return [] if abs(left - right) < 1e-9 else [path]
    return [] if left == right else [path or "(all)"]
