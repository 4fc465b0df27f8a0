"""Storage on both backends (SQLite files, PostgreSQL): migrations, residents, subscriptions, the event log."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from bot.storage import ReachEvent, Storage
from bot.storage.migrations import MIGRATIONS, Migration


async def test_migrations_are_recorded_and_not_repeated(tmp_path: Path) -> None:
    # SQLite only: reads the file's journal mode (WAL) with sqlite3
    path = tmp_path / "db.sqlite3"
    store = await Storage.open(path)
    assert await store.db.schema_version() == MIGRATIONS[-1].version
    assert await store.db.migrate() == []  # nothing left to apply
    await store.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [row[0] for row in raw.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [m.version for m in MIGRATIONS]


async def test_a_failing_migration_rolls_back_with_its_record(tmp_path: Path) -> None:
    # SQLite only: expects sqlite3's error and looks in sqlite_master
    store = await Storage.open(tmp_path / "db.sqlite3")
    bad = Migration(999, "half broken", "CREATE TABLE half (x INTEGER); INSERT INTO no_such_table VALUES (1)")
    with pytest.raises(sqlite3.OperationalError):
        await store.db.migrate([*MIGRATIONS, bad])
    assert await store.db.schema_version() == MIGRATIONS[-1].version
    await store.close()
    raw = sqlite3.connect(tmp_path / "db.sqlite3")
    assert raw.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchone() is None


async def test_resident_created_once_and_found_again(storage: Storage) -> None:
    first, created = await storage.residents.get_or_create("telegram", "42", "Alice")
    again, created_again = await storage.residents.get_or_create("telegram", "42", "Alice")
    other, _ = await storage.residents.get_or_create("wecom", "42", "Alice")
    assert created and not created_again
    assert first.id == again.id != other.id
    assert first.subscribed and not first.blocked and first.place_id is None


async def test_concurrent_first_contacts_create_one_row(storage: Storage) -> None:
    results = await asyncio.gather(*(storage.residents.get_or_create("telegram", "7", "x") for _ in range(20)))
    assert len({resident.id for resident, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_update_resident_and_topic_optouts(storage: Storage) -> None:
    resident, _ = await storage.residents.get_or_create("console", "bob")
    await storage.residents.update(resident.id, place_id="hexi-village", place_asked=True, language="en")
    await storage.residents.set_topic_subscription(resident.id, "anti-drug", False)
    await storage.residents.set_topic_subscription(resident.id, "anti-drug", False)  # idempotent
    assert await storage.residents.unsubscribed_topics(resident.id) == {"anti-drug"}
    await storage.residents.subscribe_all(resident.id)
    assert await storage.residents.unsubscribed_topics(resident.id) == set()
    stored = await storage.residents.get(resident.id)
    assert stored is not None and (stored.place_id, stored.place_asked, stored.language) == ("hexi-village", True, "en")
    with pytest.raises(ValueError):
        await storage.residents.update(resident.id, external_id="evil")


async def test_events_are_batched_and_flushed_on_close(database: str, tmp_path: Path) -> None:
    store = await Storage.open(database, flush_interval=60, data_dir=tmp_path)  # the timer never fires here
    resident, _ = await store.residents.get_or_create("console", "carol")
    for i in range(3):
        store.reach.record(ReachEvent(resident.id, "console", "tip", topic_id="anti-fraud", item_id=f"tip-{i}"))
    assert await store.reach.count() == 0  # still buffered
    await store.close()
    reopened = await Storage.open(database, data_dir=tmp_path)
    try:
        rows = [tuple(row) for row in await reopened.db.fetchall("SELECT kind, item_id FROM reach_events ORDER BY id")]
    finally:
        await reopened.close()
    assert rows == [("tip", "tip-0"), ("tip", "tip-1"), ("tip", "tip-2")]


async def test_events_flush_by_timer_and_by_size(database: str, tmp_path: Path) -> None:
    store = await Storage.open(database, flush_interval=0.01, flush_size=5, data_dir=tmp_path)
    resident, _ = await store.residents.get_or_create("console", "dan")
    store.reach.record(ReachEvent(resident.id, "console", "tip", item_id="a"))
    await asyncio.sleep(0.1)
    assert await counted(store, 1)
    for i in range(5):
        store.reach.record(ReachEvent(resident.id, "console", "tip", item_id=f"b{i}"))
    await asyncio.sleep(0)  # let the size-triggered flush run
    await asyncio.sleep(0.05)
    assert await counted(store, 6)
    await store.close()


async def counted(store: Storage, expected: int, within: float = 2.0) -> bool:
    """The reach log holds `expected` events, or does within `within` s (a busy machine, a server's round trips):
    flushed without close, and long before the default interval."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await store.reach.count() == expected:
            return True
        await asyncio.sleep(0.02)
    return await store.reach.count() == expected


async def test_unknown_event_kind_is_refused_at_once(storage: Storage) -> None:
    resident, _ = await storage.residents.get_or_create("console", "eve")
    with pytest.raises(ValueError):
        storage.reach.record(ReachEvent(resident.id, "console", "not-a-kind"))


async def test_a_row_the_schema_refuses_does_not_hold_back_the_others(storage: Storage) -> None:
    resident, _ = await storage.residents.get_or_create("console", "fay")
    storage.reach.record(ReachEvent(resident.id, "console", "tip", item_id="kept-1"))
    storage.reach.record(ReachEvent(resident.id + 1000, "console", "tip", item_id="orphan"))  # no such resident
    storage.reach.record(ReachEvent(resident.id, "console", "tip", item_id="kept-2"))
    await storage.flush()
    assert [e.item_id for e in await storage.reach.events()] == ["kept-1", "kept-2"]


async def test_flush_waits_for_a_flush_already_under_way(database: str, tmp_path: Path) -> None:
    """A flush (or close) must not return while a background flush still holds uncommitted events."""
    store = await Storage.open(database, flush_interval=60, flush_size=3, data_dir=tmp_path)
    resident, _ = await store.residents.get_or_create("console", "gil")
    for i in range(3):  # the third starts a background flush
        store.reach.record(ReachEvent(resident.id, "console", "tip", item_id=f"t{i}"))
    await asyncio.sleep(0)  # the background flush takes the events and starts writing
    await store.flush()
    assert await store.reach.count() == 3
    await store.close()
