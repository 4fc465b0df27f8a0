from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import Identity, Settings
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.storage import Storage

REPO = Path(__file__).resolve().parent.parent
CONTENT = REPO / "content"
TODAY = dt.date(2026, 11, 29)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db_path=tmp_path / "bot.sqlite3",
        content_dir=CONTENT,
        admins=frozenset({Identity("console", "admin"), Identity("telegram", "999")}),
    )


@pytest.fixture
async def storage(tmp_path: Path):
    store = await Storage.open(tmp_path / "bot.sqlite3")
    yield store
    await store.close()


@pytest.fixture(scope="session")
def content() -> ContentStore:
    return ContentStore.load(CONTENT, lambda: TODAY)


@pytest.fixture
async def fake():
    """The fake Telegram Bot API server on 127.0.0.1 (tests/fakes/telegram_api.py)."""
    from .fakes.telegram_api import FakeTelegram

    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def core(storage: Storage, content: ContentStore, settings: Settings) -> Core:
    return Core(storage, content, settings, lambda: TODAY)
