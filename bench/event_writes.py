"""Reach events written per second through the bot's own write path, on SQLite and on PostgreSQL.

  python bench/event_writes.py [--events 40000] [--residents 2000] [--flush-every 50] [--runs 3]
                               [--server postgresql://postgres@127.0.0.1:5432]

`ReachLog.record` for each event and a flush every `--flush-every` events: a live bot's batches hold tens of events,
not thousands. Every batch writes the events and keeps the monthly roll-ups in step in the same transaction; the
year's roll-ups and counters (migration 14) follow behind, so they are timed apart: one `catch_up` after the
writes, as statistics or the idle bot run it. The events are drawn over 2026, at 10 places, two topics, one in
three a quiz answer. Each run uses a fresh database (a temp SQLite file; `pufa_bench_writes_*` on the server,
dropped afterwards), and the two backends alternate within a run.

To compare two trees (before and after a change to the write path), run the script from a worktree of each, in
turn: it measures the tree it lives in.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import REPO, pg_admin

sys.path.insert(0, str(REPO))

from bot.storage import ReachEvent, Storage

YEAR_START = 1767196800  # 2026-01-01 00:00 Asia/Shanghai


async def events_per_second(target: str, folder: Path, args: argparse.Namespace) -> tuple[float, float | None]:
    """(events written per second, events the year's roll-ups caught up with per second; None before those)."""
    storage = await Storage.open(target, data_dir=folder)
    try:
        ids = []
        for number in range(args.residents):
            resident, _ = await storage.residents.get_or_create("telegram", str(number), f"R{number}", "zh-CN")
            ids.append(resident.id)
        rng = random.Random(1)
        started = time.perf_counter()
        for count in range(1, args.events + 1):
            storage.reach.record(
                ReachEvent(
                    rng.choice(ids),
                    "telegram",
                    rng.choice(("tip", "quiz_answer", "broadcast")),
                    rng.choice(("anti-fraud", "drowning")),
                    "item",
                    f"p{rng.randrange(10)}",
                    ts=YEAR_START + rng.randrange(365 * 86400),
                )
            )
            if count % args.flush_every == 0:
                await storage.flush()
        await storage.flush()
        written = args.events / (time.perf_counter() - started)
        catch_up = getattr(storage.stats, "catch_up", None)  # migration 14's roll-ups follow the log behind
        if catch_up is None:
            return written, None
        started = time.perf_counter()
        caught = await catch_up()
        return written, caught / (time.perf_counter() - started)
    finally:
        await storage.close()


async def run_once(args: argparse.Namespace) -> dict[str, tuple[float, float | None]]:
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        rates["SQLite"] = await events_per_second(str(Path(tmp) / "writes.sqlite3"), Path(tmp), args)
    server = args.server.rstrip("/")
    name = f"pufa_bench_writes_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    await pg_admin(server, f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rates["PostgreSQL"] = await events_per_second(f"{server}/{name}", Path(tmp), args)
    finally:
        await pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--residents", type=int, default=2_000)
    parser.add_argument("--flush-every", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432"))
    args = parser.parse_args()
    print(f"{REPO}: {args.events:,} events to {args.residents:,} residents, a flush every {args.flush_every}")
    results: dict[str, list[float]] = {}
    for run in range(args.runs):
        for backend, (rate, caught) in asyncio.run(run_once(args)).items():
            results.setdefault(backend, []).append(rate)
            if caught is not None:
                results.setdefault(f"{backend} catch-up", []).append(caught)
            later = "" if caught is None else f", the year's roll-ups caught up at {caught:8,.0f} events/s"
            print(f"  run {run + 1} {backend:10} written {rate:8,.0f} events/s{later}", flush=True)
    for label, rates in results.items():
        runs = ", ".join(f"{rate:,.0f}" for rate in rates)
        print(f"  {label:20} median {statistics.median(rates):8,.0f} events/s (runs {runs})")


if __name__ == "__main__":
    main()
