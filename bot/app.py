"""The composition root: open storage and content, build the core, close them again."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.storage import Storage


@dataclass
class App:
    settings: Settings
    storage: Storage
    content: ContentStore
    core: Core


@contextlib.asynccontextmanager
async def open_app(settings: Settings, today: Callable[[], dt.date] | None = None) -> AsyncIterator[App]:
    """Content is loaded before the database is touched: bad content fails fast, nothing opened."""
    if today is None:
        zone = settings.zone

        def today() -> dt.date:  # the town's date (the daily quiz turns over at midnight in China, not UTC)
            return dt.datetime.now(zone).date()

    content = ContentStore.load(settings.content_dir, today)
    storage = await Storage.open(
        settings.database,
        zone_offset=settings.zone_offset,
        flush_interval=settings.flush_interval,
        flush_size=settings.flush_size,
        data_dir=settings.data_dir,
    )
    try:
        yield App(settings, storage, content, Core(storage, content, settings, today))
    finally:
        # Flushes buffered reach events: a graceful stop loses none (what the database refuses is saved to a
        # file beside it, imported at the next start) and the database is closed even when that fails.
        await storage.close()
