"""`python -m bot db copy`: an office's SQLite database into an empty database (PostgreSQL, or SQLite), verified."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.storage import Storage

from .conftest import CONTENT, REPO
from .test_statistics import build_history


def run(tmp_path: Path, database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BOT_DB": database,
        "BOT_CONTENT_DIR": str(CONTENT),
        "BOT_DATA_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )


async def test_a_copy_has_every_row_and_the_same_figures(tmp_path: Path, database: str) -> None:
    office = tmp_path / "office.sqlite3"
    await build_history(office)
    storage = await Storage.open(office)
    await storage.ledger.add([_entry()], "cli:clerk", 1_780_000_000)
    await storage.close()

    copied = run(tmp_path, str(office), "db", "copy", "--from", str(office), "--to", database)
    assert copied.returncode == 0, copied.stderr
    assert "verified:" in copied.stdout and "equal counts per table" in copied.stdout
    if "@" in database:
        assert "password" not in copied.stdout  # the URL is shown without a password (there is none here)

    # The bot on the copy reports what it reported on the original, for every period.
    for period in ((), ("--from", "2026-01-01", "--to", "2026-12-31"), ("--from", "2025-01-01")):
        before = run(tmp_path, str(office), "stats", "--json", *period)
        after = run(tmp_path, database, "stats", "--json", *period)
        assert before.returncode == after.returncode == 0, after.stderr
        assert json.loads(before.stdout) == json.loads(after.stdout)
        assert json.loads(after.stdout)["deliveries"] > 0 or period == ()

    # New rows on the copy get new ids after the copied ones (the id counters were moved on).
    target = await Storage.open(database, data_dir=tmp_path)
    try:
        copied_ids = [e.id for e in await target.ledger.between("2000-01-01", "2099-12-31")]
        added = await target.ledger.add([_entry(day="2026-11-02")], "cli:clerk", 1_780_000_100)
        assert len(copied_ids) >= 2 and added.ids == (max(copied_ids) + 1,)
    finally:
        await target.close()


async def test_a_target_with_data_is_refused_and_left_alone(tmp_path: Path, database: str) -> None:
    office = tmp_path / "office.sqlite3"
    await build_history(office)
    target = await Storage.open(database, data_dir=tmp_path)
    await target.ledger.add([_entry()], "cli:clerk", 1_780_000_000)
    await target.close()

    refused = run(tmp_path, str(office), "db", "copy", "--from", str(office), "--to", database)
    assert refused.returncode == 1
    assert "already has rows in ledger" in refused.stderr
    target = await Storage.open(database, data_dir=tmp_path)
    try:
        assert len(await target.ledger.between("2000-01-01", "2099-12-31")) == 1
        assert await target.residents.find("telegram", "1") is None  # nothing of the office was copied
    finally:
        await target.close()


def test_copy_refuses_a_missing_source_and_itself(tmp_path: Path) -> None:
    missing = run(
        tmp_path,
        str(tmp_path / "x.sqlite3"),
        "db",
        "copy",
        "--from",
        str(tmp_path / "nope.sqlite3"),
        "--to",
        str(tmp_path / "y.sqlite3"),
    )
    assert missing.returncode == 1 and "no SQLite database at" in missing.stderr
    same = tmp_path / "same.sqlite3"
    same.write_bytes(b"")
    itself = run(tmp_path, str(tmp_path / "x.sqlite3"), "db", "copy", "--from", str(same), "--to", str(same))
    assert itself.returncode == 1 and "the same database" in itself.stderr


def _entry(day: str = "2026-10-01"):
    from bot.storage.ledger import LedgerEntry

    return LedgerEntry(day=day, type="法治讲座", count=50, place_id="qingshi-village")
