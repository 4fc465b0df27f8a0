"""The database every store is handed: connections, pragmas, migrations, transactions, clock, time zone.

Stores never touch the driver. They read with `fetchone`/`fetchall` and write inside `atomic()`, whose
`Transaction` offers the same reads plus `execute`/`executemany`. SQL uses `?` placeholders; a second
backend (PostgreSQL) implements this same small surface and translates the placeholders, so the stores
stay as they are.

Writes that must keep up under load (the reach log) do not go through the event loop statement by
statement: `run_batch(work)` runs `work(batch)` as one transaction on the writer's own thread, in one trip,
and a `WriteBehind` source attached to the database is committed by the writer itself whenever the source
says it is due (a group commit of whatever is pending), even while the event loop is busy. `Batch` is
synchronous and driver-free (`?` SQL, `execute`, `executemany`, `claim_once`); a PostgreSQL `Database` runs it
on a thread of its own with a synchronous driver.

SQLite: WAL journal, foreign keys on, and two kinds of connection, each with a thread of its own:

- **one write connection**, on a thread of our own (aiosqlite, which the read connections use, can only run
  work on its thread when the event loop awaits it; the writer must commit while the loop is busy). Every
  write transaction starts with `BEGIN IMMEDIATE`, before any read, so it never holds a read snapshot it would
  have to upgrade (an upgrade fails at once with SQLITE_BUSY_SNAPSHOT when another process wrote meanwhile,
  whatever the busy timeout). The writes of this process are serialised (an asyncio lock, then the writer's
  one thread); another process's write lock is waited for (busy timeout), and a BUSY/LOCKED that SQLite
  returns without waiting is retried with backoff.
- **read connections** (`query_only`, aiosqlite), which see every committed write (WAL) and never queue in
  front of a commit. A read is one trip: the statement runs and its rows are fetched in the same call.

An in-memory database (`:memory:`) is one connection, used for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosqlite

from bot.storage.migrations import MIGRATIONS, Migration

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Row = sqlite3.Row  # indexable by position and by column name
Params = Sequence[Any] | dict[str, Any]
Statements = Sequence[tuple[str, Sequence[Params]]]  # (sql, rows): executemany each, in order
IntegrityError = sqlite3.IntegrityError  # a write the schema refuses (UNIQUE, CHECK, foreign key)
DatabaseError = sqlite3.Error  # any failure of the database itself (locked, read-only, full, corrupt)

DEFAULT_ZONE_OFFSET = 8 * 3600  # Asia/Shanghai; Storage.open takes the town's offset from the settings
BUSY_TIMEOUT_MS = 5000  # SQLite waits this long for another process's write lock...
BUSY_RETRIES = (0.02, 0.05, 0.1, 0.2, 0.4)  # ...and when it still answers BUSY/LOCKED, we retry after these
READERS = 2  # read connections of a file database: a long statistics query does not stall a resident's lookup
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6

T = TypeVar("T")


class DatabaseBusy(Exception):
    """Another bot process is already serving this database."""


@dataclass(frozen=True)
class Written:
    """What a write statement did."""

    rowcount: int
    lastrowid: int | None


class Batch:
    """The statements of one `run_batch` or write-behind transaction. Synchronous: it runs on the write
    connection's own thread, never on the event loop."""

    def __init__(self, connection: sqlite3.Connection, now: int) -> None:
        self._connection = connection
        self._now = now

    def execute(self, sql: str, params: Params = ()) -> Written:
        return _execute(self._connection, sql, params)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            _executemany(self._connection, sql, rows)

    def claim_once(self, key: str) -> bool:
        """True the first time `key` is claimed, False ever after. A transaction doing a one-off job (importing
        a file) claims its key first, so a crash after its commit cannot make it run twice."""
        written = self.execute(
            "INSERT INTO done_once (key, done_at) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, self._now)
        )
        return written.rowcount == 1


class WriteBehind(Protocol):
    """Writes the database performs on its own, on the writer's thread, whenever they are due."""

    def due(self, now: float) -> float | None:
        """Seconds (of time.monotonic) until the next batch is due, <= 0 for now; None when nothing waits."""

    def write(self, batch: Batch) -> None:
        """Write what waits, inside the batch's transaction (rolled back if this raises)."""

    def written(self, error: BaseException | None) -> None:
        """After the commit (error None) or the failure of a batch."""


def _is_busy(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)  # pragma: no cover - Python < 3.11


def _retry(exc: sqlite3.OperationalError, started: float, pause: float | None) -> bool:
    """Whether an idempotent action (a read, a BEGIN, a pragma) that failed so is tried again after `pause`: when
    SQLite answered BUSY/LOCKED at once (the answers its busy handler does not wait out: a snapshot gone stale,
    a journal being recovered). A BUSY after the whole busy timeout is final: another process held its lock
    that long."""
    waited = time.monotonic() - started >= BUSY_TIMEOUT_MS / 2000
    return pause is not None and not waited and _is_busy(exc)


def _retrying(action: Callable[[], T]) -> T:
    """Run `action` on a connection's thread, again after a pause while `_retry` says so."""
    for pause in (*BUSY_RETRIES, None):
        started = time.monotonic()
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not _retry(exc, started, pause):
                raise
            log.debug("database busy (%s); retrying in %.2f s", exc, pause)
            time.sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


# -- what runs on the connections' threads -------------------------------------------------------


def _execute(connection: sqlite3.Connection, sql: str, params: Params) -> Written:
    cursor = connection.execute(sql, params)
    try:
        return Written(cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


def _fetchall(connection: sqlite3.Connection, sql: str, params: Params) -> list[Row]:
    cursor = connection.execute(sql, params)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def _fetchone(connection: sqlite3.Connection, sql: str, params: Params) -> Row | None:
    cursor = connection.execute(sql, params)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


ROWS_PER_INSERT = 500  # rows one multi-row INSERT takes (see _executemany)


def _executemany(connection: sqlite3.Connection, sql: str, rows: Sequence[Params]) -> None:
    """`executemany`, except that an `INSERT ... VALUES (?, ...)` runs as multi-row INSERTs of up to
    ROWS_PER_INSERT rows each: one statement step instead of one per row. The driver lets go of the GIL around
    every step, and while the event loop keeps the GIL busy each step costs this thread up to the interpreter's
    switch interval (5 ms) to get it back: row by row, a 300-event batch took 0.1-0.3 s to commit under load."""
    parts = _values_clause(sql) if len(rows) > 1 and not isinstance(rows[0], dict) else None
    if parts is None or any(len(row) != parts[3] for row in rows):  # type: ignore[arg-type]
        connection.executemany(sql, rows).close()
        return
    head, values, tail, width = parts
    per_statement = max(1, min(ROWS_PER_INSERT, connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        statement = f"{head}{', '.join([values] * len(chunk))}{tail}"
        connection.execute(statement, [value for row in chunk for value in row]).close()  # type: ignore[union-attr]


def _values_clause(sql: str) -> tuple[str, str, str, int] | None:
    """An INSERT split around its one `VALUES (...)` group, and the group's number of `?`; None for any other
    statement (or a `?` outside the group)."""
    match = re.match(r"\s*(INSERT|REPLACE)\b.*?\bVALUES\s*\(", sql, re.IGNORECASE | re.DOTALL)
    if match is None:
        return None
    start, depth, quoted = match.end() - 1, 0, False
    for index in range(start, len(sql)):
        char = sql[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                head, values, tail = sql[:start], sql[start : index + 1], sql[index + 1 :]
                if "?" in head or "?" in tail:
                    return None
                return head, values, tail, _placeholders(values)
    return None


def _placeholders(sql: str) -> int:
    return sum(1 for index, part in enumerate(sql.split("'")) if index % 2 == 0 for char in part if char == "?")


def _begin(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:  # left open by a failure: never write inside someone else's transaction
        connection.execute("ROLLBACK")
    _retrying(lambda: connection.execute("BEGIN IMMEDIATE"))


def _commit(connection: sqlite3.Connection) -> None:
    try:
        connection.execute("COMMIT")
    except BaseException:
        _rollback(connection)  # a failed COMMIT may leave the transaction open; it must not commit later
        raise


def _rollback(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled; the work was done all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_STOP, _WAKE = object(), object()


class _Worker:
    """One SQLite connection and the one thread that uses it. `call` runs a function there and awaits it;
    once queued it runs to the end even if the caller is cancelled, so a COMMIT or ROLLBACK is never skipped.
    The writer's thread also runs its `WriteBehind` source whenever that is due and no transaction is open."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._connection: sqlite3.Connection | None = None
        self._closed = False
        self.busy = 0  # calls queued or running (readers: the least busy one takes the next read)
        self.source: WriteBehind | None = None
        self.clock: Clock = time.time
        # A daemon: a database someone forgot to close never keeps the process from exiting.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    @classmethod
    async def open(cls, path: str, name: str, pragmas: Sequence[str]) -> _Worker:
        worker = cls(name)
        try:
            await worker.call(worker._connect, path, pragmas)
        except BaseException:
            await worker.close()  # never leave a thread running behind a failed open
            raise
        return worker

    def _connect(self, path: str, pragmas: Sequence[str]) -> None:
        connection = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            connection.row_factory = sqlite3.Row
            for pragma in pragmas:
                _retrying(lambda pragma=pragma: connection.execute(f"PRAGMA {pragma}").fetchall())
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _connected(self) -> bool:
        return self._connection is not None

    def _idle(self) -> bool:
        """Connected and outside any transaction: the write-behind source may have its turn."""
        return self._connection is not None and not self._connection.in_transaction

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._connection

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self.busy += 1
        try:
            self._jobs.put((function, args, loop, future))
            return await future
        finally:
            self.busy -= 1

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """A read outside any transaction (an in-memory database reads on its one connection)."""
        return await self.call(lambda: _retrying(lambda: _fetchall(self.connection, sql, params)))

    def wake(self) -> None:
        """Make the thread ask its source again (from any thread)."""
        self._jobs.put(_WAKE)

    async def close(self) -> None:
        if self._closed:
            return
        self.source = None
        try:
            await self.call(self._disconnect)
        finally:
            self._closed = True
            self._jobs.put(_STOP)

    def _disconnect(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()

    # -- the thread ----------------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            timeout = None
            source = self.source
            if source is not None and self._idle():
                try:
                    wait = source.due(time.monotonic())
                except Exception:
                    log.exception("write-behind source failed")
                    wait = None
                if wait is not None and wait <= 0:
                    self.write_behind()
                    continue
                timeout = wait
            try:
                job = self._jobs.get(timeout=timeout)
            except queue.Empty:
                continue
            if job is _STOP:
                return
            if job is _WAKE:
                continue
            function, args, loop, future = job
            result, error = None, None
            try:
                result = function(*args)
            except BaseException as exc:
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result, error)

    def write_behind(self, forced: bool = False) -> BaseException | None:
        """One batch of the source, in its own transaction; returns the error (already reported to the source).
        `forced`: now, even if the source is backing off."""
        source = self.source
        if source is None or not self._connected():
            return None
        if forced and source.due(time.monotonic()) is None:
            return None
        error = None
        try:
            self.run_batch(source.write)
        except Exception as exc:
            error = exc
        try:
            source.written(error)
        except Exception:
            log.exception("write-behind source failed")
        return error

    def run_batch(self, work: Callable[[Batch], T]) -> T:
        connection = self.connection
        _begin(connection)
        try:
            result = work(Batch(connection, int(self.clock())))
        except BaseException:
            _rollback(connection)
            raise
        _commit(connection)
        return result


class _Reader:
    """A read connection (`query_only`): aiosqlite, through its public API, one trip per read."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._aio = connection
        self.busy = 0  # reads queued or running: the least busy reader takes the next one

    @classmethod
    async def open(cls, path: str, pragmas: Sequence[str]) -> _Reader:
        connection = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        reader = cls(connection)
        try:
            connection.row_factory = sqlite3.Row
            for pragma in pragmas:
                await reader.fetchall(f"PRAGMA {pragma}")
        except BaseException:
            await connection.close()
            raise
        return reader

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        self.busy += 1
        try:
            for pause in (*BUSY_RETRIES, None):
                started = time.monotonic()
                try:
                    return list(await self._aio.execute_fetchall(sql, params))  # type: ignore[arg-type]
                except sqlite3.OperationalError as exc:
                    if not _retry(exc, started, pause):
                        raise
                    await asyncio.sleep(pause or 0)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self.busy -= 1

    async def close(self) -> None:
        await self._aio.close()


class Transaction:
    """The statements of one `atomic()` block, run on the write connection. `BEGIN IMMEDIATE` goes with the
    first statement (one trip fewer); a block that runs none costs nothing."""

    def __init__(self, worker: _Worker) -> None:
        self._worker = worker
        self.begun = False  # set on the writer's thread

    def _in_transaction(self, function: Callable[..., T], *args: Any) -> T:
        connection = self._worker.connection
        if not self.begun:
            _begin(connection)
            self.begun = True
        return function(connection, *args)

    def _finish(self, commit: bool) -> None:
        if self.begun:
            self.begun = False
            if commit:
                _commit(self._worker.connection)
            else:
                _rollback(self._worker.connection)

    async def execute(self, sql: str, params: Params = ()) -> Written:
        return await self._worker.call(self._in_transaction, _execute, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)  # a generator is consumed here, not on the connection's thread
        if rows:
            await self._worker.call(self._in_transaction, _executemany, sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await self._worker.call(self._in_transaction, _fetchone, sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._worker.call(self._in_transaction, _fetchall, sql, params)


class Database:
    def __init__(
        self,
        writer: _Worker,
        readers: Sequence[_Reader | _Worker],
        clock: Clock = time.time,
        zone_offset: int = DEFAULT_ZONE_OFFSET,
        path: Path | None = None,
    ) -> None:
        self._writer = writer
        self._readers = list(readers)
        self.path = path  # None for :memory:
        self._serving_lock: int | None = None  # file descriptor holding the one-server lock
        self.clock = clock
        writer.clock = clock
        self.zone_offset = zone_offset  # seconds east of UTC: months of the roll-ups are the town's months
        self._write_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path | str,
        clock: Clock = time.time,
        zone_offset: int = DEFAULT_ZONE_OFFSET,
        readers: int = READERS,
    ) -> Database:
        """A SQLite file (or `:memory:`). A PostgreSQL URL is `bot.storage.postgres`'s (`open_database` picks)."""
        memory = str(path) == ":memory:"
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        base = ("foreign_keys = ON", f"busy_timeout = {BUSY_TIMEOUT_MS}")
        # The writer first: it turns WAL on (a setting kept in the file) before any reader opens.
        writer = await _Worker.open(str(path), "db-writer", ("journal_mode = WAL", "synchronous = NORMAL", *base))
        opened: list[_Reader] = []
        try:
            if not memory:
                for _ in range(max(1, readers)):
                    opened.append(await _Reader.open(str(path), (*base, "query_only = ON")))
        except BaseException:
            for reader in opened:  # never leave a thread or a file open behind a failed open
                with contextlib.suppress(Exception):
                    await reader.close()
            with contextlib.suppress(Exception):
                await writer.close()
            raise
        return cls(writer, opened or [writer], clock, zone_offset, None if memory else Path(path))

    async def close(self) -> None:
        """Close every connection (the writer last: it checkpoints the journal) and release the serving lock."""
        if self._closed:
            return
        self._closed = True
        try:
            for connection in [r for r in self._readers if r is not self._writer] + [self._writer]:
                try:
                    await connection.close()
                except Exception:  # the others are closed all the same
                    log.warning("closing a database connection failed", exc_info=True)
        finally:
            if self._serving_lock is not None:
                os.close(self._serving_lock)  # releases the lock
                self._serving_lock = None

    shared = False  # one bot process per SQLite file (claim_serving); a server database may have several
    skip_locked = ""  # appended to a SELECT that claims rows: SQLite has one writer, nothing to skip

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
        """The first row (the statement runs to its end: give it one that returns one row)."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return await min(self._readers, key=lambda r: r.busy).fetchall(sql, params)

    async def fetchvalue(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return row[0] if row is not None else None

    @contextlib.asynccontextmanager
    async def atomic(self, scope: str | None = None) -> AsyncIterator[Transaction]:
        """One write transaction; rolled back if the block raises.

        Where several processes share the database (PostgreSQL), a transaction excludes every other process's
        writes, so that the stores' read-then-write steps stay correct. With `scope`, it excludes only others of
        the same scope (one resident's turn tickets, say): for a block that reads and writes nothing but rows that
        scope owns. One process's writes are one at a time either way; SQLite has one writer and ignores it."""
        async with self._write_lock:
            tx = Transaction(self._writer)
            try:
                yield tx
            except BaseException:
                # Queued after the block's last statement even if that one is still running (the block was
                # cancelled), so a transaction is never left open.
                await self._writer.call(tx._finish, False)
                raise
            await self._writer.call(tx._finish, True)

    async def run_batch(self, work: Callable[[Batch], T]) -> T:
        """`work(batch)` as one transaction, in one trip to the write connection's thread (it must not touch the
        event loop); rolled back if it raises."""
        async with self._write_lock:
            return await self._writer.call(self._writer.run_batch, work)

    def attach(self, source: WriteBehind) -> None:
        """Let the writer commit `source` on its own whenever it is due (one source per database)."""
        self._writer.source = source
        self._writer.wake()

    def nudge(self) -> None:
        """Tell the writer its source has news (safe from any thread; cheap, but not for every event)."""
        self._writer.wake()

    async def write_behind_now(self) -> None:
        """Commit what the attached source holds now, after any batch under way; raises the batch's error."""
        async with self._write_lock:
            error = await self._writer.call(self._writer.write_behind, True)
        if error is not None:
            raise error

    # -- migrations ----------------------------------------------------------------------------

    async def migrate(self, migrations: Iterable[Migration] = MIGRATIONS) -> list[int]:
        """Apply migrations newer than the database, each in its own transaction; returns the versions applied."""
        if not await self.has_table("done_once"):
            async with self.atomic() as tx:  # the database's own bookkeeping, beside the stores' schema
                for statement in BOOKKEEPING:
                    await tx.execute(self.ddl(statement))
        done = {row[0] for row in await self.fetchall("SELECT version FROM schema_migrations")}
        applied = []
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in done:
                continue
            async with self.atomic() as tx:
                # executescript would COMMIT first; run the statements one by one instead.
                for statement in split_sql(migration.sql):
                    await tx.execute(self.ddl(statement))
                await tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, self.now()),
                )
            applied.append(migration.version)
            log.info("applied migration %d: %s", migration.version, migration.name)
        return applied

    async def has_table(self, name: str) -> bool:
        return await self.fetchone("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)) is not None

    async def continue_ids(self, tx: Transaction, table: str) -> None:
        """After rows were copied in with their ids, make new rows' ids follow them (SQLite does by itself)."""

    def ddl(self, statement: str) -> str:
        """A migration's statement as this backend runs it (migrations are written in SQLite's dialect)."""
        return statement

    async def schema_version(self) -> int:
        return int(await self.fetchvalue("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") or 0)


BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS done_once (key TEXT PRIMARY KEY, done_at INTEGER NOT NULL)",
)


def split_sql(script: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our literals or comments)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
