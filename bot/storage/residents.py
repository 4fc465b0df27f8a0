"""Residents: one row per person per channel, with their place, language and subscriptions."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from bot.storage.db import Database, Row
from bot.storage.reach import ReachLog


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


_COLUMNS = ", ".join(f.name for f in fields(Resident))
_UPDATABLE = {"display_name", "language", "place_id", "place_asked", "subscribed", "blocked", "public_name"}


class ResidentStore:
    def __init__(self, db: Database, reach: ReachLog) -> None:
        self._db = db
        self._reach = reach  # last-seen times are written behind, with the reach events

    async def get_or_create(
        self, channel: str, external_id: str, display_name: str = "", language: str | None = None
    ) -> tuple[Resident, bool]:
        """The resident for this channel identity; `created` is True on first contact."""
        now = self._db.now()
        resident = await self.find(channel, external_id)
        if resident is not None:
            self._reach.touch(resident.id, now)
            return replace(resident, last_seen=now), False
        async with self._db.atomic() as tx:
            # ON CONFLICT DO NOTHING: two first messages racing from the same person create one row.
            written = await tx.execute(
                "INSERT INTO residents (channel, external_id, display_name, language, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (channel, external_id, display_name[:64], language, now, now),
            )
        resident = await self.find(channel, external_id)
        if resident is None:  # pragma: no cover - the row was just written
            raise RuntimeError(f"resident {channel}:{external_id} vanished after insert")
        return resident, written.rowcount == 1

    async def find(self, channel: str, external_id: str) -> Resident | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM residents WHERE channel = ? AND external_id = ?", (channel, external_id)
        )
        return _resident(row) if row else None

    async def get(self, resident_id: int) -> Resident | None:
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM residents WHERE id = ?", (resident_id,))
        return _resident(row) if row else None

    async def update(self, resident_id: int, **changes: Any) -> None:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update resident fields {sorted(unknown)}")
        if not changes:
            return
        # Column names come from the fixed _UPDATABLE set above, values are parameters.
        assignments = ", ".join(f"{name} = ?" for name in changes)
        async with self._db.atomic() as tx:
            await tx.execute(
                f"UPDATE residents SET {assignments} WHERE id = ?",
                (*(_to_sql(v) for v in changes.values()), resident_id),
            )

    async def set_blocked(self, channel: str, external_id: str, blocked: bool) -> bool:
        """Mark a resident (un)blocked by channel identity; False if we never met them."""
        async with self._db.atomic() as tx:
            written = await tx.execute(
                "UPDATE residents SET blocked = ? WHERE channel = ? AND external_id = ?",
                (int(blocked), channel, external_id),
            )
        return written.rowcount > 0

    # -- subscriptions -------------------------------------------------------------------------

    async def unsubscribed_topics(self, resident_id: int) -> set[str]:
        rows = await self._db.fetchall("SELECT topic_id FROM topic_optouts WHERE resident_id = ?", (resident_id,))
        return {row[0] for row in rows}

    async def set_topic_subscription(self, resident_id: int, topic_id: str, subscribed: bool) -> None:
        async with self._db.atomic() as tx:
            if subscribed:
                await tx.execute(
                    "DELETE FROM topic_optouts WHERE resident_id = ? AND topic_id = ?", (resident_id, topic_id)
                )
            else:
                await tx.execute(
                    "INSERT INTO topic_optouts (resident_id, topic_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (resident_id, topic_id),
                )

    async def subscribe_all(self, resident_id: int) -> None:
        async with self._db.atomic() as tx:
            await tx.execute("UPDATE residents SET subscribed = 1 WHERE id = ?", (resident_id,))
            await tx.execute("DELETE FROM topic_optouts WHERE resident_id = ?", (resident_id,))


def _resident(row: Row) -> Resident:
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
