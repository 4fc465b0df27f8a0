"""Broadcast sending rate, end to end: `python -m bot run` against the fake Bot API server.

  python bench/broadcast_throughput.py [--recipients 10000] [--lifted-recipients 20000]

1. Paced: the fake enforces Telegram's ~30 messages/s (sliding window, 429 with retry_after beyond it);
   the bot is configured for 25/s (BROADCAST_RATE). Prints the sustained rate (steady state: the first and
   last 2 s left out) as a share of the configured 25/s, and the 429s answered (target: ≥ 95 %, no 429).
2. Lifted: no server limit and no pacing (Telegram's paid broadcasts allow up to 1,000/s): the sender's own
   ceiling, every recipient's outcome written to SQLite in batches (target ≥ 1,000 messages/s).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, TOKEN, http, seed_database, start_fake


def prepare_database(path: Path, recipients: int) -> None:
    seed_database(path, recipients, 40_000_000)
    db = sqlite3.connect(path)
    now = int(time.time())
    db.execute(
        "INSERT INTO broadcasts (created_at, created_by, text, audience, send_at) VALUES (?, 'bench', ?, ?, ?)",
        (now, "国家宪法日到了，一起学宪法。", json.dumps({"topics": [], "places": [], "languages": []}), now),
    )
    db.commit()
    db.close()


def run(recipients: int, rate: float, server_limit: float | None, batch: int) -> dict:
    fake, port = start_fake(*(["--rate-limit", str(server_limit)] if server_limit else []))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite3"
        prepare_database(db, recipients)
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{port}/bot",
            "BOT_DB": str(db),
            "BOT_CONTENT_DIR": str(REPO / "content"),
            "BOT_LOG_LEVEL": "WARNING",
            "BROADCAST_RATE": str(rate),
            "BROADCAST_BATCH": str(batch),
        }
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + recipients / min(rate, server_limit or rate) * 3 + 60
            while time.monotonic() < deadline:
                stats = http(port, "/_ctl/stats")
                if stats["ok"].get("sendMessage", 0) >= recipients:
                    break
                time.sleep(0.5)
            sent = http(port, "/_ctl/sent?method=sendMessage")
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)
            fake.send_signal(signal.SIGTERM)
            fake.wait(timeout=30)
        outcomes = dict(
            sqlite3.connect(db).execute("SELECT status, COUNT(*) FROM broadcast_recipients GROUP BY status").fetchall()
        )
    times = sorted(call["at"] for call in sent)  # /_ctl/sent lists the successful calls
    total = times[-1] - times[0] if len(times) > 1 else float("nan")
    steady = [t for t in times if times[0] + 2 <= t <= times[-1] - 2]
    steady_rate = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else float("nan")
    return {
        "sent": len(times),
        "seconds": total,
        "overall_rate": (len(times) - 1) / total if total else 0,
        "steady_rate": steady_rate,
        "count_429": stats.get("count_429", 0),
        "outcomes": outcomes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--lifted-recipients", type=int, default=20_000)
    parser.add_argument("--skip-paced", action="store_true")
    args = parser.parse_args()

    if not args.skip_paced:
        paced = run(args.recipients, rate=25.0, server_limit=30.0, batch=25)
        print(
            f"paced: {paced['sent']} messages in {paced['seconds']:.1f} s; steady state "
            f"{paced['steady_rate']:.2f} msg/s = {100 * paced['steady_rate'] / 25:.1f}% of the configured 25/s; "
            f"429s answered: {paced['count_429']}; outcomes {paced['outcomes']}",
            flush=True,
        )
    # No pacing at all (BROADCAST_RATE far above anything reachable): what the sender itself can do.
    lifted = run(args.lifted_recipients, rate=100_000.0, server_limit=None, batch=100)
    print(
        f"lifted: {lifted['sent']} messages in {lifted['seconds']:.1f} s = {lifted['overall_rate']:.0f} msg/s "
        f"overall, {lifted['steady_rate']:.0f} msg/s steady; outcomes {lifted['outcomes']}"
    )


if __name__ == "__main__":
    main()
