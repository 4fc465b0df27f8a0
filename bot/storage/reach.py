"""The reach log: one row per delivery of content to a resident, and the monthly roll-ups kept with it.

Events are written behind: `ReachLog.record` buffers them and they are flushed in batches (every
`flush_interval` seconds or `flush_size` events, and on close), so recording a delivery never waits for
the disk. Each flush is a group commit of everything pending, one transaction in one trip to the write
connection. Residents' last-seen times ride along with the same flush.

When the database refuses writes (read-only, full, corrupt), nothing is dropped: the flush is retried with
exponential backoff (one log line a minute says how many events wait), the buffer is bounded (`max_pending`;
beyond it the events are saved to a file), and whatever is still unwritten at close is saved to a file too.
Such a file, `<database>.unwritten-events.<stamp>.jsonl` beside the database, is written atomically and
imported by the next `Storage.open` exactly once: renamed to `.importing`, written in one transaction that
also claims the file's key (`Database.claim_once`), then deleted; a crash anywhere in between neither loses
nor doubles an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.storage.db import Batch, Database, IntegrityError, Statements, Transaction

log = logging.getLogger(__name__)

EVENT_KINDS = frozenset({"tip", "quiz_question", "quiz_answer", "broadcast", "answer"})
EVENT_COLUMNS = (
    "ts",
    "resident_id",
    "channel",
    "kind",
    "topic_id",
    "item_id",
    "place_id",
    "campaign_id",
    "broadcast_id",
    "correct",
)
EventRow = tuple[Any, ...]


@dataclass(frozen=True)
class ReachEvent:
    """One delivery of content to one resident."""

    resident_id: int
    channel: str
    kind: str  # tip | quiz_question | quiz_answer | broadcast | answer
    topic_id: str | None = None
    item_id: str | None = None
    place_id: str | None = None
    campaign_id: str | None = None
    broadcast_id: int | None = None
    correct: bool | None = None
    ts: int | None = None  # filled from the clock when recorded


_INSERT_EVENT = f"INSERT INTO reach_events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
# The event's month in the town's zone: (ts, zone offset). Typed, since PostgreSQL cannot infer `? + ?`.
_MONTH = "strftime('%Y-%m', CAST(? AS BIGINT) + CAST(? AS BIGINT), 'unixepoch')"
_ROLLUP_REACH = (
    "INSERT INTO reach_monthly (month, resident_id, topic_id, place_id, channel, deliveries)"
    f" VALUES ({_MONTH}, ?, ?, ?, ?, 1)"
    " ON CONFLICT (month, resident_id, topic_id, place_id, channel)"
    " DO UPDATE SET deliveries = reach_monthly.deliveries + 1"
)
# The event's year, and the two smaller roll-ups of migration 14 (the same key columns, fewer of them).
_YEAR = "strftime('%Y', CAST(? AS BIGINT) + CAST(? AS BIGINT), 'unixepoch')"
_ROLLUP_YEARLY = (
    "INSERT INTO reach_yearly (year, resident_id, topic_id, place_id, channel, deliveries, quiz_answers)"
    f" VALUES ({_YEAR}, ?, ?, ?, ?, 1, ?)"
    " ON CONFLICT (year, resident_id, topic_id, place_id, channel)"
    " DO UPDATE SET deliveries = reach_yearly.deliveries + 1,"
    " quiz_answers = reach_yearly.quiz_answers + excluded.quiz_answers"
)
_ROLLUP_RESIDENT_MONTH = (
    "INSERT INTO reach_resident_months (month, resident_id, place_id, deliveries)"
    f" VALUES ({_MONTH}, ?, ?, 1)"
    " ON CONFLICT (month, resident_id, place_id) DO UPDATE SET deliveries = reach_resident_months.deliveries + 1"
)
# A year's counters (migration 14): deliveries and residents reached per dimension and key, so a whole year's
# figures for the whole deployment are read, not counted. A resident adds to `reached` when no roll-up row shows
# them there yet: checked before a catch-up chunk's roll-ups are written, once per resident and key in the chunk.
_COUNT_YEAR = (
    "INSERT INTO reach_year_counts (year, dimension, key, deliveries, reached)"
    " SELECT ?, ?, ?, ?, CASE WHEN EXISTS ({seen}) THEN 0 ELSE 1 END WHERE 1 = 1"
    " ON CONFLICT (year, dimension, key) DO UPDATE SET deliveries = reach_year_counts.deliveries"
    " + excluded.deliveries, reached = reach_year_counts.reached + excluded.reached"
)
# dimension → (whether a resident was already seen there: its parameters are the period and the resident, then the
# key where the roll-up holds it)
SEEN = {
    "all": "SELECT 1 FROM reach_yearly WHERE year = ? AND resident_id = ?",
    "topic": "SELECT 1 FROM reach_yearly WHERE year = ? AND resident_id = ? AND topic_id = ?",
    "place": "SELECT 1 FROM reach_yearly WHERE year = ? AND resident_id = ? AND place_id = ?",
    "channel": "SELECT 1 FROM reach_yearly WHERE year = ? AND resident_id = ? AND channel = ?",
    "month": "SELECT 1 FROM reach_resident_months WHERE month = ? AND resident_id = ?",
    "quiz": "SELECT 1 FROM reach_yearly WHERE year = ? AND resident_id = ? AND quiz_answers > 0",
}
COUNT_YEAR = {dimension: _COUNT_YEAR.format(seen=seen) for dimension, seen in SEEN.items()}
_YEAR_PLACE = "INSERT INTO reach_year_places (year, place_id, resident_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"


def local_month(ts: int, zone_offset: int) -> str:
    """'YYYY-MM' of a timestamp in the town's zone, as the roll-ups' strftime gives it."""
    return time.strftime("%Y-%m", time.gmtime(ts + zone_offset))


def year_figures(rows: list[EventRow], zone_offset: int) -> Statements:
    """The year's counters and places for counted event rows: one row per dimension, key and resident in the chunk,
    so each EXISTS sees the roll-ups as they were before the chunk (run them before the roll-ups' upserts)."""
    found: dict[tuple[str, str, str, int], int] = {}  # (dimension, key, period, resident) → deliveries

    def add(dimension: str, key: str, period: str, resident: int) -> None:
        entry = (dimension, key, period, resident)
        found[entry] = found.get(entry, 0) + 1

    for r in rows:
        month = local_month(r[0], zone_offset)
        year, resident = month[:4], r[1]
        add("all", "", year, resident)
        add("topic", r[4] or "", year, resident)
        add("place", r[6] or "", year, resident)
        add("channel", r[2], year, resident)
        add("month", month, month, resident)
        if r[3] == "quiz_answer":
            add("quiz", "", year, resident)
    params: dict[str, list[tuple[Any, ...]]] = {dimension: [] for dimension in SEEN}
    for (dimension, key, period, resident), deliveries in found.items():
        where = (key,) if dimension in ("topic", "place", "channel") else ()
        params[dimension].append((period[:4], dimension, key, deliveries, period, resident, *where))
    places = [(period, key, resident) for (dimension, key, period, resident) in found if dimension == "place"]
    statements = [(COUNT_YEAR[dimension], found_rows) for dimension, found_rows in params.items() if found_rows]
    return [*statements, (_YEAR_PLACE, places)] if places else statements


_ROLLUP_QUIZ = (
    "INSERT INTO quiz_monthly (month, question_id, place_id, answers, correct)"
    f" VALUES ({_MONTH}, ?, ?, 1, ?)"
    " ON CONFLICT (month, question_id, place_id)"
    " DO UPDATE SET answers = quiz_monthly.answers + 1, correct = quiz_monthly.correct + excluded.correct"
)
_ROLLUP_PARTICIPANT = (
    f"INSERT INTO quiz_participants_monthly (month, resident_id) VALUES ({_MONTH}, ?) ON CONFLICT DO NOTHING"
)


def event_statements(rows: list[EventRow], zone_offset: int) -> Statements:
    """The statements that insert reach events and keep the monthly roll-ups in step (run in one transaction); the
    year's roll-ups follow later (`catch_up`)."""
    if not rows:
        return []
    counted = [row for row in rows if row[2] != "console"]  # statistics leave console trials out
    statements: list[tuple[str, list[Any]]] = [
        (_INSERT_EVENT, rows),
        (_ROLLUP_REACH, [(r[0], zone_offset, r[1], r[4] or "", r[6] or "", r[2]) for r in counted]),
    ]
    answers = [row for row in counted if row[3] == "quiz_answer"]
    if answers:
        statements.append((_ROLLUP_QUIZ, [(r[0], zone_offset, r[5], r[6] or "", r[9] or 0) for r in answers]))
        statements.append((_ROLLUP_PARTICIPANT, [(r[0], zone_offset, r[1]) for r in answers]))
    return statements


def year_statements(counted: list[EventRow], zone_offset: int) -> Statements:
    """The year's roll-ups and counters (migration 14) for counted event rows, in one catch-up transaction."""
    return [
        *year_figures(counted, zone_offset),  # first: they look at the roll-ups as they were before these rows
        (
            _ROLLUP_YEARLY,
            [(r[0], zone_offset, r[1], r[4] or "", r[6] or "", r[2], int(r[3] == "quiz_answer")) for r in counted],
        ),
        (_ROLLUP_RESIDENT_MONTH, [(r[0], zone_offset, r[1], r[6] or "") for r in counted]),
    ]


CATCH_UP_CHUNK = 2_000  # events per catch-up transaction: short, so that event flushes interleave with it


async def rolled_up_to(db: Database) -> int:
    """The id of the last event the year's roll-ups hold."""
    value = await db.fetchvalue("SELECT last_event_id FROM rollup_marks WHERE name = 'year'")
    return int(value or 0)


async def catch_up(db: Database, zone_offset: int, chunk: int = CATCH_UP_CHUNK, chunks: int | None = None) -> int:
    """Bring the year's roll-ups and counters up to the last event written; returns how many events it read.

    They are kept off the path that writes events (a burst's reach events are committed as fast as before): the
    running bot catches up every few seconds when it is not busy, and statistics catch up before they read, so
    their figures are exact. Event ids grow in commit order (every write transaction holds the write lock), so
    an id mark says what is in. `chunks` bounds the work of one call (None: until caught up)."""
    read = done = 0
    while chunks is None or done < chunks:
        behind = await db.fetchvalue(  # one read, as every statistic asks before it reads
            "SELECT (SELECT MAX(id) FROM reach_events) >"
            " COALESCE((SELECT last_event_id FROM rollup_marks WHERE name = 'year'), 0)"
        )
        if not behind:
            break
        async with db.atomic() as tx:
            mark = await tx.fetchone("SELECT last_event_id FROM rollup_marks WHERE name = 'year'")
            last = int(mark[0]) if mark else 0
            rows = await tx.fetchall(
                f"SELECT id, {', '.join(EVENT_COLUMNS)} FROM reach_events WHERE id > ? ORDER BY id LIMIT ?",
                (last, chunk),
            )
            if not rows:
                break
            counted = [tuple(row[1:]) for row in rows if row[3] != "console"]
            for sql, params in year_statements(counted, zone_offset):
                if params:
                    await tx.executemany(sql, params)
            await tx.execute(
                "INSERT INTO rollup_marks (name, last_event_id) VALUES ('year', ?)"
                " ON CONFLICT (name) DO UPDATE SET last_event_id = excluded.last_event_id",
                (int(rows[-1][0]),),
            )
        read += len(rows)
        done += 1
    return read


async def write_events(tx: Transaction, rows: list[EventRow], zone_offset: int) -> None:
    """Insert reach events and keep the monthly roll-ups in step, inside the caller's transaction."""
    for sql, params in event_statements(rows, zone_offset):
        if params:
            await tx.executemany(sql, params)


def event_row(event: ReachEvent, now: int) -> EventRow:
    """The reach_events row for an event (its own time, or `now`)."""
    correct = None if event.correct is None else int(event.correct)
    return (
        event.ts if event.ts is not None else now,
        event.resident_id,
        event.channel,
        event.kind,
        event.topic_id,
        event.item_id,
        event.place_id,
        event.campaign_id,
        event.broadcast_id,
        correct,
    )


FLUSH_INTERVAL = 0.05  # seconds an event waits at most before its batch is committed (BOT_FLUSH_INTERVAL)
FLUSH_SIZE = 500  # events that start a commit at once (BOT_FLUSH_SIZE)
MAX_PENDING = 100_000  # events held in memory while the database refuses writes; beyond that, saved to a file
RETRY_MAX = 15.0  # seconds between attempts, at most, while the database refuses writes
REPORT_EVERY = 60.0  # seconds between log lines about writes still failing
SPILL_MARK = ".unwritten-events."  # <database>.unwritten-events.<stamp>.jsonl


class ReachLog:
    """The buffer of reach events. `record` and `touch` run on the event loop; the database's writer takes the
    buffer on its own thread (`due`, `write`, `written`), so a busy event loop does not delay the commits."""

    def __init__(
        self,
        db: Database,
        flush_interval: float = FLUSH_INTERVAL,
        flush_size: int = FLUSH_SIZE,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._db = db
        self._flush_interval = flush_interval
        self._flush_size = max(1, flush_size)
        self._max_pending = max(1, max_pending)
        self._spill_at = self._max_pending  # raised when saving to a file fails, so it is not retried per event
        self._lock = threading.Lock()  # the buffer is shared by the event loop and the writer's thread
        self._pending: list[EventRow] = []
        self._seen: dict[int, int] = {}  # resident id -> last_seen, written with the next flush
        self._since: float | None = None  # time.monotonic() when the buffer stopped being empty
        self._in_flight: tuple[list[EventRow], dict[int, int]] | None = None  # taken by the batch being written
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._import_task: asyncio.Task[None] | None = None
        # while writes fail (the writer's thread)
        self._failures = 0
        self._failing_since: float | None = None
        self._retry_at = 0.0
        self._reported_at = 0.0
        self._spilled = 0  # events saved to files during this failure
        self._spilled_files: list[Path] = []  # files written by this process and not imported yet
        db.attach(self)

    # -- buffering (event loop) ----------------------------------------------------------------

    def record(self, event: ReachEvent) -> None:
        """Buffer one delivery; it reaches the database within `flush_interval` seconds."""
        if self._closed:
            raise RuntimeError("storage is closed")
        if event.kind not in EVENT_KINDS:
            raise ValueError(f"unknown reach event kind {event.kind!r}")
        row = event_row(event, self._db.now())
        with self._lock:
            self._pending.append(row)
            size = len(self._pending)
            was_empty = self._since is None
            if was_empty:
                self._since = time.monotonic()
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        if size >= self._spill_at:
            self._spill_overflow()
        elif was_empty or size == self._flush_size:
            self._db.nudge()

    def touch(self, resident_id: int, now: int) -> None:
        """Note that a resident was seen; written with the next flush."""
        if self._closed:
            return
        with self._lock:
            self._seen[resident_id] = now
            was_empty = self._since is None
            if was_empty:
                self._since = time.monotonic()
        if was_empty:
            self._db.nudge()

    @property
    def pending(self) -> int:
        """Events recorded and not written yet (nor saved to a file)."""
        return len(self._pending) + (len(self._in_flight[0]) if self._in_flight else 0)

    async def flush(self) -> None:
        """Write every buffered event and last-seen time now (after any batch already under way)."""
        await self._db.write_behind_now()

    async def close(self) -> None:
        """Flush, then refuse further events. Events the database refuses are saved to a file (imported at the
        next start) and the database's error is raised."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.flush()
        except Exception as exc:
            with self._lock:
                events, seen = self._pending, self._seen
                self._pending, self._seen, self._since = [], {}, None
            path = self._spill(events, seen)
            if path is not None:
                log.error(
                    "%d reach events could not be written (%s); saved to %s, imported at the next start",
                    len(events),
                    _brief(exc),
                    path,
                )
            raise
        finally:
            if self._import_task is not None and not self._import_task.done():
                self._import_task.cancel()  # rolled back; the file is imported at the next start
                with contextlib.suppress(BaseException):
                    await self._import_task

    # -- the writer's side (its own thread) ----------------------------------------------------

    def due(self, now: float) -> float | None:
        since = self._since
        if since is None:
            return None
        if self._failing_since is not None:
            return self._retry_at - now
        if len(self._pending) >= self._flush_size:
            return 0.0
        return since + self._flush_interval - now

    def write(self, batch: Batch) -> None:
        with self._lock:
            events, seen = self._pending, self._seen
            self._pending, self._seen, self._since = [], {}, None
            self._in_flight = (events, seen)
        self._write_rows(batch, events, seen)

    def written(self, error: BaseException | None) -> None:
        flight, self._in_flight = self._in_flight, None
        if error is None:
            self._succeeded()
            return
        if flight is not None:  # put them back in front, for the next attempt (or the file at close)
            events, seen = flight
            with self._lock:
                self._pending[:0] = events
                for rid, ts in seen.items():
                    self._seen.setdefault(rid, ts)
                if (self._pending or self._seen) and self._since is None:
                    self._since = time.monotonic()
        self._failed(error)

    def _write_rows(self, batch: Batch, events: list[EventRow], seen: dict[int, int]) -> None:
        batch.execute("SAVEPOINT reach_batch")
        try:
            for sql, rows in event_statements(events, self._db.zone_offset):
                batch.executemany(sql, rows)
        except IntegrityError:
            # One row the schema refuses must not hold back the others: write them one by one.
            batch.execute("ROLLBACK TO reach_batch")
            for row in events:
                batch.execute("SAVEPOINT one_event")
                try:
                    for sql, rows in event_statements([row], self._db.zone_offset):
                        batch.executemany(sql, rows)
                except IntegrityError as exc:
                    batch.execute("ROLLBACK TO one_event")
                    log.error("dropped a reach event the database refuses (%s): %r", exc, row)
                batch.execute("RELEASE one_event")
        batch.execute("RELEASE reach_batch")
        for sql, params in _touch_statements(seen):
            batch.execute(sql, params)

    # -- when writes fail ----------------------------------------------------------------------

    def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._failures += 1
        delay = min(max(self._flush_interval, 0.1) * 2 ** min(self._failures - 1, 20), RETRY_MAX)
        self._retry_at = now + delay
        if self._failing_since is None:
            self._failing_since = self._reported_at = now
            log.error(
                "cannot write reach events (%s); %d pending, retrying with backoff (reported once a minute)",
                _brief(exc),
                self.pending,
            )
            log.debug("the first failure", exc_info=exc)
        elif now - self._reported_at >= REPORT_EVERY:
            self._reported_at = now
            log.error(
                "reach events still cannot be written after %.0f s (%s); %d pending, %d saved to files",
                now - self._failing_since,
                _brief(exc),
                self.pending,
                self._spilled,
            )

    def _succeeded(self) -> None:
        if self._failing_since is None:
            return
        log.warning("reach events are written again, after %.0f s of failures", time.monotonic() - self._failing_since)
        self._failures, self._failing_since, self._spilled = 0, None, 0
        if self._spilled_files and self._loop is not None and not self._closed:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                self._loop.call_soon_threadsafe(self._start_import)

    def _start_import(self) -> None:
        if not self._closed and (self._import_task is None or self._import_task.done()):
            self._import_task = asyncio.get_running_loop().create_task(self._import_in_background())

    async def _import_in_background(self) -> None:
        try:
            await self.import_spilled()
        except Exception as exc:
            log.error("importing saved reach events failed (%s); retried at the next start", _brief(exc))

    def _spill_overflow(self) -> None:
        """The buffer is full (the database has refused writes for a while): save it to a file."""
        with self._lock:
            events, seen = self._pending, self._seen
            self._pending, self._seen, self._since = [], {}, None
        path = self._spill(events, seen)
        if path is None:  # kept in memory after all; try the file again after as many events more
            with self._lock:
                self._pending[:0] = events
                self._seen = {**seen, **self._seen}
                self._since = self._since or time.monotonic()
                self._spill_at = len(self._pending) + self._max_pending
            return
        self._spill_at = self._max_pending
        self._spilled += len(events)
        log.error("%d reach events waiting for the database saved to %s", len(events), path)

    def _spill(self, events: list[EventRow], seen: dict[int, int]) -> Path | None:
        """Write events (and last-seen times) to a new file beside the database, atomically; None if impossible."""
        if not events and not seen:
            return None
        if self._db.path is None:
            log.error("%d reach events lost: an in-memory database has nowhere to save them", len(events))
            return None
        key = uuid.uuid4().hex
        stamp = time.strftime("%Y%m%dT%H%M%S")
        path = self._db.path.with_name(f"{self._db.path.name}{SPILL_MARK}{stamp}-{key[:12]}.jsonl")
        temporary = path.with_name(path.name + ".tmp")
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                header = {"key": key, "columns": EVENT_COLUMNS, "events": len(events), "seen": sorted(seen.items())}
                file.write(json.dumps(header) + "\n")
                file.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in events)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)  # whole or not at all
            _sync_directory(path.parent)
        except OSError as exc:
            log.critical("could not save %d reach events to %s (%s)", len(events), path, exc)
            with contextlib.suppress(OSError):
                temporary.unlink()
            return None
        self._spilled_files.append(path)
        return path

    async def import_spilled(self) -> int:
        """Write the events saved to files beside the database (by this or an earlier run), each file exactly
        once, with the events' own times; returns how many were imported."""
        if self._db.path is None:
            return 0
        directory, prefix = self._db.path.parent, self._db.path.name + SPILL_MARK
        try:
            names = sorted(p.name for p in directory.iterdir() if p.name.startswith(prefix))
        except OSError:
            return 0
        imported = 0
        for name in names:
            if name.endswith(".jsonl"):  # take it: a concurrent start of another process skips it
                importing = directory / (name + ".importing")
                try:
                    os.rename(directory / name, importing)
                except FileNotFoundError:
                    continue
            elif name.endswith(".jsonl.importing"):  # left by a crash during an import: maybe done, maybe not
                importing = directory / name
            else:
                continue
            try:
                key, events, seen = _read_spill(importing)
            except FileNotFoundError:
                continue  # another process imported it meanwhile
            except (OSError, ValueError, KeyError, TypeError) as exc:
                unreadable = importing.with_name(importing.name + ".unreadable")
                with contextlib.suppress(OSError):
                    os.replace(importing, unreadable)
                log.error("cannot import saved reach events from %s (%s); left as %s", name, exc, unreadable.name)
                continue
            done = await self._db.run_batch(functools.partial(self._import, key=key, events=events, seen=seen))
            importing.unlink(missing_ok=True)
            self._spilled_files = [p for p in self._spilled_files if p.name != name]
            if done:
                imported += len(events)
                log.warning("imported %d saved reach events from %s", len(events), name)
            else:
                log.info("%s was imported before; removed", name)
        return imported

    def _import(self, batch: Batch, *, key: str, events: list[EventRow], seen: dict[int, int]) -> bool:
        if not batch.claim_once(f"reach-events-file:{key}"):
            return False
        self._write_rows(batch, events, seen)
        return True

    # -- reading -------------------------------------------------------------------------------

    async def count(self, **where: Any) -> int:
        """Count reach events matching column = value filters (tests, statistics)."""
        unknown = set(where) - set(EVENT_COLUMNS)
        if unknown:
            raise ValueError(f"unknown event columns {sorted(unknown)}")
        # Column names come from the fixed EVENT_COLUMNS above, values are parameters.
        clause = " AND ".join(f"{k} = ?" for k in where) or "TRUE"
        query = f"SELECT COUNT(*) FROM reach_events WHERE {clause}"
        return int(await self._db.fetchvalue(query, tuple(where.values())))

    async def events(self, resident_id: int | None = None) -> list[ReachEvent]:
        """Events in the order they were recorded (tests, exports)."""
        query = f"SELECT {', '.join(EVENT_COLUMNS)} FROM reach_events"
        params: tuple[Any, ...] = ()
        if resident_id is not None:
            query += " WHERE resident_id = ?"
            params = (resident_id,)
        rows = await self._db.fetchall(query + " ORDER BY id", params)
        return [
            ReachEvent(
                resident_id=r["resident_id"],
                channel=r["channel"],
                kind=r["kind"],
                topic_id=r["topic_id"],
                item_id=r["item_id"],
                place_id=r["place_id"],
                campaign_id=r["campaign_id"],
                broadcast_id=r["broadcast_id"],
                correct=None if r["correct"] is None else bool(r["correct"]),
                ts=r["ts"],
            )
            for r in rows
        ]


def _touch_statements(seen: dict[int, int], per_statement: int = 300) -> list[tuple[str, list[int]]]:
    """Last-seen times as one UPDATE per 300 residents (not one per resident: each statement the writer runs
    costs it a wait for the GIL while the event loop is busy)."""
    items = sorted(seen.items())
    statements = []
    for start in range(0, len(items), per_statement):
        chunk = items[start : start + per_statement]
        cases = " ".join("WHEN ? THEN CAST(? AS BIGINT)" for _ in chunk)
        marks = ", ".join("?" for _ in chunk)
        # Only placeholders are formatted into the statement; ids and times are parameters.
        sql = f"UPDATE residents SET last_seen = MAX(last_seen, CASE id {cases} END) WHERE id IN ({marks})"
        statements.append((sql, [value for pair in chunk for value in pair] + [rid for rid, _ in chunk]))
    return statements


def _read_spill(path: Path) -> tuple[str, list[EventRow], dict[int, int]]:
    with open(path, encoding="utf-8") as file:
        header = json.loads(file.readline())
        if list(header["columns"]) != list(EVENT_COLUMNS):
            raise ValueError(f"columns {header['columns']} are not {list(EVENT_COLUMNS)}")
        events = [tuple(json.loads(line)) for line in file if line.strip()]
    if len(events) != header["events"] or any(len(row) != len(EVENT_COLUMNS) for row in events):
        raise ValueError(f"{len(events)} events where the header says {header['events']}")
    return str(header["key"]), events, {int(rid): int(ts) for rid, ts in header["seen"]}


def _sync_directory(directory: Path) -> None:
    """Make a rename in `directory` survive a power cut (POSIX; a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _brief(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
