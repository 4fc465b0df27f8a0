"""The reach log: one row per delivery of content to a resident, and the monthly roll-ups kept with it.

Events are written behind: `ReachLog.record` buffers them and they are flushed in batches (every
`flush_interval` seconds or `flush_size` events, and on close), so recording a delivery never waits for
the disk. Residents' last-seen times ride along with the same flush.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from bot.storage.db import Database, IntegrityError, Transaction

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


_INSERT_EVENT = (
    f"INSERT INTO reach_events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
)
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


async def write_events(tx: Transaction, rows: list[EventRow], zone_offset: int) -> None:
    """Insert reach events and keep the monthly roll-ups in step, inside the caller's transaction."""
    if not rows:
        return
    await tx.executemany(_INSERT_EVENT, rows)
    counted = [row for row in rows if row[2] != "console"]  # statistics leave console trials out
    await tx.executemany(_ROLLUP_REACH, [(r[0], zone_offset, r[1], r[4] or "", r[6] or "", r[2]) for r in counted])
    answers = [row for row in counted if row[3] == "quiz_answer"]
    if answers:
        await tx.executemany(_ROLLUP_QUIZ, [(r[0], zone_offset, r[5], r[6] or "", r[9] or 0) for r in answers])
        await tx.executemany(_ROLLUP_PARTICIPANT, [(r[0], zone_offset, r[1]) for r in answers])


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


class ReachLog:
    def __init__(self, db: Database, flush_interval: float = 0.2, flush_size: int = 500) -> None:
        self._db = db
        self._pending: list[EventRow] = []
        self._seen: dict[int, int] = {}  # resident id -> last_seen, written with the next flush
        self._flush_interval = flush_interval
        self._flush_size = flush_size
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._closed = False

    # -- buffering -----------------------------------------------------------------------------

    def record(self, event: ReachEvent) -> None:
        """Buffer one delivery; it reaches the database within `flush_interval` seconds."""
        if self._closed:
            raise RuntimeError("storage is closed")
        if event.kind not in EVENT_KINDS:
            raise ValueError(f"unknown reach event kind {event.kind!r}")
        self._pending.append(event_row(event, self._db.now()))
        if len(self._pending) >= self._flush_size:
            self._start_flush()
        else:
            self._schedule_flush()

    def touch(self, resident_id: int, now: int) -> None:
        """Note that a resident was seen; written with the next flush."""
        self._seen[resident_id] = now
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

    async def close(self) -> None:
        """Flush, then refuse further events."""
        await self.flush()
        self._closed = True

    async def _flush_pending(self) -> None:
        while self._pending or self._seen:
            events, self._pending = self._pending, []
            seen, self._seen = self._seen, {}
            try:
                async with self._db.atomic() as tx:
                    await self._write(tx, events, seen)
            except IntegrityError:
                # One row the schema refuses must not hold back the others: write them one by one.
                await self._write_row_by_row(events, seen)
            except Exception:
                # Put them back so a later flush (or close) retries; never drop deliveries silently.
                self._pending[:0] = events
                for rid, ts in seen.items():
                    self._seen.setdefault(rid, ts)
                log.exception("writing %d reach events failed; will retry", len(events))
                raise

    async def _write(self, tx: Transaction, events: list[EventRow], seen: dict[int, int]) -> None:
        await write_events(tx, events, self._db.zone_offset)
        if seen:
            await tx.executemany(
                "UPDATE residents SET last_seen = MAX(last_seen, ?) WHERE id = ?",
                [(ts, rid) for rid, ts in seen.items()],
            )

    async def _write_row_by_row(self, events: list[EventRow], seen: dict[int, int]) -> None:
        async with self._db.atomic() as tx:
            await self._write(tx, [], seen)
            for row in events:
                try:
                    await tx.execute("SAVEPOINT one_event")
                    await write_events(tx, [row], self._db.zone_offset)
                    await tx.execute("RELEASE one_event")
                except IntegrityError as exc:
                    await tx.execute("ROLLBACK TO one_event")
                    await tx.execute("RELEASE one_event")
                    log.error("dropped a reach event the database refuses (%s): %r", exc, row)

    async def _flush_in_background(self) -> None:
        try:
            await self.flush()
        except Exception:
            self._schedule_flush()  # already logged; try again after the interval

    # -- reading -------------------------------------------------------------------------------

    async def count(self, **where: Any) -> int:
        """Count reach events matching column = value filters (tests, statistics)."""
        unknown = set(where) - set(EVENT_COLUMNS)
        if unknown:
            raise ValueError(f"unknown event columns {sorted(unknown)}")
        # Column names come from the fixed EVENT_COLUMNS above, values are parameters.
        clause = " AND ".join(f"{k} = ?" for k in where) or "1"
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
