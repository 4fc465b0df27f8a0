"""Broadcasts: the persisted per-recipient queue behind the digital 村村响.

Crash safety comes from the order of writes. Recipients are written when a broadcast
is claimed; outcomes (and their reach events) are written in one transaction per
batch after the batch was sent. A kill -9 therefore loses at most the outcomes of
the batch in flight, and those recipients, still `pending`, are sent again on
restart: at most one batch is sent twice, nobody is skipped. A lease on the
broadcast keeps two bot processes from sending the same broadcast at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.storage.db import Database, Row
from bot.storage.reach import ReachEvent, event_row, write_events

OUTCOMES = ("delivered", "blocked", "failed", "cancelled", "out_of_window")


@dataclass(frozen=True)
class Audience:
    """Who a broadcast goes to. Kinds combine with AND, values of one kind with OR; empty = everyone."""

    topics: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    @classmethod
    def parse(cls, specs: Iterable[str]) -> Audience:
        """`all`, `topic:ID`, `place:ID`, `lang:zh-CN|en`; raises ValueError naming a bad one."""
        topics, places, languages = [], [], []
        for spec in specs:
            kind, _, value = spec.partition(":")
            if spec == "all":
                continue
            if not value:
                raise ValueError(f"audience {spec!r} is not all, topic:ID, place:ID or lang:CODE")
            if kind == "topic":
                topics.append(value)
            elif kind == "place":
                places.append(value)
            elif kind == "lang":
                languages.append({"zh": "zh-CN", "zh-cn": "zh-CN"}.get(value.lower(), value))
            else:
                raise ValueError(f"audience {spec!r} is not all, topic:ID, place:ID or lang:CODE")
        return cls(tuple(dict.fromkeys(topics)), tuple(dict.fromkeys(places)), tuple(dict.fromkeys(languages)))

    def to_json(self) -> str:
        return json.dumps({"topics": self.topics, "places": self.places, "languages": self.languages})

    @classmethod
    def from_json(cls, text: str) -> Audience:
        data = json.loads(text)
        return cls(tuple(data.get("topics", ())), tuple(data.get("places", ())), tuple(data.get("languages", ())))

    def describe(self) -> list[str]:
        specs = [f"topic:{t}" for t in self.topics] + [f"place:{p}" for p in self.places]
        specs += [f"lang:{lang}" for lang in self.languages]
        return specs or ["all"]


@dataclass(frozen=True)
class Broadcast:
    id: int
    created_at: int
    created_by: str
    item_id: str | None
    text: str | None
    image: str | None
    topic_id: str | None
    audience: Audience
    send_at: int
    status: str
    campaign_id: str | None
    occurrence: str | None
    targeted: int
    started_at: int | None
    finished_at: int | None


@dataclass(frozen=True)
class Recipient:
    resident_id: int
    channel: str
    external_id: str
    language: str | None
    place_id: str | None


@dataclass(frozen=True)
class Outcome:
    resident_id: int
    status: str  # delivered | blocked | failed | out_of_window
    reason: str | None = None
    attempts: int = 1
    deferred_until: int | None = None  # out_of_window: may still go out with a reply until then
    receipt: str | None = None  # delivered: the platform's message id, if it may report a failure later


@dataclass
class Progress:
    targeted: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def pending(self) -> int:
        return self.counts.get("pending", 0)

    def as_dict(self) -> dict[str, int]:
        return {"targeted": self.targeted, **{s: self.counts.get(s, 0) for s in ("pending", *OUTCOMES)}}


_COLUMNS = (
    "id, created_at, created_by, item_id, text, image, topic_id, audience, send_at, status, campaign_id, occurrence,"
    " targeted, started_at, finished_at"
)
_QUALIFIED = ", ".join(f"b.{column.strip()}" for column in _COLUMNS.split(","))


class BroadcastStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        created_by: str,
        audience: Audience,
        send_at: int,
        now: int,
        item_id: str | None = None,
        text: str | None = None,
        image: str | None = None,
        topic_id: str | None = None,
        campaign_id: str | None = None,
        occurrence: str | None = None,
    ) -> int | None:
        """The new broadcast's id; None if this campaign occurrence was already created."""
        async with self._db.atomic() as tx:
            # DO NOTHING rather than catching the IntegrityError: on PostgreSQL a failed statement aborts the
            # whole transaction. No row back: the occurrence (UNIQUE) was already created.
            row = await tx.fetchone(
                "INSERT INTO broadcasts (created_at, created_by, item_id, text, image, topic_id, audience,"
                " send_at, campaign_id, occurrence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING id",
                (
                    now,
                    created_by,
                    item_id,
                    text,
                    image,
                    topic_id,
                    audience.to_json(),
                    send_at,
                    campaign_id,
                    occurrence,
                ),
            )
        return int(row[0]) if row is not None else None

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM broadcasts WHERE id = ?", (broadcast_id,))
        return _broadcast(row) if row else None

    async def recent(self, limit: int = 20) -> list[Broadcast]:
        rows = await self._db.fetchall(f"SELECT {_COLUMNS} FROM broadcasts ORDER BY id DESC LIMIT ?", (limit,))
        return [_broadcast(row) for row in rows]

    async def occurrences(self, campaign_ids: Sequence[str]) -> set[str]:
        marks = ", ".join("?" * len(campaign_ids))
        rows = await self._db.fetchall(
            f"SELECT occurrence FROM broadcasts WHERE campaign_id IN ({marks})", tuple(campaign_ids)
        )
        return {row[0] for row in rows if row[0]}

    async def progress(self, broadcast_id: int) -> Progress:
        broadcast = await self.get(broadcast_id)
        rows = await self._db.fetchall(
            "SELECT status, COUNT(*) FROM broadcast_recipients WHERE broadcast_id = ? GROUP BY status",
            (broadcast_id,),
        )
        counts = {row[0]: int(row[1]) for row in rows}
        return Progress(broadcast.targeted if broadcast else 0, counts)

    async def cancel(self, broadcast_id: int, now: int) -> bool:
        async with self._db.atomic() as tx:
            written = await tx.execute(
                "UPDATE broadcasts SET status = 'cancelled', finished_at = ?"
                " WHERE id = ? AND status IN ('scheduled', 'sending')",
                (now, broadcast_id),
            )
            if written.rowcount == 0:
                return False
            await tx.execute(
                "UPDATE broadcast_recipients SET status = 'cancelled', updated_at = ?"
                " WHERE broadcast_id = ? AND status = 'pending'",
                (now, broadcast_id),
            )
        return True

    # -- audience ----------------------------------------------------------------------------

    @staticmethod
    def _audience_sql(audience: Audience, topic_id: str | None, channels: Sequence[str]) -> tuple[str, list[Any]]:
        """WHERE clause over residents r: subscribed, not blocked, on a served channel, matching the filters."""
        clauses = ["r.subscribed = 1", "r.blocked = 0"]
        params: list[Any] = []
        if channels:
            clauses.append(f"r.channel IN ({', '.join('?' * len(channels))})")
            params += channels
        if audience.places:
            clauses.append(f"r.place_id IN ({', '.join('?' * len(audience.places))})")
            params += audience.places
        if audience.languages:
            clauses.append(f"COALESCE(r.language, 'zh-CN') IN ({', '.join('?' * len(audience.languages))})")
            params += audience.languages
        if audience.topics:
            # a subscriber of at least one of the topics: opted out of fewer than all of them
            clauses.append(
                "(SELECT COUNT(*) FROM topic_optouts o WHERE o.resident_id = r.id"
                f" AND o.topic_id IN ({', '.join('?' * len(audience.topics))})) < ?"
            )
            params += [*audience.topics, len(audience.topics)]
        if topic_id:
            clauses.append("NOT EXISTS (SELECT 1 FROM topic_optouts o WHERE o.resident_id = r.id AND o.topic_id = ?)")
            params.append(topic_id)
        return " AND ".join(clauses), params

    async def count_audience(self, audience: Audience, topic_id: str | None, channels: Sequence[str]) -> int:
        where, params = self._audience_sql(audience, topic_id, channels)
        return int(await self._db.fetchvalue(f"SELECT COUNT(*) FROM residents r WHERE {where}", params))

    # -- sending -----------------------------------------------------------------------------

    async def claim_due(self, owner: str, now: int, lease: int, channels: Sequence[str]) -> Broadcast | None:
        """The next broadcast with work for this process: a due one (its audience fixed now, when sending starts),
        or one being sent whose recipients are not all claimed (every process sends the same broadcast, batch by
        batch: `claim_batch`), or one left with nothing pending to be marked done."""
        async with self._db.atomic() as tx:
            row = await tx.fetchone(
                "SELECT id, status FROM broadcasts b WHERE (status = 'scheduled' AND send_at <= ?)"
                " OR (status = 'sending' AND (EXISTS (SELECT 1 FROM broadcast_recipients q"
                " WHERE q.broadcast_id = b.id AND q.status = 'pending'"
                " AND (q.claimed_until IS NULL OR q.claimed_until < ?))"
                " OR NOT EXISTS (SELECT 1 FROM broadcast_recipients q"
                " WHERE q.broadcast_id = b.id AND q.status = 'pending')))"
                " ORDER BY send_at, id LIMIT 1",
                (now, now),
            )
            if row is None:
                return None
            broadcast_id, status = int(row[0]), row[1]
            await tx.execute(
                "UPDATE broadcasts SET status = 'sending', lease_owner = ?, lease_until = ?,"
                " started_at = COALESCE(started_at, ?) WHERE id = ?",
                (owner, now + lease, now, broadcast_id),
            )
            if status == "scheduled":
                # The audience is fixed now, when sending starts, from the residents of this moment.
                chosen = await tx.fetchone("SELECT audience, topic_id FROM broadcasts WHERE id = ?", (broadcast_id,))
                assert chosen is not None  # selected a moment ago in this same transaction
                audience_json, topic_id = chosen
                where, params = self._audience_sql(Audience.from_json(audience_json), topic_id, channels)
                # SQLite needs the WHERE (always present here) to read ON CONFLICT as an upsert clause.
                await tx.execute(
                    "INSERT INTO broadcast_recipients (broadcast_id, resident_id)"
                    f" SELECT ?, r.id FROM residents r WHERE {where} ON CONFLICT DO NOTHING",
                    (broadcast_id, *params),
                )
                await tx.execute(
                    "UPDATE broadcasts SET targeted ="
                    " (SELECT COUNT(*) FROM broadcast_recipients WHERE broadcast_id = ?) WHERE id = ?",
                    (broadcast_id, broadcast_id),
                )
        return await self.get(broadcast_id)

    async def claim_batch(self, broadcast_id: int, owner: str, now: int, lease: int, limit: int) -> list[Recipient]:
        """Up to `limit` pending recipients nobody holds (or whose holder's lease ran out: a killed process), held
        by this process until `now + lease` (renewed while it sends); none once the broadcast is cancelled."""
        async with self._db.atomic() as tx:
            rows = await tx.fetchall(
                "SELECT resident_id FROM broadcast_recipients WHERE broadcast_id = ? AND status = 'pending'"
                " AND (claimed_until IS NULL OR claimed_until < ?)"
                " AND EXISTS (SELECT 1 FROM broadcasts WHERE id = ? AND status = 'sending')"
                f" ORDER BY resident_id LIMIT ?{self._db.skip_locked}",
                (broadcast_id, now, broadcast_id, limit),
            )
            ids = [int(row[0]) for row in rows]
            if not ids:
                return []
            marks = ", ".join("?" * len(ids))
            await tx.execute(
                "UPDATE broadcast_recipients SET claimed_by = ?, claimed_until = ?"
                f" WHERE broadcast_id = ? AND resident_id IN ({marks})",
                (owner, now + lease, broadcast_id, *ids),
            )
            found = await tx.fetchall(
                "SELECT r.id, r.channel, r.external_id, r.language, r.place_id FROM residents r"
                f" WHERE r.id IN ({marks}) ORDER BY r.id",
                tuple(ids),
            )
        return [Recipient(int(row[0]), row[1], row[2], row[3], row[4]) for row in found]

    async def renew_claims(self, broadcast_id: int, owner: str, until: int) -> int:
        """Hold this process's pending recipients of the broadcast longer; 0 when it holds none any more (taken
        over after a silence longer than the lease, or cancelled): stop sending."""
        async with self._db.atomic() as tx:
            written = await tx.execute(
                "UPDATE broadcast_recipients SET claimed_until = ? WHERE broadcast_id = ? AND claimed_by = ?"
                " AND status = 'pending' AND EXISTS (SELECT 1 FROM broadcasts WHERE id = ? AND status = 'sending')",
                (until, broadcast_id, owner, broadcast_id),
            )
        return written.rowcount

    async def pending(self, broadcast_id: int, limit: int) -> list[Recipient]:
        rows = await self._db.fetchall(
            "SELECT r.id, r.channel, r.external_id, r.language, r.place_id FROM broadcast_recipients q"
            " JOIN residents r ON r.id = q.resident_id WHERE q.broadcast_id = ? AND q.status = 'pending'"
            " ORDER BY q.resident_id LIMIT ?",
            (broadcast_id, limit),
        )
        return [Recipient(int(row[0]), row[1], row[2], row[3], row[4]) for row in rows]

    async def record(
        self, broadcast_id: int, outcomes: Sequence[Outcome], events: Sequence[ReachEvent], now: int
    ) -> list[int]:
        """One batch's outcomes and reach events, together or not at all; returns the residents whose row changed.

        A recipient's reach event is written only when its row changed: a batch that another process took over
        (and already recorded), or one recorded twice, adds nothing. A delivery that happened while an admin
        cancelled the broadcast is still recorded as delivered, because it was: the counts stay true.
        """
        delivered_events = {e.resident_id: e for e in events}
        if not outcomes:
            return []
        async with self._db.atomic() as tx:
            # Which rows this batch may still change, read in the same write transaction as the update.
            marks = ", ".join("?" * len(outcomes))
            current = {
                row[0]: row[1]
                for row in await tx.fetchall(
                    "SELECT resident_id, status FROM broadcast_recipients"
                    f" WHERE broadcast_id = ? AND resident_id IN ({marks})",
                    (broadcast_id, *(o.resident_id for o in outcomes)),
                )
            }
            updates = [
                o
                for o in outcomes
                if current.get(o.resident_id) == "pending"
                or (current.get(o.resident_id) in ("cancelled", "out_of_window") and o.status == "delivered")
            ]
            await tx.executemany(
                "UPDATE broadcast_recipients SET status = ?, reason = ?, attempts = attempts + ?, updated_at = ?,"
                " deferred_until = ? WHERE broadcast_id = ? AND resident_id = ?",
                [(o.status, o.reason, o.attempts, now, o.deferred_until, broadcast_id, o.resident_id) for o in updates],
            )
            changed = [o.resident_id for o in updates]
            blocked = [(o.resident_id,) for o in outcomes if o.status == "blocked" and o.resident_id in changed]
            if blocked:
                await tx.executemany("UPDATE residents SET blocked = 1 WHERE id = ?", blocked)
            rows = [event_row(delivered_events[r], now) for r in changed if r in delivered_events]
            await write_events(tx, rows, self._db.zone_offset)
        return changed

    async def deferred_for(self, resident_id: int, now: int) -> list[Broadcast]:
        """Broadcasts that missed this resident's conversation window and may still go out with a reply."""
        rows = await self._db.fetchall(
            f"SELECT {_QUALIFIED} FROM broadcasts b JOIN broadcast_recipients q ON q.broadcast_id = b.id"
            " WHERE q.resident_id = ? AND q.status = 'out_of_window' AND q.deferred_until >= ?"
            " AND b.status != 'cancelled' ORDER BY b.send_at, b.id",
            (resident_id, now),
        )
        return [_broadcast(row) for row in rows]

    async def finish_if_done(self, broadcast_id: int, now: int) -> bool:
        async with self._db.atomic() as tx:
            written = await tx.execute(
                "UPDATE broadcasts SET status = 'done', finished_at = ?, lease_owner = NULL"
                " WHERE id = ? AND status = 'sending' AND NOT EXISTS (SELECT 1 FROM broadcast_recipients"
                " WHERE broadcast_id = ? AND status = 'pending')",
                (now, broadcast_id, broadcast_id),
            )
        return written.rowcount == 1

    # -- admin notices -----------------------------------------------------------------------

    async def notice_once(self, key: str, now: int) -> bool:
        """True the first time `key` is seen (so a warning is given once, whichever process sees it)."""
        async with self._db.atomic() as tx:
            written = await tx.execute(
                "INSERT INTO admin_notices (key, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, now)
            )
        return written.rowcount == 1


def _broadcast(row: Row) -> Broadcast:
    return Broadcast(
        id=row["id"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        item_id=row["item_id"],
        text=row["text"],
        image=row["image"],
        topic_id=row["topic_id"],
        audience=Audience.from_json(row["audience"]),
        send_at=row["send_at"],
        status=row["status"],
        campaign_id=row["campaign_id"],
        occurrence=row["occurrence"],
        targeted=row["targeted"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )
