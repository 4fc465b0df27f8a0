"""Reach events lost when the bot is killed (-9) at the end of a burst of deliveries.

  python bench/kill_burst.py [--runs 5] [--deliveries 1000] [--residents 200 | --new] [--repo PATH ...] [--env K=V]

Each run: a database seeded with `--residents` Telegram residents who met the bot before, the real
`python -m bot run` (from `--repo`, default this checkout: point it at an older checkout to compare) against
the fake Bot API server running in this process, `--deliveries` `/tip` messages enqueued at once (each answered
with one tip, one reach event). With `--new` every message comes from a resident the bot has never met, so
each one also writes a new residents row while the events are being flushed. The fake counts every tip it
confirmed (answered 200) and sends SIGKILL to the bot the moment it confirms the last one. Then the rows in
reach_events are counted:

  lost    = deliveries confirmed − reach events in the database
  window  = deliveries confirmed in the last 250 ms before the kill (the target: lost <= window)

Prints each run and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO

sys.path.insert(0, str(REPO))
from tests.fakes.telegram_api import FakeTelegram

WINDOW = 0.25


class KillingFake(FakeTelegram):
    """Kills `victim` the moment it has confirmed `deliveries` sendMessage calls."""

    def __init__(self, deliveries: int) -> None:
        super().__init__(token="123456:KILLBURST")
        self.deliveries = deliveries
        self.confirmed: list[float] = []
        self.victim: int | None = None
        self.killed_at: float | None = None

    def _finish(self, call, status: int) -> None:  # type: ignore[no-untyped-def]
        super()._finish(call, status)
        if call.method != "sendMessage" or status != 200 or self.victim is None or self.killed_at is not None:
            return
        self.confirmed.append(time.monotonic())
        if len(self.confirmed) >= self.deliveries:
            os.kill(self.victim, signal.SIGKILL)
            self.killed_at = time.monotonic()


def seed(repo: Path, db: Path, residents: int, first_id: int) -> None:
    """The schema made by the bot under test, then residents who already chose their place."""
    env = {**os.environ, "BOT_DB": str(db), "BOT_CONTENT_DIR": str(repo / "content")}
    made = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", "seed"],
        input="",
        env=env,
        cwd=repo,
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        raise SystemExit(f"creating the database failed: {made.stderr.strip()}")
    connection = sqlite3.connect(db)
    now = int(time.time())
    connection.executemany(
        "INSERT INTO residents (channel, external_id, display_name, language, place_id, place_asked, first_seen,"
        " last_seen) VALUES ('telegram', ?, ?, 'zh-CN', 'qingshi-village', 1, ?, ?)",
        [(str(first_id + i), f"R{i}", now, now) for i in range(residents)],
    )
    connection.commit()
    connection.close()


async def one_run(repo: Path, deliveries: int, residents: int, extra_env: dict[str, str]) -> dict[str, float]:
    first_id = 40_000_000
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bot.sqlite3"
        seed(repo, db, 0 if residents == deliveries else residents, first_id)
        fake = KillingFake(deliveries)
        await fake.start()
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "BOT_DB": str(db),
            "BOT_CONTENT_DIR": str(repo / "content"),
            "PYTHONPATH": str(repo),
            "BOT_LOG_LEVEL": "WARNING",
            "TELEGRAM_RATE": "0",  # no send budget: the burst runs at the bot's own ceiling
            **extra_env,
        }
        bot = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            await fake.wait_for(lambda f: any(c.method == "getUpdates" for c in f.calls), timeout=30)
            fake.victim = bot.pid
            users = [fake.user(first_id + i % residents, f"R{i % residents}") for i in range(deliveries)]
            started = time.monotonic()
            for user in users:
                fake.send_text(user, "/tip")
            await fake.wait_for(lambda f: f.killed_at is not None, timeout=120)
            await asyncio.to_thread(bot.wait, 30)
        finally:
            if bot.poll() is None:
                bot.kill()
                bot.wait()
            await fake.stop()
        rows = sqlite3.connect(db).execute("SELECT COUNT(*) FROM reach_events WHERE kind = 'tip'").fetchone()[0]
    assert fake.killed_at is not None
    confirmed = len(fake.confirmed)
    window = sum(1 for at in fake.confirmed if at >= fake.killed_at - WINDOW)
    return {
        "confirmed": confirmed,
        "rows": rows,
        "lost": confirmed - rows,
        "window": window,
        "burst": fake.killed_at - started,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--residents", type=int, default=200, help="seeded residents the messages come from")
    parser.add_argument("--new", action="store_true", help="each message from a new resident instead")
    parser.add_argument(
        "--repo",
        type=Path,
        action="append",
        help="checkout whose bot is measured (default: this one); repeat to compare, runs alternate",
    )
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="extra environment for the bot")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    repos = [repo.resolve() for repo in args.repo or [REPO]]
    residents = args.deliveries if args.new else args.residents
    results: dict[Path, list[dict[str, float]]] = {repo: [] for repo in repos}
    for run in range(args.runs):
        for repo in repos:
            result = await one_run(repo, args.deliveries, residents, extra)
            results[repo].append(result)
            print(
                f"run {run + 1} {repo}: {result['confirmed']:.0f} confirmed in {result['burst']:.2f} s, "
                f"{result['rows']:.0f} in the database, lost {result['lost']:.0f} "
                f"(confirmed in the last {WINDOW * 1000:.0f} ms: {result['window']:.0f})",
                flush=True,
            )
    print()
    for repo, runs in results.items():
        each = ", ".join(str(int(r["lost"])) for r in runs)
        print(
            f"{repo}: median lost {statistics.median(r['lost'] for r in runs):.0f} of {args.deliveries} "
            f"(runs: {each}); median confirmed in the last "
            f"{WINDOW * 1000:.0f} ms {statistics.median(r['window'] for r in runs):.0f}; "
            f"median burst {statistics.median(r['burst'] for r in runs):.2f} s"
        )


if __name__ == "__main__":
    asyncio.run(main())
