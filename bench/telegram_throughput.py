"""Updates per second, end to end: the whole bot versus a bare PTB echo bot, side by side.

Both run as their own process against the fake Bot API server (a third process), one
after the other, alternating, `--runs` times each; the figures are medians.

  python bench/telegram_throughput.py [--residents 500] [--runs 3] [--seed 10000] [--profile]

Workload of the bot, per resident (all residents interleaved):
  phase 1: /start (new resident: welcome + place picker) and /menu        -> 2 updates
  phase 2: 8 button presses on the menu message (topics, a topic, next tips,
           another topic, menu), each answered and edited in place         -> 8 updates
The echo bot gets the same number of text updates and echoes each (its whole job).
Rate = updates / (first getUpdates that returned updates -> last API call answered),
phase 2 timed from the moment it is enqueued. Peak RSS is the bot process's VmHWM.
The bot's database is seeded with `--seed` residents first (RSS target: < 200 MB with 10,000).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, TOKEN, http, seed_database, start_fake

PRESSES = ["ts", "t:anti-fraud", None, None, "ts", "t:anti-drug", None, "m"]  # None = "next tip"


def wait_until(port: int, done, timeout: float = 300.0) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = http(port, "/_ctl/stats")
        if done(stats):
            return stats
        time.sleep(0.005)
    raise TimeoutError(f"not done in {timeout}s: {stats}")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def tip_ids() -> dict[str, list[str]]:
    sys.path.insert(0, str(REPO))
    from bot.content.loader import load_catalog

    catalog = load_catalog(REPO / "content").catalog
    assert catalog is not None
    return {t.id: [tip.id for tip in t.tips] for t in catalog.topics}


def run_bot(
    port: int, residents: int, seed: int, profile: Path | None, backend: str = "aiohttp"
) -> tuple[float, float, int]:
    tips = tip_ids()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite3"
        seed_database(db, seed, 10_000_000, place="qingshi-village")
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{port}/bot",
            "BOT_DB": str(db),
            "BOT_CONTENT_DIR": str(REPO / "content"),
            "BOT_LOG_LEVEL": "WARNING",
            "TELEGRAM_HTTP_BACKEND": backend,
        }
        http(port, "/_ctl/reset", {})
        users = [20_000_000 + i for i in range(residents)]
        texts = [{"user_id": u, "text": t, "first_name": "居民"} for t in ("/start", "/menu") for u in users]
        http(port, "/_ctl/enqueue", {"texts": texts})
        command = [sys.executable, "-m", "bot", "run"]
        if profile is not None:
            command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "bot", "run"]
        bot = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            phase1 = wait_until(port, lambda s: s["ok"].get("sendMessage", 0) >= 3 * residents)
            t1 = phase1["last_send_at"] - phase1["first_update_served_at"]
            # Each resident's menu is their 5th message: /start(1) /menu(2) welcome(3) picker(4) menu(5).
            presses = []
            for step, data in enumerate(PRESSES):
                for user in users:
                    if data is None:
                        topic = "anti-fraud" if step < 4 else "anti-drug"
                        data_here = f"tp:{tips[topic][step - 1 if step < 4 else 1]}"
                    else:
                        data_here = data
                    presses.append({"user_id": user, "chat_id": user, "message_id": 5, "data": data_here})
            started = time.monotonic()
            http(port, "/_ctl/enqueue", {"presses": presses})
            expected = len(presses)
            phase2 = wait_until(
                port,
                lambda s: (
                    s["ok"].get("answerCallbackQuery", 0) >= expected and s["ok"].get("editMessageText", 0) >= expected
                ),
            )
            t2 = phase2["last_send_at"] - started  # time.monotonic is one clock for every process here
            rss = peak_rss_mb(bot.pid)
            errors = sum(v for k, v in phase2["statuses"].items() if k != "200")
        finally:
            stop(bot)
        events = sqlite3.connect(db).execute("SELECT COUNT(*) FROM reach_events").fetchone()[0]
        updates = len(texts) + len(presses)
        expected_events = residents * 5  # five of the eight presses show a tip
        if events != expected_events or errors:
            print(f"  warning: {events} reach events (expected {expected_events}), {errors} API errors")
        return updates / (t1 + t2), rss, updates


def run_echo(port: int, updates: int) -> tuple[float, float]:
    http(port, "/_ctl/reset", {})
    texts = [{"user_id": 30_000_000 + (i % 1000), "text": f"hello {i}"} for i in range(updates)]
    http(port, "/_ctl/enqueue", {"texts": texts})
    env = {**os.environ, "BENCH_TOKEN": TOKEN, "BENCH_BASE_URL": f"http://127.0.0.1:{port}/bot"}
    bot = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "echo_bot.py")],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        stats = wait_until(port, lambda s: s["ok"].get("sendMessage", 0) >= updates)
        rss = peak_rss_mb(bot.pid)
    finally:
        stop(bot)
    return updates / (stats["last_send_at"] - stats["first_update_served_at"]), rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=10_000, help="residents already in the database")
    parser.add_argument("--profile", type=Path, help="write a cProfile of one extra bot run here")
    parser.add_argument("--httpx", action="store_true", help="also run the bot on PTB's httpx backend")
    args = parser.parse_args()

    fake, port = start_fake()
    try:
        ours, httpx_ours, echo, rss_ours, rss_echo = [], [], [], [], []
        for run in range(args.runs):
            rate, rss, updates = run_bot(port, args.residents, args.seed, None)
            ours.append(rate)
            rss_ours.append(rss)
            echo_rate, echo_rss = run_echo(port, updates)
            echo.append(echo_rate)
            rss_echo.append(echo_rss)
            line = (
                f"run {run + 1}: bot {rate:7.0f} upd/s  echo {echo_rate:7.0f} upd/s  "
                f"ratio {rate / echo_rate:4.2f}  bot RSS {rss:5.1f} MB"
            )
            if args.httpx:
                httpx_rate, _, _ = run_bot(port, args.residents, args.seed, None, backend="httpx")
                httpx_ours.append(httpx_rate)
                line += f"  | bot on httpx {httpx_rate:7.0f} upd/s"
            print(line, flush=True)
        print(f"\nupdates per run: {updates} from {args.residents} residents; {args.seed} residents seeded")
        print(f"bot  (whole bot, DB included, aiohttp backend): median {statistics.median(ours):7.0f} upd/s")
        if httpx_ours:
            print(f"bot  (same, PTB's httpx backend, pool 8):       median {statistics.median(httpx_ours):7.0f} upd/s")
        print(f"echo (bare PTB echo bot, default config):       median {statistics.median(echo):7.0f} upd/s")
        print(
            f"ratio bot/echo (median of per-run ratios): "
            f"{statistics.median(o / e for o, e in zip(ours, echo, strict=True)):.2f}"
        )
        print(f"peak RSS: bot {max(rss_ours):.1f} MB, echo {max(rss_echo):.1f} MB")
        if args.profile:
            run_bot(port, args.residents, args.seed, args.profile)
            import pstats

            print(f"\nprofile of the bot process ({args.profile}), top 25 by cumulative time:")
            pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)
    finally:
        stop(fake)


if __name__ == "__main__":
    main()
