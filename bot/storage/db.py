"""The database every store is handed: connection, pragmas, migrations, transactions, clock, time zone.

Stores never touch the driver. They read with `fetchone`/`fetchall` and write inside `atomic()`, whose
`Transaction` offers the same reads plus `execute`/`executemany`. SQL uses `?` placeholders; a second
backend (PostgreSQL) implements this same small surface and translates the placeholders, so the stores
stay as they are.

SQLite: one connection per process, WAL journal, foreign keys on. Writes are serialised by a lock because
every coroutine shares the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.migrations import MIGRATIONS, Migration

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Row = sqlite3.Row  # indexable by position and by column name
Params = Sequence[Any] | dict[str, Any]
IntegrityError = sqlite3.IntegrityError  # a write the schema refuses (UNIQUE, CHECK, foreign key)

DEFAULT_ZONE_OFFSET = 8 * 3600  # Asia/Shanghai; Storage.open takes the town's offset from the settings
_PRAGMAS = ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON", "busy_timeout = 5000")


class DatabaseBusy(Exception):
    """Another bot process is already serving this database."""


@dataclass(frozen=True)
class Written:
    """What a write statement did."""

    rowcount: int
    lastrowid: int | None


class Transaction:
    """The statements of one `atomic()` block."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Params = ()) -> Written:
        async with self._connection.execute(sql, params) as cursor:
            return Written(cursor.rowcount, cursor.lastrowid)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._connection.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._connection.execute(sql, params) as cursor:
            return await cursor.fetchone()  # type: ignore[return-value]

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._connection.execute(sql, params) as cursor:
            return list(await cursor.fetchall())  # type: ignore[arg-type]


class Database:
    def __init__(
        self,
        connection: aiosqlite.Connection,
        clock: Clock = time.time,
        zone_offset: int = DEFAULT_ZONE_OFFSET,
        path: Path | None = None,
    ) -> None:
        self._connection = connection
        self.path = path  # None for :memory:
        self._serving_lock: int | None = None  # file descriptor holding the one-server lock
        self.clock = clock
        self.zone_offset = zone_offset  # seconds east of UTC: months of the roll-ups are the town's months
        self._write_lock = asyncio.Lock()
        self._transaction = Transaction(connection)

    @classmethod
    async def open(
        cls, path: Path | str, clock: Clock = time.time, zone_offset: int = DEFAULT_ZONE_OFFSET
    ) -> Database:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(str(path), isolation_level=None)
        connection.row_factory = aiosqlite.Row
        try:
            for pragma in _PRAGMAS:
                await connection.execute(f"PRAGMA {pragma}")
        except BaseException:
            await connection.close()  # never leave the driver's thread running behind a failed open
            raise
        return cls(connection, clock, zone_offset, None if str(path) == ":memory:" else Path(path))

    async def close(self) -> None:
        try:
            await self._connection.close()
        finally:
            if self._serving_lock is not None:
                os.close(self._serving_lock)  # releases the lock
                self._serving_lock = None

    def claim_serving(self) -> None:
        """Refuse a second `bot run` on the same SQLite file: both would poll and answer every update.

        An advisory lock on `<database>.lock`, held until close (or the process ends, however it ends).
        The CLI and the console may still use the database beside the running bot.
        """
        if self.path is None or self._serving_lock is not None:
            return
        try:
            import fcntl
        except ImportError:  # Windows: no flock; one process per database is then the operator's duty
            log.warning("cannot lock %s on this platform; do not start a second bot on it", self.path)
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DatabaseBusy(
                f"another `python -m bot run` (pid {holder}) is already serving {self.path}; "
                "stop it first, or give this one its own BOT_DB"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._serving_lock = fd

    def now(self) -> int:
        return int(self.clock())

    # -- reads and writes ----------------------------------------------------------------------

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await self._transaction.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._transaction.fetchall(sql, params)

    async def fetchvalue(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return row[0] if row is not None else None

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[Transaction]:
        """One write transaction; rolled back if the block raises."""
        async with self._write_lock:
            await self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._transaction
            except BaseException:
                await self._connection.execute("ROLLBACK")
                raise
            await self._connection.execute("COMMIT")

    # -- migrations ----------------------------------------------------------------------------

    async def migrate(self, migrations: Iterable[Migration] = MIGRATIONS) -> list[int]:
        """Apply migrations newer than the database, each in its own transaction; returns the versions applied."""
        await self._connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        done = {row[0] for row in await self.fetchall("SELECT version FROM schema_migrations")}
        applied = []
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in done:
                continue
            async with self.atomic() as tx:
                # executescript would COMMIT first; run the statements one by one instead.
                for statement in split_sql(migration.sql):
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, self.now()),
                )
            applied.append(migration.version)
            log.info("applied migration %d: %s", migration.version, migration.name)
        return applied

    async def schema_version(self) -> int:
        return int(await self.fetchvalue("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") or 0)


def split_sql(script: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our literals or comments)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
