"""SQLite storage on aiosqlite: residents, subscriptions and the reach-event log.

One connection per process, WAL journal, foreign keys on. Writes that belong
together run in `atomic()`, serialised by a lock because every coroutine shares
the connection. Reach events are written behind: they are buffered and flushed in
batches (every `flush_interval` seconds or `flush_size` events, and on close) so
recording a delivery never waits for the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.broadcasts import BroadcastStore
from bot.storage.ledger import LedgerStore
from bot.storage.migrations import MIGRATIONS, Migration
from bot.storage.quizzes import QuizStore
from bot.storage.stats import StatsStore

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True)
class Resident:
    id: int
    channel: str
    external_id: str
    display_name: str
    language: str | None
    place_id: str | None
    place_asked: bool
    subscribed: bool
    blocked: bool
    first_seen: int
    last_seen: int
    public_name: str | None = None  # opt-in name for leaderboards and certificates


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


_RESIDENT_COLUMNS = ", ".join(f.name for f in fields(Resident))
_EVENT_COLUMNS = (
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
DEFAULT_ZONE_OFFSET = 8 * 3600  # Asia/Shanghai; Storage.open takes the town's offset from the settings
_INSERT_EVENT = (
    f"INSERT INTO reach_events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
)
EVENT_KINDS = frozenset({"tip", "quiz_question", "quiz_answer", "broadcast", "answer"})
_UPDATABLE = {"display_name", "language", "place_id", "place_asked", "subscribed", "blocked", "public_name"}


class Storage:
    def __init__(
        self,
        connection: aiosqlite.Connection,
        clock: Clock = time.time,
        flush_interval: float = 0.2,
        flush_size: int = 500,
        zone_offset: int = DEFAULT_ZONE_OFFSET,
    ) -> None:
        self._db = connection
        self.zone_offset = zone_offset  # seconds east of UTC: months of the roll-ups are the town's months
        self._clock = clock
        self._write_lock = asyncio.Lock()
        self._pending: list[tuple[Any, ...]] = []
        self._seen: dict[int, int] = {}  # resident id -> last_seen, written with the next flush
        self._flush_interval = flush_interval
        self._flush_size = flush_size
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._closed = False
        self.quizzes = QuizStore(self)
        self.broadcasts = BroadcastStore(self)
        self.ledger = LedgerStore(self)
        self.stats = StatsStore(self)

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def open(cls, path: Path | str, clock: Clock = time.time, **options: Any) -> Storage:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(str(path), isolation_level=None)
        connection.row_factory = aiosqlite.Row
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON", "busy_timeout = 5000"):
            await connection.execute(f"PRAGMA {pragma}")
        storage = cls(connection, clock, **options)
        await storage.migrate()
        return storage

    async def close(self) -> None:
        """Flush every buffered event, then close. Safe to call twice."""
        if self._closed:
            return
        await self.flush()
        self._closed = True
        await self._db.close()

    async def migrate(self, migrations: Iterable[Migration] = MIGRATIONS) -> list[int]:
        """Apply migrations newer than the database; returns the versions applied."""
        await self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        async with self._db.execute("SELECT version FROM schema_migrations") as cursor:
            done = {row[0] async for row in cursor}
        applied = []
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in done:
                continue
            async with self.atomic():
                # executescript would COMMIT first; run the statements one by one instead.
                for statement in _split_sql(migration.sql):
                    await self._db.execute(statement)
                await self._db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, int(self._clock())),
                )
            applied.append(migration.version)
            log.info("applied migration %d: %s", migration.version, migration.name)
        return applied

    async def schema_version(self) -> int:
        async with self._db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; rolled back if the block raises."""
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    # -- residents ---------------------------------------------------------------------------

    async def get_or_create_resident(
        self, channel: str, external_id: str, display_name: str = "", language: str | None = None
    ) -> tuple[Resident, bool]:
        """The resident for this channel identity; `created` is True on first contact."""
        now = int(self._clock())
        resident = await self.find_resident(channel, external_id)
        if resident is not None:
            self._seen[resident.id] = now
            self._schedule_flush()
            return replace(resident, last_seen=now), False
        async with self.atomic() as db:
            # INSERT OR IGNORE: two first messages racing from the same person create one row.
            cursor = await db.execute(
                "INSERT OR IGNORE INTO residents (channel, external_id, display_name, language, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (channel, external_id, display_name[:64], language, now, now),
            )
            created = cursor.rowcount == 1
        resident = await self.find_resident(channel, external_id)
        if resident is None:  # pragma: no cover - the row was just written
            raise RuntimeError(f"resident {channel}:{external_id} vanished after insert")
        return resident, created

    async def find_resident(self, channel: str, external_id: str) -> Resident | None:
        async with self._db.execute(
            f"SELECT {_RESIDENT_COLUMNS} FROM residents WHERE channel = ? AND external_id = ?",
            (channel, external_id),
        ) as cursor:
            row = await cursor.fetchone()
        return _resident(row) if row else None

    async def resident(self, resident_id: int) -> Resident | None:
        async with self._db.execute(
            f"SELECT {_RESIDENT_COLUMNS} FROM residents WHERE id = ?",
            (resident_id,),
        ) as cursor:
            row = await cursor.fetchone()
        return _resident(row) if row else None

    async def update_resident(self, resident_id: int, **changes: Any) -> None:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update resident fields {sorted(unknown)}")
        if not changes:
            return
        # Column names come from the fixed _UPDATABLE set above, values are parameters.
        assignments = ", ".join(f"{name} = ?" for name in changes)
        async with self.atomic() as db:
            await db.execute(
                f"UPDATE residents SET {assignments} WHERE id = ?",
                (*(_to_sql(v) for v in changes.values()), resident_id),
            )

    async def set_blocked(self, channel: str, external_id: str, blocked: bool) -> bool:
        """Mark a resident (un)blocked by channel identity; False if we never met them."""
        async with self.atomic() as db:
            cursor = await db.execute(
                "UPDATE residents SET blocked = ? WHERE channel = ? AND external_id = ?",
                (int(blocked), channel, external_id),
            )
        return cursor.rowcount > 0

    async def draft(self, resident_id: int) -> dict[str, Any] | None:
        async with self._db.execute("SELECT data FROM admin_drafts WHERE resident_id = ?", (resident_id,)) as cursor:
            row = await cursor.fetchone()
        return json.loads(row[0]) if row else None

    async def save_draft(self, resident_id: int, data: dict[str, Any] | None) -> None:
        """Keep (or, with None, drop) an admin's dialog state across restarts."""
        async with self.atomic() as db:
            if data is None:
                await db.execute("DELETE FROM admin_drafts WHERE resident_id = ?", (resident_id,))
            else:
                await db.execute(
                    "INSERT OR REPLACE INTO admin_drafts (resident_id, data, updated_at) VALUES (?, ?, ?)",
                    (resident_id, json.dumps(data, ensure_ascii=False), int(self._clock())),
                )

    async def first_callback(self, key: str) -> bool:
        """True the first time a callback key is seen (a retried callback returns False)."""
        now = int(self._clock())
        async with self.atomic() as db:
            cursor = await db.execute("INSERT OR IGNORE INTO callback_seen (key, at) VALUES (?, ?)", (key[:200], now))
            if cursor.rowcount == 1 and now % 100 == 0:  # now and then, forget keys older than a day
                await db.execute("DELETE FROM callback_seen WHERE at < ?", (now - 86400,))
        return cursor.rowcount == 1

    async def log_unanswered(self, question: str) -> None:
        """Count a question no tip answered (normalised text only, never who asked)."""
        now = int(self._clock())
        async with self.atomic() as db:
            await db.execute(
                "INSERT INTO unanswered (question, asked, first_asked, last_asked) VALUES (?, 1, ?, ?)"
                " ON CONFLICT DO UPDATE SET asked = asked + 1, last_asked = excluded.last_asked",
                (question[:200], now, now),
            )

    async def unanswered(self, limit: int = 50) -> list[tuple[str, int, int]]:
        async with self._db.execute(
            "SELECT question, asked, last_asked FROM unanswered ORDER BY asked DESC, last_asked DESC LIMIT ?",
            (limit,),
        ) as cursor:
            return [(row[0], int(row[1]), int(row[2])) async for row in cursor]

    async def unsubscribed_topics(self, resident_id: int) -> set[str]:
        async with self._db.execute(
            "SELECT topic_id FROM topic_optouts WHERE resident_id = ?", (resident_id,)
        ) as cursor:
            return {row[0] async for row in cursor}

    async def set_topic_subscription(self, resident_id: int, topic_id: str, subscribed: bool) -> None:
        async with self.atomic() as db:
            if subscribed:
                await db.execute(
                    "DELETE FROM topic_optouts WHERE resident_id = ? AND topic_id = ?", (resident_id, topic_id)
                )
            else:
                await db.execute(
                    "INSERT OR IGNORE INTO topic_optouts (resident_id, topic_id) VALUES (?, ?)",
                    (resident_id, topic_id),
                )

    async def subscribe_all(self, resident_id: int) -> None:
        async with self.atomic() as db:
            await db.execute("UPDATE residents SET subscribed = 1 WHERE id = ?", (resident_id,))
            await db.execute("DELETE FROM topic_optouts WHERE resident_id = ?", (resident_id,))

    # -- reach events ------------------------------------------------------------------------

    def record(self, event: ReachEvent) -> None:
        """Buffer one delivery; it reaches the database within `flush_interval` seconds."""
        if self._closed:
            raise RuntimeError("storage is closed")
        if event.kind not in EVENT_KINDS:
            raise ValueError(f"unknown reach event kind {event.kind!r}")
        self._pending.append(event_row(event, int(self._clock())))
        if len(self._pending) >= self._flush_size:
            self._start_flush()
        else:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_timer is None and not self._closed:
            loop = asyncio.get_running_loop()
            self._flush_timer = loop.call_later(self._flush_interval, self._start_flush)

    def _start_flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush_in_background())

    async def flush(self) -> None:
        """Write every buffered event and last-seen time now (after any flush already under way)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        # One flush at a time: a caller must not return while a background flush still holds
        # events it took from the buffer but has not committed yet.
        async with self._flush_lock:
            await self._flush_pending()

    async def _flush_pending(self) -> None:
        while self._pending or self._seen:
            events, self._pending = self._pending, []
            seen, self._seen = self._seen, {}
            try:
                async with self.atomic() as db:
                    await self._write(db, events, seen)
            except sqlite3.IntegrityError:
                # One row the schema refuses must not hold back the others: write them one by one.
                await self._write_row_by_row(events, seen)
            except Exception:
                # Put them back so a later flush (or close) retries; never drop deliveries silently.
                self._pending[:0] = events
                for rid, ts in seen.items():
                    self._seen.setdefault(rid, ts)
                log.exception("writing %d reach events failed; will retry", len(events))
                raise

    async def _write(self, db: aiosqlite.Connection, events: list[tuple[Any, ...]], seen: dict[int, int]) -> None:
        await write_events(db, events, self.zone_offset)
        if seen:
            await db.executemany(
                "UPDATE residents SET last_seen = MAX(last_seen, ?) WHERE id = ?",
                [(ts, rid) for rid, ts in seen.items()],
            )

    async def _write_row_by_row(self, events: list[tuple[Any, ...]], seen: dict[int, int]) -> None:
        async with self.atomic() as db:
            await self._write(db, [], seen)
            for row in events:
                try:
                    await db.execute("SAVEPOINT one_event")
                    await write_events(db, [row], self.zone_offset)
                    await db.execute("RELEASE one_event")
                except sqlite3.IntegrityError as exc:
                    await db.execute("ROLLBACK TO one_event")
                    await db.execute("RELEASE one_event")
                    log.error("dropped a reach event the database refuses (%s): %r", exc, row)

    async def _flush_in_background(self) -> None:
        try:
            await self.flush()
        except Exception:
            self._schedule_flush()  # already logged; try again after the interval

    async def count_events(self, **where: Any) -> int:
        """Count reach events matching column = value filters (tests, statistics)."""
        unknown = set(where) - set(_EVENT_COLUMNS)
        if unknown:
            raise ValueError(f"unknown event columns {sorted(unknown)}")
        clause = " AND ".join(f"{k} = ?" for k in where) or "1"
        async with self._db.execute(
            f"SELECT COUNT(*) FROM reach_events WHERE {clause}",
            tuple(where.values()),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def events(self, resident_id: int | None = None) -> list[ReachEvent]:
        """Events in the order they were recorded (tests, exports)."""
        query = f"SELECT {', '.join(_EVENT_COLUMNS)} FROM reach_events"
        params: tuple[Any, ...] = ()
        if resident_id is not None:
            query += " WHERE resident_id = ?"
            params = (resident_id,)
        async with self._db.execute(query + " ORDER BY id", params) as cursor:
            rows = await cursor.fetchall()
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


_ROLLUP_REACH = (
    "INSERT INTO reach_monthly (month, resident_id, topic_id, place_id, channel, deliveries)"
    " VALUES (strftime('%Y-%m', ? + ?, 'unixepoch'), ?, ?, ?, ?, 1)"
    " ON CONFLICT DO UPDATE SET deliveries = deliveries + 1"
)
_ROLLUP_QUIZ = (
    "INSERT INTO quiz_monthly (month, question_id, place_id, answers, correct)"
    " VALUES (strftime('%Y-%m', ? + ?, 'unixepoch'), ?, ?, 1, ?)"
    " ON CONFLICT DO UPDATE SET answers = answers + 1, correct = correct + excluded.correct"
)
_ROLLUP_PARTICIPANT = (
    "INSERT OR IGNORE INTO quiz_participants_monthly (month, resident_id)"
    " VALUES (strftime('%Y-%m', ? + ?, 'unixepoch'), ?)"
)


async def write_events(db: aiosqlite.Connection, rows: list[tuple[Any, ...]], zone_offset: int) -> None:
    """Insert reach events and keep the monthly roll-ups in step, inside the caller's transaction."""
    if not rows:
        return
    await db.executemany(_INSERT_EVENT, rows)
    counted = [row for row in rows if row[2] != "console"]  # statistics leave console trials out
    await db.executemany(_ROLLUP_REACH, [(r[0], zone_offset, r[1], r[4] or "", r[6] or "", r[2]) for r in counted])
    answers = [row for row in counted if row[3] == "quiz_answer"]
    if answers:
        await db.executemany(_ROLLUP_QUIZ, [(r[0], zone_offset, r[5], r[6] or "", r[9] or 0) for r in answers])
        await db.executemany(_ROLLUP_PARTICIPANT, [(r[0], zone_offset, r[1]) for r in answers])


def event_row(event: ReachEvent, now: int) -> tuple[Any, ...]:
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


def _resident(row: aiosqlite.Row) -> Resident:
    return Resident(
        id=row["id"],
        channel=row["channel"],
        external_id=row["external_id"],
        display_name=row["display_name"],
        language=row["language"],
        place_id=row["place_id"],
        place_asked=bool(row["place_asked"]),
        subscribed=bool(row["subscribed"]),
        blocked=bool(row["blocked"]),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        public_name=row["public_name"],
    )


def _to_sql(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our literals or comments)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
