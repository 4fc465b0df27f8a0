"""kill -9 at the end of a burst: the reach events of confirmed deliveries are in the database, all but the last few.

The real `python -m bot run` against the fake Bot API server answers 1,000 `/tip` messages (one tip, one reach
event each) as fast as it can. The fake sends SIGKILL the moment it has confirmed the 1,000th tip. Whatever the
writer had not committed by then is lost; it must be no more than the deliveries confirmed in the last 250 ms
(the flush interval is 50 ms; the rest is the bot not having read the last answers yet).
"""

# SQLite only: what a SIGKILL leaves of the write-behind in a SQLite file (slow; not doubled).

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bot.storage import Storage

from .conftest import CONTENT
from .fakes.telegram_api import FakeTelegram

DELIVERIES, RESIDENTS, WINDOW = 1000, 200, 0.25
FIRST_ID = 50_000_000


async def seed(db: Path) -> None:
    """Residents who met the bot before and chose their place: a `/tip` is answered with the tip alone."""
    storage = await Storage.open(db)
    await storage.close()
    connection = sqlite3.connect(db)
    now = int(time.time())
    connection.executemany(
        "INSERT INTO residents (channel, external_id, display_name, language, place_id, place_asked, first_seen,"
        " last_seen) VALUES ('telegram', ?, ?, 'zh-CN', 'qingshi-village', 1, ?, ?)",
        [(str(FIRST_ID + i), f"R{i}", now, now) for i in range(RESIDENTS)],
    )
    connection.commit()
    connection.close()


async def test_kill_9_after_a_burst_loses_at_most_the_last_250_ms(fake: FakeTelegram, tmp_path: Path) -> None:
    await seed(tmp_path / "bot.sqlite3")
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "BOT_DB": str(tmp_path / "bot.sqlite3"),
        "BOT_CONTENT_DIR": str(CONTENT),
        "BOT_LOG_LEVEL": "WARNING",
        "TELEGRAM_RATE": "0",  # no send budget: the burst runs at the bot's own pace
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    confirmed: list[float] = []
    killed_at: list[float] = []
    finish = fake._finish

    def finish_and_kill(call, status: int) -> None:  # type: ignore[no-untyped-def]
        finish(call, status)
        if call.method == "sendMessage" and status == 200 and not killed_at:
            confirmed.append(time.monotonic())
            if len(confirmed) == DELIVERIES:
                os.kill(process.pid, signal.SIGKILL)  # right after the last confirmation, before the bot reads it
                killed_at.append(time.monotonic())

    fake._finish = finish_and_kill  # type: ignore[method-assign]
    try:
        await fake.wait_for(lambda f: any(call.method == "getUpdates" for call in f.calls), timeout=30)
        users = [fake.user(FIRST_ID + i, f"R{i}") for i in range(RESIDENTS)]
        for _ in range(DELIVERIES // RESIDENTS):
            for user in users:
                fake.send_text(user, "/tip")
        await fake.wait_for(lambda f: bool(killed_at), timeout=120)
        code = await asyncio.to_thread(process.wait, 20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == -signal.SIGKILL
    rows = sqlite3.connect(tmp_path / "bot.sqlite3").execute("SELECT COUNT(*) FROM reach_events").fetchone()[0]
    lost = DELIVERIES - rows
    last_window = sum(1 for at in confirmed if at >= killed_at[0] - WINDOW)
    burst = killed_at[0] - confirmed[0]
    assert 0 <= lost <= last_window, f"lost {lost}; confirmed in the last 250 ms: {last_window}; burst {burst:.2f} s"
