"""The web console's sign-in state: one-time links already used, sessions, and the audit of admin actions.

A sign-in link (bot/core/web_links.py) carries a random nonce; redeeming it inserts the nonce here in the same
transaction that starts the session, so a link works once even when two tabs race for it. A session is stored
by the SHA-256 of its cookie, never the cookie itself: a copy of the database does not sign anyone in. Sessions
end on sign-out or after `idle` seconds without a page view. The audit records who did what in the console
(sign-in, sign-out, broadcasts created and cancelled), with the admin's identity (`telegram:123`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Database, IntegrityError

TOUCH_EVERY = 60  # seconds: a page view rewrites last_seen at most this often (a write per click is waste)
KEEP_ENDED = 7 * 86400  # seconds an ended or idle session row is kept (then pruned at the next sign-in)


@dataclass(frozen=True)
class WebSession:
    identity: str  # channel:id of the admin
    created_at: int
    last_seen: int


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: int
    actor: str
    action: str
    detail: str


class WebStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def now(self) -> int:
        """The database's clock: link expiry and idle sessions are measured on it (tests move it)."""
        return self._db.now()

    async def link_used(self, nonce: str) -> bool:
        return await self._db.fetchone("SELECT 1 FROM web_link_uses WHERE nonce = ?", (nonce,)) is not None

    async def sign_in(self, nonce: str, identity: str, link_expires: int, session_hash: str) -> bool:
        """Spend a link's nonce and start a session, together; False (and nothing written) when it was spent."""
        now = self._db.now()
        try:
            async with self._db.atomic() as tx:
                await tx.execute(
                    "INSERT INTO web_link_uses (nonce, identity, used_at, expires_at) VALUES (?, ?, ?, ?)",
                    (nonce, identity, now, link_expires),
                )
                await tx.execute(
                    "INSERT INTO web_sessions (token_hash, identity, created_at, last_seen) VALUES (?, ?, ?, ?)",
                    (session_hash, identity, now, now),
                )
                await tx.execute(
                    "INSERT INTO web_audit (at, actor, action, detail) VALUES (?, ?, 'sign_in', '')", (now, identity)
                )
                # A spent nonce matters only while its link could still be valid; old sessions only for a while.
                await tx.execute("DELETE FROM web_link_uses WHERE expires_at < ?", (now - 86400,))
                await tx.execute(
                    "DELETE FROM web_sessions WHERE COALESCE(ended_at, last_seen) < ?", (now - KEEP_ENDED,)
                )
        except IntegrityError:
            return False
        return True

    async def session(self, session_hash: str, idle: int, touch: bool = True) -> WebSession | None:
        """The live session with this cookie hash, or None (unknown, signed out, or idle too long).

        `touch` counts this request as activity; a page's background poll passes False, so an open tab alone
        does not keep a session alive.
        """
        now = self._db.now()
        row = await self._db.fetchone(
            "SELECT identity, created_at, last_seen FROM web_sessions"
            " WHERE token_hash = ? AND ended_at IS NULL AND last_seen >= ?",
            (session_hash, now - idle),
        )
        if row is None:
            return None
        last_seen = int(row["last_seen"])
        if touch and now - last_seen >= TOUCH_EVERY:
            async with self._db.atomic() as tx:
                await tx.execute(
                    "UPDATE web_sessions SET last_seen = ? WHERE token_hash = ? AND ended_at IS NULL",
                    (now, session_hash),
                )
            last_seen = now
        return WebSession(row["identity"], int(row["created_at"]), last_seen)

    async def sign_out(self, session_hash: str) -> str | None:
        """End the session; returns its identity (None when it had already ended)."""
        now = self._db.now()
        async with self._db.atomic() as tx:
            row = await tx.fetchone(
                "SELECT identity FROM web_sessions WHERE token_hash = ? AND ended_at IS NULL", (session_hash,)
            )
            if row is None:
                return None
            await tx.execute("UPDATE web_sessions SET ended_at = ? WHERE token_hash = ?", (now, session_hash))
            await tx.execute(
                "INSERT INTO web_audit (at, actor, action, detail) VALUES (?, ?, 'sign_out', '')", (now, row[0])
            )
        return str(row[0])

    async def audit(self, actor: str, action: str, detail: str = "") -> None:
        async with self._db.atomic() as tx:
            await tx.execute(
                "INSERT INTO web_audit (at, actor, action, detail) VALUES (?, ?, ?, ?)",
                (self._db.now(), actor, action, detail[:500]),
            )

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The newest first."""
        rows = await self._db.fetchall(
            "SELECT id, at, actor, action, detail FROM web_audit ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [AuditEntry(int(r["id"]), int(r["at"]), r["actor"], r["action"], r["detail"]) for r in rows]
