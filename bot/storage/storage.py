"""`Storage`: the one way into the database for the rest of the bot.

It opens the `Database` (connection, migrations, transactions, clock, time zone) and hands it to each
store; each store owns its tables and returns typed results. Nothing outside `bot/storage` sees SQL or
the driver.
"""

from __future__ import annotations

import time
from pathlib import Path

from bot.storage.broadcasts import BroadcastStore
from bot.storage.conversations import ConversationStore
from bot.storage.db import DEFAULT_ZONE_OFFSET, Clock, Database
from bot.storage.ledger import LedgerStore
from bot.storage.questions import QuestionLog
from bot.storage.quizzes import QuizStore
from bot.storage.reach import ReachLog
from bot.storage.residents import ResidentStore
from bot.storage.stats import StatsStore


class Storage:
    def __init__(self, db: Database, flush_interval: float = 0.2, flush_size: int = 500) -> None:
        self.db = db
        self.reach = ReachLog(db, flush_interval, flush_size)
        self.residents = ResidentStore(db, self.reach)
        self.conversations = ConversationStore(db)
        self.questions = QuestionLog(db)
        self.quizzes = QuizStore(db)
        self.broadcasts = BroadcastStore(db)
        self.ledger = LedgerStore(db)
        self.stats = StatsStore(db)
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path | str,
        clock: Clock = time.time,
        flush_interval: float = 0.2,
        flush_size: int = 500,
        zone_offset: int = DEFAULT_ZONE_OFFSET,
    ) -> Storage:
        """Open (creating if needed) and migrate the database at `path`."""
        db = await Database.open(path, clock, zone_offset)
        try:
            await db.migrate()
        except BaseException:
            await db.close()
            raise
        return cls(db, flush_interval, flush_size)

    def claim_serving(self) -> None:
        """Make this process the only bot serving this database (raises `DatabaseBusy` otherwise)."""
        self.db.claim_serving()

    async def flush(self) -> None:
        """Write buffered reach events and last-seen times now."""
        await self.reach.flush()

    async def close(self) -> None:
        """Flush every buffered event, then close. Safe to call twice."""
        if self._closed:
            return
        try:
            await self.reach.close()
        finally:
            self._closed = True
            await self.db.close()
