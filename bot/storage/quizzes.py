"""Quiz state and quiz statistics in SQLite.

A quiz session fixes its questions and option orders when it starts, so a restart
resumes the same question. Answers are keyed (session, position): a double tap or a
retried callback counts once, and an answer to a question that is no longer current
changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from bot.storage.db import Database, Row


@dataclass(frozen=True)
class QuizSession:
    id: int
    resident_id: int
    mode: str  # topic | daily | review
    topic_id: str | None
    day: str | None
    question_ids: tuple[str, ...]
    option_orders: tuple[tuple[int, ...], ...]  # shown position -> index as written
    position: int
    correct: int
    status: str
    place_id: str | None
    channel: str
    started_at: int
    finished_at: int | None

    @property
    def total(self) -> int:
        return len(self.question_ids)

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def current_question_id(self) -> str | None:
        return self.question_ids[self.position] if self.position < self.total else None


class AnswerOutcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # this question was already answered (double tap)
    STALE = "stale"  # not the current question of an active quiz


@dataclass(frozen=True)
class PlaceScore:
    place_id: str
    participants: int
    average: float  # mean share of correct answers over finished quizzes, 0..1


_COLUMNS = (
    "id, resident_id, mode, topic_id, day, question_ids, option_orders, position, correct, status, place_id, "
    "channel, started_at, finished_at"
)
# Finished topic and daily quizzes are the scored ones; reviews only empty the mistake book.
_SCORED = "status = 'finished' AND mode IN ('topic', 'daily')"


class ResidentPoints(NamedTuple):
    resident_id: int
    points: int  # correct answers in finished topic and daily quizzes
    public_name: str | None


class QuizStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- sessions ----------------------------------------------------------------------------

    async def start(
        self,
        resident_id: int,
        mode: str,
        question_ids: list[str],
        option_orders: list[list[int]],
        channel: str,
        place_id: str | None,
        now: int,
        topic_id: str | None = None,
        day: str | None = None,
    ) -> QuizSession | None:
        """Start a quiz, abandoning any other active one. None if today's daily quiz already exists."""
        async with self._db.atomic() as tx:
            await tx.execute(
                "UPDATE quiz_sessions SET status = 'abandoned' WHERE resident_id = ? AND status = 'active'",
                (resident_id,),
            )
            # DO NOTHING rather than catching the IntegrityError: on PostgreSQL a failed statement aborts the
            # whole transaction, and the UPDATE above would be rolled back with it.
            inserted = await tx.fetchone(
                "INSERT INTO quiz_sessions (resident_id, mode, topic_id, day, question_ids, option_orders,"
                " place_id, channel, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING id",
                (
                    resident_id,
                    mode,
                    topic_id,
                    day,
                    json.dumps(question_ids),
                    json.dumps(option_orders),
                    place_id,
                    channel,
                    now,
                ),
            )
            if inserted is None:
                return None  # one daily quiz per resident per day (quiz_sessions_one_daily)
        return await self.session(int(inserted[0]))

    async def session(self, session_id: int) -> QuizSession | None:
        return await self._one(f"SELECT {_COLUMNS} FROM quiz_sessions WHERE id = ?", (session_id,))

    async def active(self, resident_id: int) -> QuizSession | None:
        return await self._one(
            f"SELECT {_COLUMNS} FROM quiz_sessions WHERE resident_id = ? AND status = 'active'"
            " ORDER BY id DESC LIMIT 1",
            (resident_id,),
        )

    async def daily(self, resident_id: int, day: str) -> QuizSession | None:
        return await self._one(
            f"SELECT {_COLUMNS} FROM quiz_sessions WHERE resident_id = ? AND mode = 'daily' AND day = ?",
            (resident_id, day),
        )

    async def answer(
        self, session: QuizSession, position: int, chosen: int, correct: bool, now: int
    ) -> tuple[AnswerOutcome, QuizSession | None]:
        """Record one answer and advance the quiz, atomically; returns the session afterwards."""
        question_id = session.question_ids[position]
        async with self._db.atomic() as tx:
            written = await tx.execute(
                "INSERT INTO quiz_answers (session_id, position, resident_id, question_id, chosen,"
                " correct, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (session.id, position, session.resident_id, question_id, chosen, int(correct), now),
            )
            if written.rowcount == 0:
                outcome = AnswerOutcome.DUPLICATE
            else:
                last = position + 1 >= session.total
                advanced = await tx.execute(
                    "UPDATE quiz_sessions SET position = position + 1, correct = correct + ?,"
                    " status = CASE WHEN ? THEN 'finished' ELSE status END,"
                    " finished_at = CASE WHEN ? THEN ? ELSE finished_at END"
                    " WHERE id = ? AND position = ? AND status = 'active'",
                    (int(correct), last, last, now, session.id, position),
                )
                if advanced.rowcount == 0:  # not the current question any more: undo the answer row
                    await tx.execute(
                        "DELETE FROM quiz_answers WHERE session_id = ? AND position = ?", (session.id, position)
                    )
                    outcome = AnswerOutcome.STALE
                else:
                    outcome = AnswerOutcome.RECORDED
        return outcome, await self.session(session.id)

    # -- a resident's history ----------------------------------------------------------------

    async def correctly_answered(self, resident_id: int) -> set[str]:
        rows = await self._db.fetchall(
            "SELECT DISTINCT question_id FROM quiz_answers WHERE resident_id = ? AND correct = 1", (resident_id,)
        )
        return {row[0] for row in rows}

    async def mistakes(self, resident_id: int) -> list[str]:
        """错题本: questions whose latest answer by this resident was wrong, oldest mistake first."""
        rows = await self._db.fetchall(
            "SELECT question_id, correct FROM quiz_answers WHERE resident_id = ?"
            " ORDER BY answered_at, session_id, position",
            (resident_id,),
        )
        latest: dict[str, bool] = {}
        for question_id, correct in rows:
            latest.pop(question_id, None)  # re-insert so order follows the latest answer
            latest[question_id] = bool(correct)
        return [qid for qid, correct in latest.items() if not correct]

    async def daily_days(self, resident_id: int) -> set[str]:
        rows = await self._db.fetchall(
            "SELECT day FROM quiz_sessions WHERE resident_id = ? AND mode = 'daily' AND status = 'finished'",
            (resident_id,),
        )
        return {row[0] for row in rows}

    async def best_topic_scores(self, resident_id: int) -> dict[str, float]:
        """Best share of correct answers per topic over finished topic quizzes."""
        rows = await self._db.fetchall(
            "SELECT topic_id, MAX(CAST(correct AS DOUBLE PRECISION) / json_array_length(question_ids))"
            " FROM quiz_sessions WHERE resident_id = ? AND mode = 'topic' AND status = 'finished' GROUP BY topic_id",
            (resident_id,),
        )
        return {row[0]: float(row[1]) for row in rows}

    # -- leaderboards ------------------------------------------------------------------------

    async def place_scores(self) -> list[PlaceScore]:
        rows = await self._db.fetchall(
            "SELECT place_id, COUNT(DISTINCT resident_id),"
            " AVG(CAST(correct AS DOUBLE PRECISION) / json_array_length(question_ids))"
            f" FROM quiz_sessions WHERE {_SCORED} AND place_id IS NOT NULL GROUP BY place_id"
        )
        return [PlaceScore(row[0], int(row[1]), float(row[2])) for row in rows]

    async def resident_points(self) -> list[ResidentPoints]:
        """Correct answers in scored quizzes per resident, best first."""
        rows = await self._db.fetchall(
            "SELECT s.resident_id, SUM(s.correct) AS points, r.public_name FROM quiz_sessions s"
            " JOIN residents r ON r.id = s.resident_id"
            " WHERE s.status = 'finished' AND s.mode IN ('topic', 'daily')"
            " GROUP BY s.resident_id, r.public_name ORDER BY points DESC, MIN(s.finished_at)"
        )
        return [ResidentPoints(int(row[0]), int(row[1]), row[2]) for row in rows]

    # -- helpers -----------------------------------------------------------------------------

    async def _one(self, query: str, params: tuple[Any, ...]) -> QuizSession | None:
        row = await self._db.fetchone(query, params)
        return _session(row) if row else None


def _session(row: Row) -> QuizSession:
    return QuizSession(
        id=row["id"],
        resident_id=row["resident_id"],
        mode=row["mode"],
        topic_id=row["topic_id"],
        day=row["day"],
        question_ids=tuple(json.loads(row["question_ids"])),
        option_orders=tuple(tuple(order) for order in json.loads(row["option_orders"])),
        position=row["position"],
        correct=row["correct"],
        status=row["status"],
        place_id=row["place_id"],
        channel=row["channel"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )
