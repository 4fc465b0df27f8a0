from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import Identity, Secret, Settings
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.storage import Storage

from . import pg

REPO = Path(__file__).resolve().parent.parent
CONTENT = REPO / "content"
TODAY = dt.date(2026, 11, 29)


@pytest.fixture(scope="session")
def postgres_server():
    """The run's own PostgreSQL database (created once, dropped at the end), or the reason there is none."""
    reason = pg.reachable()
    if reason is not None:
        yield reason
        return
    server = pg.TestServer()
    server.create()
    try:
        yield server
    finally:
        server.drop()


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path):
    """BOT_DB for a test: a SQLite file in its folder, or a schema of its own on the run's PostgreSQL database.
    Every test that uses `storage`, `core`, `settings` or this runs on both backends."""
    if request.param == "sqlite":
        yield str(tmp_path / "bot.sqlite3")
        return
    server = request.getfixturevalue("postgres_server")
    if isinstance(server, str):
        pg.unavailable(server)
    schema = await server.schema()
    try:
        yield server.target(schema)
    finally:
        await server.drop_schema(schema)


@pytest.fixture
async def postgres_database(postgres_server: object):
    """A schema of its own on the run's PostgreSQL database, for tests that are about PostgreSQL only (several
    processes, the backend itself): skipped with a reason without a server, required under CI."""
    if isinstance(postgres_server, str):
        pg.unavailable(postgres_server)
    assert isinstance(postgres_server, pg.TestServer)
    schema = await postgres_server.schema()
    try:
        yield postgres_server.target(schema)
    finally:
        await postgres_server.drop_schema(schema)


def settings_for(database: str, tmp_path: Path, **changes: object) -> Settings:
    """Settings on this test's database (SQLite path or PostgreSQL URL), files in its folder."""
    on_server = database.startswith("postgresql://")
    return Settings(
        db_path=tmp_path / "bot.sqlite3" if on_server else Path(database),
        db_url=Secret(database if on_server else ""),
        data_dir_setting=tmp_path,
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture
def settings(database: str, tmp_path: Path) -> Settings:
    return settings_for(
        database,
        tmp_path,
        content_dir=CONTENT,
        admins=frozenset({Identity("console", "admin"), Identity("telegram", "999")}),
    )


@pytest.fixture
async def storage(database: str, tmp_path: Path):
    store = await Storage.open(database, data_dir=tmp_path)
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
