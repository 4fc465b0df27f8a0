"""Shared by the benchmark scripts: the fake Bot API server in its own process, and a seeded database."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH"


def http(port: int, path: str, body: dict | None = None) -> dict:
    """GET (or POST `body` as JSON to) the fake's control API."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def start_fake(*extra: str) -> tuple[subprocess.Popen, int]:
    """The fake Bot API server as a separate process (its own core); returns it and its port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0", "--token", TOKEN, *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    return process, int(line.split("http://127.0.0.1:")[1].split()[0])


def seed_database(path: Path, residents: int, first_id: int, place: str | None = None) -> None:
    """Create the schema through the bot itself, then add Telegram residents who met the bot before."""
    env = {**os.environ, "BOT_DB": str(path), "BOT_CONTENT_DIR": str(REPO / "content")}
    subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", "seed"],
        input="",
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    db = sqlite3.connect(path)
    now = int(time.time())
    db.executemany(
        "INSERT INTO residents (channel, external_id, display_name, language, place_id, place_asked, first_seen,"
        " last_seen) VALUES ('telegram', ?, ?, 'zh-CN', ?, 1, ?, ?)",
        [(str(first_id + i), f"R{i}", place, now, now) for i in range(residents)],
    )
    db.commit()
    db.close()


def add_residents(path: Path, ids: list[int], place: str | None = "qingshi-village") -> None:
    """Telegram residents who met the bot before (place chosen), added to a database `seed_database` made."""
    db = sqlite3.connect(path)
    now = int(time.time())
    db.executemany(
        "INSERT INTO residents (channel, external_id, display_name, language, place_id, place_asked, first_seen,"
        " last_seen) VALUES ('telegram', ?, ?, 'zh-CN', ?, 1, ?, ?)",
        [(str(i), f"T{i}", place, now, now) for i in ids],
    )
    db.commit()
    db.close()


def bot_env(port: int, db: Path, **extra: str) -> dict[str, str]:
    """The environment of `python -m bot run` against the fake on `port` (extra settings as keyword arguments)."""
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{port}/bot",
        "BOT_DB": str(db),
        "BOT_CONTENT_DIR": str(REPO / "content"),
        "BOT_LOG_LEVEL": "WARNING",
        **extra,
    }


def start_bot(env: dict[str, str]) -> subprocess.Popen:
    """`python -m bot run` as its own process; its stderr (warnings) is kept for `stop_bot`."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_process(process: subprocess.Popen, timeout: float = 60) -> str:
    """SIGTERM, wait, and return what it wrote to stderr (if piped)."""
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err or ""


def wait_for_polling(port: int, timeout: float = 30) -> None:
    """Until the bot has started long polling (its first getUpdates reached the fake)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http(port, "/_ctl/stats")["methods"].get("getUpdates", 0) >= 1:
            return
        time.sleep(0.05)
    raise TimeoutError("the bot never polled")


def percentile(values: list[float], share: float) -> float:
    """The `share` (0..1) percentile, nearest rank; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


async def pg_admin(server: str, statement: str) -> None:
    """One statement on the server's `postgres` database (CREATE / DROP / ALTER DATABASE for a bench database)."""
    import asyncpg  # only the PostgreSQL benchmarks need it

    connection = await asyncpg.connect(f"{server}/postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
