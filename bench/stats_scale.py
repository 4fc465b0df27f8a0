"""Statistics and export at scale: synthetic history of 1 M … 10 M reach events over one year.

  python bench/stats_scale.py [--events 1000000 10000000] [--residents 20000] [--places 30] [--plans]

For each size: build a database (20,000 residents in 30 places, two channels, events spread over 2026 with
the kinds of a real year: tips, quiz questions and answers, broadcasts), then time `python -m bot stats
--json` for the year and `python -m bot export` to .xlsx (each its own process, as an office would run
them; peak RSS from the child's rusage), and check that the bot keeps answering while an export runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, seed_database

YEAR_START = 1767196800  # 2026-01-01 00:00 Asia/Shanghai
YEAR = 365 * 86400
KINDS = ["tip"] * 5 + ["quiz_question"] * 2 + ["quiz_answer"] * 2 + ["broadcast"]


def make_content(folder: Path, places: int) -> Path:
    content = folder / "content"
    shutil.copytree(REPO / "content", content)
    rows = ["town: 测试镇", "places:"]
    for i in range(places):
        school = i % 6 == 5
        rows += [
            f"  - id: place-{i:02d}",
            f"    name: 地点{i:02d}",
            f"    kind: {'school' if school else 'village'}",
            f"    {'enrolment' if school else 'population'}: {500 + 37 * i}",
        ]
    (content / "places.yaml").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (content / "campaigns.yaml").unlink()
    (content / "office.yaml").unlink()  # it names the sample town's villages, which this synthetic town has not
    return content


def build(db: Path, events: int, residents: int, places: int) -> float:
    started = time.perf_counter()
    seed_database(db, residents, 50_000_000)
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = OFF")
    ids = [row[0] for row in connection.execute("SELECT id FROM residents WHERE channel = 'telegram'")]
    home = {rid: f"place-{rid % places:02d}" for rid in ids}
    channel = {rid: "wecom" if rid % 3 == 0 else "telegram" for rid in ids}
    topics = ["anti-fraud", "anti-drug", "drowning", "constitution"]
    rng = random.Random(7)
    batch = 200_000
    for offset in range(0, events, batch):
        rows = []
        for _ in range(min(batch, events - offset)):
            rid = rng.choice(ids)
            kind = rng.choice(KINDS)
            correct = rng.random() < 0.7 if kind == "quiz_answer" else None
            rows.append(
                (
                    YEAR_START + rng.randrange(YEAR),
                    rid,
                    channel[rid],
                    kind,
                    rng.choice(topics),
                    f"q{rng.randrange(60)}",
                    home[rid],
                    None,
                    None,
                    correct,
                )
            )
        connection.executemany(
            "INSERT INTO reach_events (ts, resident_id, channel, kind, topic_id, item_id, place_id, campaign_id,"
            " broadcast_id, correct) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.commit()
    # The generator wrote events directly; build the roll-ups the bot keeps as it writes, with the same
    # statements their migrations use to backfill an existing database.
    sys.path.insert(0, str(REPO))
    from bot.storage.db import split_sql as _split_sql
    from bot.storage.migrations import MIGRATIONS

    for migration in sorted(MIGRATIONS, key=lambda m: m.version):  # 5, then 14 (built from 5's)
        if "roll-ups" in migration.name:
            for statement in _split_sql(migration.sql):
                if statement.startswith("INSERT"):
                    connection.execute(statement)
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()
    return time.perf_counter() - started


YEAR_ARGS = ["--from", "2026-01-01", "--to", "2026-12-31"]


def bot_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


async def answers_during_export(env: dict[str, str], out: Path) -> tuple[float, int]:
    """Median reply latency of the core (same database) while an export runs in another process."""
    sys.path.insert(0, str(REPO))
    from bot.config import Settings
    from bot.content.store import ContentStore
    from bot.core.engine import Core
    from bot.core.events import Incoming
    from bot.storage import Storage

    settings = Settings.from_env(env, dotenv=None)
    storage = await Storage.open(settings.db_path)
    core = Core(storage, ContentStore.load(settings.content_dir), settings)
    export = await asyncio.create_subprocess_exec(
        *bot_command("export", *YEAR_ARGS, "--out", str(out)),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    latencies = []

    async def ignore(reply: object) -> bool:
        return True

    while export.returncode is None:
        started = time.perf_counter()
        await core.respond(Incoming.from_text("telegram", "50000001", "/tip"), ignore)
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(export.wait(), 0.001)
    await storage.close()
    return statistics.median(latencies) * 1000, len(latencies)


def plans(db: Path) -> None:
    connection = sqlite3.connect(db)
    rollup_rows = connection.execute("SELECT COUNT(*) FROM reach_monthly").fetchone()[0]
    print(f"    reach_monthly rows: {rollup_rows:,}")
    for label, query in [
        (
            "year by topic (roll-up, covering index)",
            "SELECT topic_id, SUM(deliveries), COUNT(DISTINCT resident_id) FROM reach_monthly"
            " INDEXED BY reach_monthly_topic WHERE month BETWEEN '2026-01' AND '2026-12' GROUP BY topic_id",
        ),
        (
            "partial month (raw log)",
            "SELECT COUNT(*), COUNT(DISTINCT resident_id) FROM reach_events"
            " WHERE ts >= 1767196800 AND ts < 1767801600 AND channel != 'console'",
        ),
    ]:
        plan = " | ".join(row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + query))
        print(f"    plan {label}: {plan}")
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--places", type=int, default=30)
    parser.add_argument("--plans", action="store_true", help="print the query plans")
    args = parser.parse_args()
    for events in args.events:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            db = folder / "bench.sqlite3"
            content = make_content(folder, args.places)
            built = build(db, events, args.residents, args.places)
            env = {**os.environ, "BOT_DB": str(db), "BOT_CONTENT_DIR": str(content), "BOT_LOG_LEVEL": "WARNING"}
            figures = json.loads(
                subprocess.run(
                    bot_command("stats", *YEAR_ARGS, "--json"), env=env, cwd=REPO, check=True, capture_output=True
                ).stdout
            )
            # Every event the generator wrote is a delivery of 2026: the figures come from the roll-ups, not zeros.
            assert figures["deliveries"] == events, (figures["deliveries"], events)
            stats_runs = [timed(bot_command("stats", *YEAR_ARGS, "--json"), env) for _ in range(3)]
            export_runs = [
                timed(bot_command("export", *YEAR_ARGS, "--out", str(folder / "out.xlsx")), env) for _ in range(3)
            ]
            latency, samples = asyncio.run(answers_during_export(env, folder / "during.xlsx"))
            size = db.stat().st_size / 1e6
            print(
                f"{events:>10,} events ({size:,.0f} MB db, built in {built:.0f} s): "
                f"stats median {statistics.median(s for s, _ in stats_runs):.2f} s, "
                f"export median {statistics.median(s for s, _ in export_runs):.2f} s, "
                f"peak RSS {max(r for _, r in stats_runs + export_runs):.0f} MB; "
                f"bot reply during export: median {latency:.1f} ms over {samples} replies",
                flush=True,
            )
            if args.plans:
                plans(db)


if __name__ == "__main__":
    main()
