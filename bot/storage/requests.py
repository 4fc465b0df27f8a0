"""Legal-service requests (群众诉求): a resident asked the judicial office to contact them.

A request starts as `offered` when the bot refers a dispute to the office (the resident's own words kept, for
the clerk who calls back), becomes `awaiting_phone` when the resident presses 「请司法所联系我」, and `open` once
they leave a number or choose not to; a clerk marks it `done`. Only open and done requests are requests: they
are listed, exported and counted. The phone number is personal data: it is shown to admins, exported only
when an admin asks for personal data, and never appears anywhere public.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Database, Row

STATUSES = ("offered", "awaiting_phone", "open", "done")
OFFER_LIFETIME = 24 * 3600  # an offer nobody took is forgotten after a day


@dataclass(frozen=True)
class HelpRequest:
    id: int
    created_at: int
    resident_id: int
    channel: str
    place_id: str | None
    dispute_id: str | None
    question: str
    phone: str | None
    status: str
    done_at: int | None
    done_by: str | None


_COLUMNS = "id, created_at, resident_id, channel, place_id, dispute_id, question, phone, status, done_at, done_by"


class RequestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def offer(
        self, resident_id: int, channel: str, place_id: str | None, dispute_id: str | None, question: str
    ) -> int:
        """Remember what the resident asked when the bot offered the office's help; returns the offer's id."""
        now = self._db.now()
        async with self._db.atomic() as tx:
            await tx.execute(
                "DELETE FROM help_requests WHERE status = 'offered' AND created_at < ?", (now - OFFER_LIFETIME,)
            )
            inserted = await tx.fetchone(
                "INSERT INTO help_requests (created_at, resident_id, channel, place_id, dispute_id, question, status)"
                " VALUES (?, ?, ?, ?, ?, ?, 'offered') RETURNING id",
                (now, resident_id, channel, place_id, dispute_id, question[:500]),
            )
        return int(inserted[0]) if inserted is not None else 0

    async def ask_phone(self, request_id: int, resident_id: int) -> bool:
        """The resident pressed 「请司法所联系我」 on their own offer."""
        async with self._db.atomic() as tx:
            written = await tx.execute(
                "UPDATE help_requests SET status = 'awaiting_phone', created_at = ?"
                " WHERE id = ? AND resident_id = ? AND status IN ('offered', 'awaiting_phone')",
                (self._db.now(), request_id, resident_id),
            )
        return written.rowcount == 1

    async def awaiting_phone(self, resident_id: int) -> HelpRequest | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM help_requests WHERE resident_id = ? AND status = 'awaiting_phone'"
            " AND created_at >= ? ORDER BY id DESC LIMIT 1",
            (resident_id, self._db.now() - 3600),
        )
        return _request(row) if row else None

    async def submit(self, request_id: int, resident_id: int, phone: str | None) -> bool:
        """The request goes to the office, with the number the resident chose to leave (or none)."""
        async with self._db.atomic() as tx:
            written = await tx.execute(
                "UPDATE help_requests SET status = 'open', phone = ?, created_at = ?"
                " WHERE id = ? AND resident_id = ? AND status IN ('offered', 'awaiting_phone')",
                (phone, self._db.now(), request_id, resident_id),
            )
        return written.rowcount == 1

    async def mark_done(self, request_id: int, by: str) -> bool:
        async with self._db.atomic() as tx:
            written = await tx.execute(
                "UPDATE help_requests SET status = 'done', done_at = ?, done_by = ? WHERE id = ? AND status = 'open'",
                (self._db.now(), by, request_id),
            )
        return written.rowcount == 1

    async def listing(self, include_done: bool = False, limit: int = 100) -> list[HelpRequest]:
        statuses = ("open", "done") if include_done else ("open",)
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM help_requests WHERE status IN ({', '.join('?' * len(statuses))})"
            " ORDER BY status = 'done', id DESC LIMIT ?",
            (*statuses, limit),
        )
        return [_request(row) for row in rows]

    async def between(self, start: int, end: int) -> list[HelpRequest]:
        """Requests made in [start, end) (open or done), oldest first: the export and the statistics."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM help_requests WHERE status IN ('open', 'done') AND created_at >= ?"
            " AND created_at < ? AND channel != 'console' ORDER BY id",
            (start, end),
        )
        return [_request(row) for row in rows]


def _request(row: Row) -> HelpRequest:
    return HelpRequest(
        id=row["id"],
        created_at=row["created_at"],
        resident_id=row["resident_id"],
        channel=row["channel"],
        place_id=row["place_id"],
        dispute_id=row["dispute_id"],
        question=row["question"],
        phone=row["phone"],
        status=row["status"],
        done_at=row["done_at"],
        done_by=row["done_by"],
    )
