"""Shared by the benchmark scripts: the fake Bot API server in its own process, and a seeded database."""

from __future__ import annotations

import json
import os
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
