"""Questions no tip answered, counted for the content editors (the text only, never who asked)."""

from __future__ import annotations

from typing import NamedTuple

from bot.storage.db import Database


class UnansweredQuestion(NamedTuple):
    question: str  # normalised text
    asked: int
    last_asked: int


class QuestionLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def log_unanswered(self, question: str) -> None:
        now = self._db.now()
        async with self._db.atomic() as tx:
            await tx.execute(
                "INSERT INTO unanswered (question, asked, first_asked, last_asked) VALUES (?, 1, ?, ?)"
                " ON CONFLICT (question) DO UPDATE SET asked = unanswered.asked + 1, last_asked = excluded.last_asked",
                (question[:200], now, now),
            )

    async def unanswered(self, limit: int = 50) -> list[UnansweredQuestion]:
        rows = await self._db.fetchall(
            "SELECT question, asked, last_asked FROM unanswered ORDER BY asked DESC, last_asked DESC LIMIT ?",
            (limit,),
        )
        return [UnansweredQuestion(row[0], int(row[1]), int(row[2])) for row in rows]
