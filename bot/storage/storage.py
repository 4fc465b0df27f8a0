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
from bot.storage.processes import ProcessRegistry
from bot.storage.questions import QuestionLog
from bot.storage.quizzes import QuizStore
from bot.storage.reach import FLUSH_INTERVAL, FLUSH_SIZE, MAX_PENDING, ReachLog
from bot.storage.receipts import ReceiptStore
from bot.storage.requests import RequestStore
from bot.storage.residents import ResidentStore
from bot.storage.stats import StatsStore
from bot.storage.turns import TurnTickets
from bot.storage.web_sessions import WebStore
from bot.storage.windows import WindowStore


async def open_database(target: Path | str, clock: Clock, zone_offset: int, data_dir: Path | None) -> Database:
    """A SQLite file, or a PostgreSQL server when `target` is a postgresql:// URL (events it refuses are then saved
    in `data_dir`, as they are beside a SQLite file)."""
    if str(target).startswith(("postgresql://", "postgres://")):
        from bot.storage.postgres import PostgresDatabase  # asyncpg is imported only by those who use it

        return await PostgresDatabase.connect(str(target), clock, zone_offset, spill_dir=data_dir)
    return await Database.open(target, clock, zone_offset)


class Storage:
    def __init__(
        self,
        db: Database,
        flush_interval: float = FLUSH_INTERVAL,
        flush_size: int = FLUSH_SIZE,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.db = db
        self.reach = ReachLog(db, flush_interval, flush_size, max_pending)
        self.residents = ResidentStore(db, self.reach)
        self.conversations = ConversationStore(db)
        self.questions = QuestionLog(db)
        self.requests = RequestStore(db)
        self.quizzes = QuizStore(db)
        self.broadcasts = BroadcastStore(db)
        self.ledger = LedgerStore(db)
        self.stats = StatsStore(db)
        self.windows = WindowStore(db)
        self.receipts = ReceiptStore(db, self.reach)
        self.web = WebStore(db)
        self.processes = ProcessRegistry(db)
        self.turns = TurnTickets(db)
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: Path | str,
        clock: Clock = time.time,
        flush_interval: float = FLUSH_INTERVAL,
        flush_size: int = FLUSH_SIZE,
        zone_offset: int = DEFAULT_ZONE_OFFSET,
        max_pending: int = MAX_PENDING,
        data_dir: Path | None = None,
    ) -> Storage:
        """Open (creating if needed) and migrate the database at `path` — a SQLite file or a postgresql:// URL —
        then import the reach events an earlier run could not write and saved beside it (in `data_dir` for a
        server)."""
        db = await open_database(path, clock, zone_offset, data_dir)
        try:
            await db.migrate()
            storage = cls(db, flush_interval, flush_size, max_pending)
            await storage.reach.import_spilled()
        except BaseException:
            await db.close()
            raise
        return storage

    @property
    def shared(self) -> bool:
        """Several bot processes may serve this database at once (a server, not a SQLite file)."""
        return self.db.shared

    def claim_serving(self) -> None:
        """Make this process the only bot serving this database (raises `DatabaseBusy` otherwise)."""
        self.db.claim_serving()

    async def flush(self) -> None:
        """Write buffered reach events and last-seen times now."""
        await self.reach.flush()

    async def close(self) -> None:
        """Flush every buffered event, then close; the database is closed even when the flush fails (the events
        are then saved to a file and the error raised). Safe to call twice."""
        if self._closed:
            return
        try:
            await self.reach.close()
        finally:
            self._closed = True
            await self.db.close()
