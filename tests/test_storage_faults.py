"""The database under faults: another process writing, a full disk, a read-only file, a corrupt file, a crash.

Tests run as root, so file modes would not stop a write: a failing write connection is made with SQLite itself
(`PRAGMA query_only` answers "attempt to write a readonly database", `PRAGMA max_page_count` "database or disk
is full"), and in a real `python -m bot run` by a launcher that turns the writer read-only while a file exists.
"""

# SQLite only: the faults are made with SQLite itself (see above), on files.

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.storage import ReachEvent, Storage, reach
from bot.storage.db import _retrying

from .conftest import CONTENT, REPO
from .fakes.telegram_api import FakeTelegram
from .test_run import stop_bot

T0 = 1_700_000_000  # the events' own time, kept through a spill and an import


async def break_writes(storage: Storage, pragma: str) -> None:
    """Make the storage's write connection refuse writes (or accept them again)."""
    writer = storage.db._writer
    await writer.call(lambda: writer.connection.execute(f"PRAGMA {pragma}").fetchall())


async def disk_full(storage: Storage) -> None:
    writer = storage.db._writer
    pages = await writer.call(lambda: writer.connection.execute("PRAGMA page_count").fetchone()[0])
    await break_writes(storage, f"max_page_count = {pages}")


def spill_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ".unwritten-events." in p.name)


def rows(db: Path, sql: str = "SELECT COUNT(*) FROM reach_events") -> int:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


async def record_tips(db: Path, count: int, **options: float) -> tuple[Storage, int]:
    storage = await Storage.open(db, clock=lambda: T0, **options)
    resident, _ = await storage.residents.get_or_create("telegram", "42", "Ann")
    for i in range(count):
        storage.reach.record(ReachEvent(resident.id, "telegram", "tip", topic_id="anti-fraud", item_id=f"tip-{i:04}"))
    return storage, resident.id


def threads() -> set[threading.Thread]:
    return set(threading.enumerate())


# -- close, spill, import --------------------------------------------------------------------------


async def test_close_saves_what_a_full_disk_refuses_then_the_next_start_imports_it_once(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    threads_before = threads()
    storage, _ = await record_tips(db, 2000, flush_interval=60, flush_size=10_000)
    await disk_full(storage)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        await storage.close()
    # closed all the same: no connection, no thread left behind
    with pytest.raises(sqlite3.ProgrammingError):
        await storage.db.fetchone("SELECT 1")
    for _ in range(100):
        if threads() <= threads_before:
            break
        await asyncio.sleep(0.01)
    assert threads() <= threads_before
    [spilled] = spill_files(tmp_path)
    assert spilled.name.startswith("bot.sqlite3.unwritten-events.") and spilled.suffix == ".jsonl"
    assert rows(db) == 0

    again = await Storage.open(db)  # the next start
    assert await again.reach.count() == 2000
    assert rows(db, "SELECT COUNT(DISTINCT item_id) FROM reach_events") == 2000
    assert rows(db, "SELECT MIN(ts) = MAX(ts) AND MIN(ts) = 1700000000 FROM reach_events") == 1  # their own time
    assert rows(db, "SELECT SUM(deliveries) FROM reach_monthly") == 2000  # roll-ups kept in step
    await again.close()
    assert spill_files(tmp_path) == []
    third = await Storage.open(db)
    assert await third.reach.count() == 2000  # exactly once
    await third.close()


async def test_an_import_cut_short_by_a_crash_is_neither_lost_nor_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "bot.sqlite3"
    storage, _ = await record_tips(db, 5, flush_interval=60)
    await break_writes(storage, "query_only = ON")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await storage.close()
    [spilled] = spill_files(tmp_path)
    saved = spilled.read_bytes()

    class Crash(BaseException):
        pass

    # 1. crash after the rename, before the commit: the file is left as .importing, nothing written
    original = reach.ReachLog._import

    def crash_before_commit(self, batch, **kwargs):  # type: ignore[no-untyped-def]
        raise Crash

    monkeypatch.setattr(reach.ReachLog, "_import", crash_before_commit)
    with pytest.raises(Crash):
        await Storage.open(db)
    assert [p.suffix for p in spill_files(tmp_path)] == [".importing"] and rows(db) == 0

    # 2. crash after the commit, before the delete: the events are in, the .importing file is still there
    monkeypatch.setattr(reach.ReachLog, "_import", original)
    unlink = Path.unlink

    def crash_on_delete(self: Path, missing_ok: bool = False) -> None:
        if self.name.endswith(".importing"):
            raise Crash
        unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", crash_on_delete)
    with pytest.raises(Crash):
        await Storage.open(db)
    assert [p.suffix for p in spill_files(tmp_path)] == [".importing"] and rows(db) == 5

    # 3. the next start sees the file's key already claimed: removes the file, imports nothing
    monkeypatch.setattr(Path, "unlink", unlink)
    storage = await Storage.open(db)
    assert await storage.reach.count() == 5
    await storage.close()
    assert spill_files(tmp_path) == []

    # the same file turning up again (restored from a backup, say) is not imported twice either
    spilled.write_bytes(saved)
    storage = await Storage.open(db)
    assert await storage.reach.count() == 5
    await storage.close()
    assert spill_files(tmp_path) == []


async def test_failing_writes_back_off_log_once_a_minute_and_spill_beyond_the_bound(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "bot.sqlite3"
    caplog.set_level(logging.INFO, logger="bot.storage")
    storage, resident_id = await record_tips(db, 0, flush_interval=0.02, max_pending=50)
    await break_writes(storage, "query_only = ON")  # the file turned read-only
    for i in range(120):
        storage.reach.record(ReachEvent(resident_id, "telegram", "tip", item_id=f"t{i}"))
    await asyncio.sleep(1.6)
    attempts = storage.reach._failures
    assert 3 <= attempts <= 8, attempts  # 0.1, 0.2, 0.4, 0.8 s apart, not every 20 ms
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "cannot write reach events" in r.message]
    assert len(errors) == 1 and errors[0].exc_info is None, [r.message for r in caplog.records]
    assert "readonly" in errors[0].message and "retrying with backoff" in errors[0].message
    # bounded: whenever 50 waited they went to a file (normally 2 files of 50, 20 left in memory; a retry that
    # held some events while they were recorded shifts the split)
    saved = [json.loads(p.read_text(encoding="utf-8").splitlines()[0])["events"] for p in spill_files(tmp_path)]
    pending = storage.reach.pending
    assert all(n >= 50 for n in saved) and sum(saved) >= 50 and sum(saved) + pending == 120, (saved, pending)

    monkeypatch.setattr(reach, "REPORT_EVERY", 0.0)  # a minute has passed
    with pytest.raises(sqlite3.OperationalError):
        await storage.flush()
    report = caplog.records[-1].message
    assert "still cannot be written" in report and f"{pending} pending, {sum(saved)} saved to files" in report

    await break_writes(storage, "query_only = OFF")  # writable again: the next retry writes, then imports
    for _ in range(80):
        if await storage.reach.count() == 120 and not spill_files(tmp_path):
            break
        await asyncio.sleep(0.1)
    assert await storage.reach.count() == 120 and spill_files(tmp_path) == []
    assert any("written again" in r.message for r in caplog.records)
    await storage.close()


def test_a_busy_database_is_retried_with_backoff() -> None:
    calls = []

    def busy_twice() -> str:
        calls.append(time.monotonic())
        if len(calls) <= 2:
            raise sqlite3.OperationalError("database is locked")
        return "done"

    assert _retrying(busy_twice) == "done" and len(calls) == 3
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        _retrying(lambda: (_ for _ in ()).throw(sqlite3.OperationalError("no such table: x")))


# -- two processes on one file -----------------------------------------------------------------------

WORKER = """
import asyncio, json, sys, time
from bot.storage import ReachEvent, Storage

async def main(path, seconds, name):
    storage = await Storage.open(path, flush_interval=0.01)
    errors, ops, recorded = [], 0, 0
    deadline = time.monotonic() + seconds

    async def chatting(n):  # eight residents at once: reads and writes of one process interleave
        nonlocal ops, recorded
        i = 0
        while time.monotonic() < deadline:
            i += 1
            try:
                resident, _ = await storage.residents.get_or_create("telegram", f"{name}-{n}-{i % 20}", name)
                storage.reach.record(ReachEvent(resident.id, "telegram", "tip", topic_id="anti-fraud", item_id="t"))
                recorded += 1
                await storage.conversations.save_draft(resident.id, {"step": i})
                await storage.conversations.draft(resident.id)
                await storage.residents.update(resident.id, place_id="hexi-village")
                await storage.conversations.first_callback(f"{name}-{n}-{i}")
                await storage.reach.count(resident_id=resident.id)
                if i % 7 == 0:
                    await storage.flush()
                ops += 1
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.01)

    await asyncio.gather(*(chatting(n) for n in range(8)))
    await storage.close()
    print(json.dumps({"ops": ops, "recorded": recorded, "errors": len(errors), "examples": sorted(set(errors))[:3]}))

asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3]))
"""


async def test_two_processes_reading_and_writing_one_file_see_no_errors(tmp_path: Path) -> None:
    """With one connection for reads and writes, a read in flight turned the next BEGIN IMMEDIATE into
    "database is locked" (SQLITE_BUSY_SNAPSHOT) whenever the other process had written: ~50 errors in 4 s."""
    db = tmp_path / "bot.sqlite3"
    await (await Storage.open(db)).close()  # the schema first
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(  # noqa: ASYNC220 - both start at once; waited for with to_thread
            [sys.executable, str(script), str(db), "3", name], env=env, stdout=subprocess.PIPE, text=True
        )
        for name in ("a", "b")
    ]
    results = []
    for worker in workers:
        out, _ = await asyncio.to_thread(worker.communicate, timeout=60)
        assert worker.returncode == 0
        results.append(json.loads(out))
    assert [r["errors"] for r in results] == [0, 0], results
    assert all(r["ops"] > 100 for r in results), results
    assert rows(db) == sum(r["recorded"] for r in results)  # and every event of both is in


# -- python -m bot run ---------------------------------------------------------------------------------


def polling(fake: FakeTelegram) -> bool:
    """The bot's first long poll has arrived (`sent` would wait until it ends, 10 s later)."""
    return any(call.method == "getUpdates" for call in fake.calls)


def bot_env(fake: FakeTelegram, db: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "BOT_DB": str(db),
        "BOT_CONTENT_DIR": str(CONTENT),
        "BOT_LOG_LEVEL": "INFO",
        **extra,
    }


@pytest.mark.parametrize("kind", ["corrupt file", "directory"])
async def test_bot_run_on_a_bad_database_exits_non_zero_at_once(fake: FakeTelegram, tmp_path: Path, kind: str) -> None:
    db = tmp_path / "bot.sqlite3"
    if kind == "directory":
        db.mkdir()
    else:
        db.write_bytes(b"this is not an SQLite database\n" * 512)
    started = time.monotonic()
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "run"],
        env=bot_env(fake, db),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and time.monotonic() - started < 5
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "database" in lines[0], done.stderr
    assert not fake.sent("getUpdates")  # never started serving


LAUNCHER = """
import os, runpy, sys
from bot.storage import db

TRIGGER = sys.argv[1]
begin = db._begin

def read_only_while_the_trigger_exists(connection):
    connection.execute(f"PRAGMA query_only = {int(os.path.exists(TRIGGER))}")
    begin(connection)

db._begin = read_only_while_the_trigger_exists
sys.argv = ["python -m bot", "run"]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""


async def test_bot_run_when_the_database_turns_read_only_saves_the_events_and_imports_them_once(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    db = tmp_path / "bot.sqlite3"
    storage = await Storage.open(db)
    resident, _ = await storage.residents.get_or_create("telegram", "801", "Ann")
    await storage.residents.update(resident.id, place_id="qingshi-village", place_asked=True)
    await storage.close()
    launcher, trigger = tmp_path / "launch.py", tmp_path / "read-only"
    launcher.write_text(LAUNCHER, encoding="utf-8")

    process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
        [sys.executable, str(launcher), str(trigger)],
        env=bot_env(fake, db),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await fake.wait_for(polling, timeout=20)
        trigger.touch()  # from now on every write fails
        ann = fake.user(801, "Ann")
        for _ in range(3):
            fake.send_text(ann, "/tip")
        await fake.wait_sent("sendMessage", 3, chat_id=801, timeout=10)
        await asyncio.sleep(1.5)  # several retries
        assert process.poll() is None  # still serving
        process.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        code = await asyncio.to_thread(process.wait, 20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read() if process.stderr else ""
    assert code == 1 and time.monotonic() - stopped < 5, stderr
    assert stderr.count("cannot write reach events") == 1 and "still cannot" not in stderr, stderr
    assert "3 reach events could not be written" in stderr and "imported at the next start" in stderr
    assert "database error: attempt to write a readonly database" in stderr.strip().splitlines()[-1]
    assert rows(db) == 0 and len(spill_files(tmp_path)) == 1

    trigger.unlink()  # writable again; the next start imports them
    fake.reset()
    env = bot_env(fake, db)
    process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    await fake.wait_for(polling, timeout=20)
    stderr = await stop_bot(process)
    assert "imported 3 saved reach events" in stderr
    assert rows(db, "SELECT COUNT(*) FROM reach_events WHERE kind = 'tip' AND resident_id = 1") == 3  # Ann
    assert spill_files(tmp_path) == []
    again = await Storage.open(db)
    assert await again.reach.count() == 3
    await again.close()
