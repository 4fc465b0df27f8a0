"""`stats` and `export` at county scale on PostgreSQL: 20 townships, ~300,000 residents, 50 M reach events in 2026.

  python bench/county_scale.py [--events 50000000] [--residents 300000] [--townships 20] [--places 10]
                               [--runs 3] [--explain] [--keep] [--server postgresql://postgres@127.0.0.1:5432]
                               [--database postgresql://…]  (a database a --keep run loaded: not loaded again)

Builds a fresh database `pufa_bench_county_<pid>` on the server (dropped at the end unless --keep):
- the schema by opening `Storage` once (it migrates), in a temp content folder whose places.yaml declares
  `townships:` (20) with 10 places each;
- residents and reach events bulk-loaded with asyncpg's `copy_records_to_table` (kinds and shape as
  bench/stats_scale.py: uniform over 2026, 5:2:2:1 tips, quiz questions, quiz answers, broadcasts; the content's
  topics), with the non-primary-key indexes of `reach_events` and `reach_monthly` dropped during the load and
  created again afterwards exactly as the migrations write them;
- the monthly roll-ups with the migration's own backfill statements (through bot.storage.postgres.ddl/translate);
- VACUUM (ANALYZE): the server's state once autovacuum has been by (index-only scans need the visibility map).

Then each command runs `--runs` times as its own process, as an office would run it, in rotation: `python -m bot
stats --json` for the year, the same with `--town <township>` when the bot offers --town, and `python -m bot export`
to .xlsx; wall time (median) and peak RSS from the child's rusage. --explain then runs `collect` in this process,
times each statement it sends, and prints EXPLAIN (ANALYZE, BUFFERS) of the slowest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from common import REPO, pg_admin

sys.path.insert(0, str(REPO))

import asyncpg

from bot.storage.db import split_sql
from bot.storage.migrations import MIGRATIONS
from bot.storage.postgres import arguments, ddl, translate
from bot.storage.reach import EVENT_COLUMNS as REACH_EVENT_COLUMNS

YEAR_START = 1767196800  # 2026-01-01 00:00 Asia/Shanghai
YEAR = 365 * 86400
KINDS = ["tip"] * 5 + ["quiz_question"] * 2 + ["quiz_answer"] * 2 + ["broadcast"]
ITEMS = [f"q{i}" for i in range(60)]
YEAR_ARGS = ["--from", "2026-01-01", "--to", "2026-12-31"]
TARGETS = {"stats": 2.0, "stats --town": 2.0, "export": 30.0}  # seconds, from the issue; RSS < 500 MB
RSS_TARGET = 500.0
EVENT_COLUMNS = ["id", *REACH_EVENT_COLUMNS]  # the bot's own columns, with the ids we assign
RESIDENT_COLUMNS = [
    "id",
    "channel",
    "external_id",
    "display_name",
    "language",
    "place_id",
    "place_asked",
    "subscribed",
    "blocked",
    "first_seen",
    "last_seen",
]


# -- content ------------------------------------------------------------------------------------------------


def township_id(t: int) -> str:
    return f"xiang-{t + 1:02d}"


def place_ids(townships: int, places: int) -> list[str]:
    return [f"{township_id(t)}-p{p:02d}" for t in range(townships) for p in range(places)]


def make_content(folder: Path, townships: int, places: int) -> Path:
    """The shipped content with a county's places.yaml: `townships:` and `places` per township."""
    content = folder / "content"
    shutil.copytree(REPO / "content", content)
    rows = ["town: 测试县", "townships:"]
    for t in range(townships):
        rows += [f"  - id: {township_id(t)}", f"    name: 乡镇{t + 1:02d}镇"]
    rows.append("places:")
    for i, place in enumerate(place_ids(townships, places)):
        school = i % 6 == 5
        rows += [
            f"  - id: {place}",
            f"    name: 地点{i:03d}",
            f"    kind: {'school' if school else 'village'}",
            f"    {'enrolment' if school else 'population'}: {500 + 37 * (i % 50)}",
            f"    township: {township_id(i // places)}",
        ]
    (content / "places.yaml").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (content / "campaigns.yaml").unlink()  # both name the sample town's villages, which this county has not
    (content / "office.yaml").unlink()
    return content


def topic_ids() -> list[str]:
    ids = []
    for path in sorted((REPO / "content" / "topics").glob("*.yaml")):
        found = re.search(r"^id:\s*(\S+)", path.read_text(encoding="utf-8"), re.MULTILINE)
        if found:
            ids.append(found.group(1))
    return ids


# -- loading ------------------------------------------------------------------------------------------------


def migration_indexes(*tables: str) -> dict[str, str]:
    """name → CREATE INDEX statement (as PostgreSQL runs it) for the non-primary-key indexes of `tables`, taken
    from the migrations themselves; later migrations win (an index dropped, or dropped and created again)."""
    found: dict[str, str] = {}
    create = re.compile(r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+(\w+)\s+ON\s+(\w+)\b", re.IGNORECASE)
    drop = re.compile(r"DROP\s+INDEX\s+(\w+)", re.IGNORECASE)
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        for statement in split_sql(migration.sql):
            created, dropped = create.match(statement), drop.match(statement)
            if created and created.group(2) in tables:
                found[created.group(1)] = ddl(statement)
            elif dropped:
                found.pop(dropped.group(1), None)
    return found


def rollup_statements() -> list[str]:
    """The backfills of every roll-up migration (5 and 14), in the order the migrations run them."""
    return [
        translate(ddl(statement))[0]
        for migration in sorted(MIGRATIONS, key=lambda m: m.version)
        if "roll-ups" in migration.name
        for statement in split_sql(migration.sql)
        if statement.startswith("INSERT")
    ]


def resident_rows(residents: int, places: list[str], seed: int) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for rid in range(1, residents + 1):
        first = YEAR_START - 180 * 86400 + rng.randrange(YEAR)  # about half of them new in 2026
        rows.append(
            (
                rid,
                "wecom" if rid % 3 == 0 else "telegram",
                str(50_000_000 + rid),
                f"R{rid}",
                "zh-CN",
                places[rid % len(places)],
                1,
                1,
                0,
                first,
                max(first, YEAR_START + rng.randrange(YEAR)),
            )
        )
    return rows


def event_batches(events: int, residents: int, places: list[str], topics: list[str], seed: int, batch: int):
    """Batches of reach_events rows (ids 1…events), as bench/stats_scale.py draws them."""
    rng = random.Random(seed)
    ids = range(1, residents + 1)
    stamps = range(YEAR_START, YEAR_START + YEAR)
    home = [None, *(places[rid % len(places)] for rid in ids)]
    channel = [None, *("wecom" if rid % 3 == 0 else "telegram" for rid in ids)]
    next_id = 1
    for offset in range(0, events, batch):
        n = min(batch, events - offset)
        rids = rng.choices(ids, k=n)
        kinds = rng.choices(KINDS, k=n)
        answers = [1 if rng.random() < 0.7 else 0 for _ in range(n)]
        rows = [
            (
                next_id + i,
                ts,
                rid,
                channel[rid],
                kind,
                topic,
                item,
                home[rid],
                None,
                None,
                answers[i] if kind == "quiz_answer" else None,
            )
            for i, (ts, rid, kind, topic, item) in enumerate(
                zip(
                    rng.choices(stamps, k=n),
                    rids,
                    kinds,
                    rng.choices(topics, k=n),
                    rng.choices(ITEMS, k=n),
                    strict=True,
                )
            )
        ]
        next_id += n
        yield rows


async def load(url: str, content: Path, data_dir: Path, args: argparse.Namespace) -> dict[str, float]:
    from bot.storage import Storage

    phases: dict[str, float] = {}
    started = time.perf_counter()
    storage = await Storage.open(url, data_dir=data_dir)  # creates the schema: every migration, on PostgreSQL
    await storage.close()
    phases["schema"] = time.perf_counter() - started

    places = place_ids(args.townships, args.places)
    topics = topic_ids()
    indexes = migration_indexes("reach_events", "reach_monthly", "reach_yearly", "reach_resident_months")
    connection = await asyncpg.connect(url)
    try:
        # This session only: a generous sort/hash memory for the backfill and index builds, and the foreign-key
        # triggers off while copying (the generator only writes residents that exist).
        await connection.execute("SET maintenance_work_mem = '2GB'")
        await connection.execute("SET work_mem = '2GB'")
        await connection.execute("SET synchronous_commit = off")
        await connection.execute("SET session_replication_role = replica")
        for name in indexes:
            await connection.execute(f"DROP INDEX {name}")

        mark = time.perf_counter()
        await connection.copy_records_to_table(
            "residents", records=resident_rows(args.residents, places, seed=11), columns=RESIDENT_COLUMNS
        )
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('residents', 'id'), (SELECT MAX(id) FROM residents))"
        )
        phases["residents"] = time.perf_counter() - mark

        mark = time.perf_counter()
        loaded = 0
        for rows in event_batches(args.events, args.residents, places, topics, seed=7, batch=args.batch):
            await connection.copy_records_to_table("reach_events", records=rows, columns=EVENT_COLUMNS)
            loaded += len(rows)
            if loaded % 5_000_000 < args.batch:
                rate = loaded / (time.perf_counter() - mark)
                print(f"    {loaded:,} events copied ({rate:,.0f}/s)", flush=True)
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('reach_events', 'id'), (SELECT MAX(id) FROM reach_events))"
        )
        phases["events (COPY)"] = time.perf_counter() - mark

        mark = time.perf_counter()
        statements = rollup_statements()

        async def backfill(group: list[str]) -> None:
            other = await asyncpg.connect(url)
            try:
                await other.execute("SET work_mem = '2GB'")
                await other.execute("SET synchronous_commit = off")
                for statement in group:
                    await other.execute(statement)
            finally:
                await other.close()

        # reach_monthly and the month-per-resident roll-up made from it on one connection, the quiz roll-ups and
        # the yearly one (both from the log) on another: two cores, two scans; then the year's counters and places
        # made from both
        from_months = [s for s in statements if re.match(r"INSERT INTO (reach_monthly|reach_resident_months)\b", s)]
        from_both = ("INSERT INTO reach_year_counts", "INSERT INTO reach_year_places")
        counters = [s for s in statements if s.startswith(from_both)]
        from_log = [s for s in statements if s not in from_months and s not in counters]
        await asyncio.gather(backfill(from_months), backfill(from_log))
        await backfill(counters)
        phases["roll-ups (INSERT … SELECT)"] = time.perf_counter() - mark

        mark = time.perf_counter()
        for statement in indexes.values():
            await connection.execute(statement)
        phases["indexes"] = time.perf_counter() - mark

        mark = time.perf_counter()
        await connection.execute("VACUUM (ANALYZE)")
        phases["VACUUM (ANALYZE)"] = time.perf_counter() - mark
    finally:
        await connection.close()
    phases["total"] = time.perf_counter() - started
    return phases


async def sizes(url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    try:
        out: dict[str, Any] = {"database": await connection.fetchval("SELECT pg_database_size(current_database())")}
        for table in ("reach_events", "reach_monthly", "residents", "quiz_monthly", "quiz_participants_monthly"):
            out[table] = (
                await connection.fetchval(f"SELECT COUNT(*) FROM {table}"),  # noqa: S608 (fixed names)
                await connection.fetchval("SELECT pg_total_relation_size($1::regclass)", table),
            )
        return out
    finally:
        await connection.close()


# -- timing -------------------------------------------------------------------------------------------------


def bot_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def timed(command: list[str], env: dict[str, str], folder: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB, the child's own rusage) and stdout of one child process."""
    out, err = folder / "child.out", folder / "child.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, cwd=REPO, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} exited {child.returncode}: {err.read_text()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, out.read_text(encoding="utf-8")


def offers_town(env: dict[str, str]) -> bool:
    helped = subprocess.run(bot_command("stats", "--help"), env=env, cwd=REPO, capture_output=True, text=True)
    return "--town" in helped.stdout


def deliveries_in(stats_json: str) -> Any:
    """The year's total deliveries (人次) and residents reached (人) from `stats --json`: the figures cover the load."""
    data = json.loads(stats_json)
    return f"{data.get('deliveries'):,} deliveries, {data.get('reached'):,} reached"


async def explain(url: str, env: dict[str, str], show: int) -> None:
    """Run `collect` in this process on the same database, time every statement it sends, and print the plans of
    the `show` slowest (EXPLAIN (ANALYZE, BUFFERS), the statement as the bot sends it)."""
    from bot.commands.common import period
    from bot.config import Settings
    from bot.content.store import ContentStore
    from bot.reporting.statistics import collect
    from bot.storage import Storage

    settings = Settings.from_env(env, dotenv=None)
    catalog = ContentStore.load(settings.content_dir).catalog
    storage = await Storage.open(url, zone_offset=settings.zone_offset, data_dir=settings.data_dir)
    log: list[tuple[float, str, Any]] = []
    plain = storage.db.fetchall

    async def traced(sql: str, params: Any = ()) -> Any:
        started = time.perf_counter()
        rows = await plain(sql, params)
        log.append((time.perf_counter() - started, sql, params))
        return rows

    storage.db.fetchall = traced  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        await collect(storage, catalog, period(settings, "2026-01-01", "2026-12-31"))
        total = time.perf_counter() - started
    finally:
        storage.db.fetchall = plain  # type: ignore[method-assign]
        await storage.close()
    print(f"\n  collect() in process: {total:.2f} s over {len(log)} statements; slowest:")
    ranked = sorted(log, key=lambda entry: -entry[0])
    for seconds, sql, _ in ranked[:8]:
        print(f"    {seconds:6.3f} s  {' '.join(sql.split())[:150]}")
    connection = await asyncpg.connect(url)
    try:
        for seconds, sql, params in ranked[:show]:
            text, names = translate(sql)
            plan = await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + text, *arguments(names, params or ()))
            print(f"\n  EXPLAIN (ANALYZE, BUFFERS), {seconds:.3f} s in collect():\n    {' '.join(text.split())}")
            for row in plan:
                print("    " + row[0])
    finally:
        await connection.close()


# Candidate fixes, timed on the same data (diagnosis only: the bot's SQL is not changed by this script). Each
# variant is the five whole-month queries of `collect` that dominate: totals and the four breakdowns. Only fixed
# names and expressions are spliced into the SQL.
BREAKDOWNS = {  # dimension → (column, key as the bot shows it)
    "topic": ("topic_id", "COALESCE(NULLIF(topic_id, ''), 'other')"),
    "place": ("place_id", "COALESCE(NULLIF(place_id, ''), 'unknown')"),
    "channel": ("channel", "channel"),
    "month": ("month", "month"),
}


def variant_queries(table: str, where: str, two_level: bool) -> dict[str, str]:
    queries = {
        "totals": "SELECT COALESCE(SUM(n), 0), COUNT(*) FROM (SELECT resident_id, SUM(deliveries) AS n"  # noqa: S608
        f" FROM {table} WHERE {where} GROUP BY resident_id) AS per_resident"
    }
    for dimension, (column, key) in BREAKDOWNS.items():
        if two_level:  # one row per (key, resident) first: no count(DISTINCT), which sorts every group's input
            queries[dimension] = (
                f"SELECT k, SUM(n), COUNT(*) FROM (SELECT {key} AS k, resident_id, SUM(deliveries) AS n"  # noqa: S608
                f" FROM {table} WHERE {where} GROUP BY {column}, resident_id) AS per GROUP BY k ORDER BY k"
            )
        else:  # as bot/storage/stats.py sends it (INDEXED BY dropped by translate)
            queries[dimension] = (
                f"SELECT {key}, SUM(deliveries), COUNT(DISTINCT resident_id) FROM {table}"  # noqa: S608
                f" WHERE {where} GROUP BY {column} ORDER BY 1"
            )
    return queries


PRESENCE = {  # dimension → the key of one row per (year, key, resident) in the presence table
    "total": "''",
    "topic": "COALESCE(NULLIF(topic_id, ''), 'other')",
    "place": "COALESCE(NULLIF(place_id, ''), 'unknown')",
    "channel": "channel",
}


async def try_fixes(url: str) -> None:
    """Time the whole-month statements as the bot sends them, then candidate fixes, each on a warm cache (a run to
    warm, then the timed run). Every variant's figures are compared with the bot's."""
    connection = await asyncpg.connect(url)
    months = "month BETWEEN '2026-01' AND '2026-12'"
    reference: dict[str, list[tuple]] = {}

    async def timed_set(label: str, queries: dict[str, str], work_mem: str = "4MB") -> None:
        await connection.execute(f"SET work_mem = '{work_mem}'")
        times, same = {}, True
        for name, sql in queries.items():
            await connection.fetch(sql)  # warm
            started = time.perf_counter()
            rows = [
                tuple(int(v) if isinstance(v, int) or hasattr(v, "as_integer_ratio") else v for v in row)
                for row in await connection.fetch(sql)
            ]
            times[name] = time.perf_counter() - started
            same = same and reference.setdefault(name, rows) == rows
        print(
            f"    {label:72} {sum(times.values()):6.2f} s  ("
            + ", ".join(f"{k} {v:.2f}" for k, v in times.items())
            + f"){'' if same else '  FIGURES DIFFER'}",
            flush=True,
        )

    async def build(statements: list[str]) -> float:
        started = time.perf_counter()
        await connection.execute("SET work_mem = '1GB'")
        await connection.execute("SET maintenance_work_mem = '1GB'")
        for statement in statements:
            await connection.execute(statement)
        return time.perf_counter() - started

    try:
        print("\n  the five whole-month statements of collect(), warm, one connection:")
        sent = variant_queries("reach_monthly", months, False)
        await timed_set("as the bot sends them (work_mem 4MB, the server's default)", sent)
        await timed_set("as sent, work_mem 256MB", sent, "256MB")
        await timed_set(
            "two-level GROUP BY (key, resident), no count(DISTINCT)", variant_queries("reach_monthly", months, True)
        )

        # The month breakdown has no covering index on PostgreSQL: its primary key (month, …) lacks `deliveries`
        # (SQLite's WITHOUT ROWID table is its primary key, so there it is covering).
        built = await build(
            [
                "CREATE INDEX bench_reach_monthly_month ON reach_monthly (month, resident_id, deliveries)",
                "VACUUM (ANALYZE) reach_monthly",
            ]
        )
        await timed_set(
            f"as sent, + index (month, resident_id, deliveries) (built in {built:.0f} s)", {"month": sent["month"]}
        )
        await connection.execute("DROP INDEX bench_reach_monthly_month")

        # Presence tables for whole years, in this bench database only: one row per (year, breakdown, key, resident)
        # with the deliveries, and one per (month, resident); every breakdown is then one index range with one row per
        # resident reached, counted with COUNT(*).
        by_year = " UNION ALL ".join(
            f"SELECT substr(month, 1, 4), '{dim}', {key}, resident_id, SUM(deliveries) FROM reach_monthly"  # noqa: S608
            f" GROUP BY 1, 3, 4"
            for dim, key in PRESENCE.items()
        )
        built = await build(
            [
                "CREATE TABLE bench_reach_by (year TEXT, dim TEXT, key TEXT, resident_id BIGINT, deliveries BIGINT)",
                f"INSERT INTO bench_reach_by {by_year}",
                "CREATE INDEX ON bench_reach_by (dim, year, key, resident_id) INCLUDE (deliveries)",
                "CREATE TABLE bench_reach_month (month TEXT, resident_id BIGINT, deliveries BIGINT)",
                "INSERT INTO bench_reach_month SELECT month, resident_id, SUM(deliveries) FROM reach_monthly"
                " GROUP BY 1, 2",
                "CREATE INDEX ON bench_reach_month (month, resident_id) INCLUDE (deliveries)",
                "VACUUM (ANALYZE) bench_reach_by, bench_reach_month",
            ]
        )
        rows = await connection.fetchval(
            "SELECT (SELECT COUNT(*) FROM bench_reach_by) + (SELECT COUNT(*) FROM bench_reach_month)"
        )
        presence = {
            "totals": "SELECT COALESCE(SUM(deliveries), 0), COUNT(*) FROM bench_reach_by"
            " WHERE dim = 'total' AND year = '2026'"
        }
        for dim in ("topic", "place", "channel"):
            presence[dim] = (
                "SELECT key, SUM(deliveries), COUNT(*) FROM bench_reach_by"  # noqa: S608
                f" WHERE dim = '{dim}' AND year = '2026' GROUP BY key ORDER BY key"
            )
        presence["month"] = (
            f"SELECT month, SUM(deliveries), COUNT(*) FROM bench_reach_month WHERE {months} GROUP BY month ORDER BY 1"  # noqa: S608
        )
        await timed_set(f"presence tables per year and per month ({rows:,} rows, built in {built:.0f} s)", presence)

        # Counters: `reached` per (year, breakdown, key) kept as events are written (+1 when a resident's first event
        # of the year for that key inserts its presence row): the year's figures are a few hundred rows.
        built = await build(
            [
                "CREATE TABLE bench_reach_counts AS SELECT year, dim, key, SUM(deliveries) AS deliveries,"
                " COUNT(*) AS reached FROM bench_reach_by GROUP BY 1, 2, 3",
                "CREATE INDEX ON bench_reach_counts (dim, year, key)",
                "VACUUM (ANALYZE) bench_reach_counts",
            ]
        )
        counts = {"totals": "SELECT deliveries, reached FROM bench_reach_counts WHERE dim = 'total' AND year = '2026'"}
        for dim in ("topic", "place", "channel"):
            counts[dim] = (
                "SELECT key, deliveries, reached FROM bench_reach_counts"  # noqa: S608
                f" WHERE dim = '{dim}' AND year = '2026' ORDER BY key"
            )
        counts["month"] = presence["month"]
        await timed_set("counters per (year, breakdown, key); months from the presence table", counts)

        # A bot writing month by month leaves reach_monthly's heap roughly in month order; the backfill leaves it in
        # hash order. CLUSTER puts it in primary-key order, to see the month query on a month-ordered heap.
        built = await build(["CLUSTER reach_monthly USING reach_monthly_pkey", "ANALYZE reach_monthly"])
        await timed_set(f"as sent, month only, heap in month order (CLUSTER, {built:.0f} s)", {"month": sent["month"]})
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--residents", type=int, default=300_000)
    parser.add_argument("--townships", type=int, default=20)
    parser.add_argument("--places", type=int, default=10, help="places per township")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=250_000, help="events per COPY")
    parser.add_argument("--server", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument("--explain", action="store_true", help="time collect()'s statements and EXPLAIN the slowest")
    parser.add_argument("--show", type=int, default=3, help="with --explain: how many plans to print")
    parser.add_argument("--try-fixes", action="store_true", help="time candidate query and table changes (diagnosis)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    parser.add_argument(
        "--database", help="time the commands on a database an earlier --keep run loaded (not loaded, not dropped)"
    )
    args = parser.parse_args()

    server = args.server.rstrip("/")
    name = f"pufa_bench_county_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = args.database or f"{server}/{name}"
    if args.database:
        args.keep = True
    else:
        asyncio.run(pg_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            content = make_content(folder, args.townships, args.places)
            print(
                f"{args.events:,} events, {args.residents:,} residents, {args.townships} townships × {args.places}"
                f" places → {url}",
                flush=True,
            )
            if not args.database:
                phases = asyncio.run(load(url, content, folder / "data", args))
                print("  load: " + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()), flush=True)
            size = asyncio.run(sizes(url))
            print(
                f"  database {size['database'] / 1e9:.2f} GB; "
                + ", ".join(f"{t} {n:,} rows ({b / 1e9:.2f} GB)" for t, (n, b) in list(size.items())[1:]),
                flush=True,
            )
            env = {
                **os.environ,
                "BOT_DB": url,
                "BOT_CONTENT_DIR": str(content),
                "BOT_DATA_DIR": str(folder / "data"),
                "BOT_LOG_LEVEL": "WARNING",
            }
            commands: dict[str, list[str]] = {"stats": bot_command("stats", *YEAR_ARGS, "--json")}
            town = township_id(0)
            if offers_town(env):
                commands["stats --town"] = bot_command("stats", *YEAR_ARGS, "--json", "--town", town)
            else:
                print("  `python -m bot stats --help` offers no --town in this tree: the per-township run is skipped")
            commands["export"] = bot_command("export", *YEAR_ARGS, "--out", str(folder / "out.xlsx"))
            results: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
            for run in range(args.runs):
                for label, command in commands.items():
                    seconds, rss, out = timed(command, env, folder)
                    results[label].append((seconds, rss))
                    extra = ""
                    if label.startswith("stats"):
                        extra = f", {deliveries_in(out)}"
                    print(f"  run {run + 1} {label}: {seconds:.2f} s, peak RSS {rss:.0f} MB{extra}", flush=True)
            print(f"\n  {args.events:,} events, medians of {args.runs} runs:")
            for label, runs in results.items():
                median = statistics.median(s for s, _ in runs)
                peak = max(r for _, r in runs)
                met = median < TARGETS[label] and peak < RSS_TARGET
                print(
                    f"    {label:13} {median:7.2f} s (target < {TARGETS[label]:.0f} s), peak RSS {peak:.0f} MB"
                    f" (target < {RSS_TARGET:.0f} MB) {'met' if met else 'MISSED'};"
                    f" runs {', '.join(f'{s:.2f}' for s, _ in runs)}",
                    flush=True,
                )
            if args.explain:
                asyncio.run(explain(url, env, args.show))
            if args.try_fixes:
                asyncio.run(try_fixes(url))
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            asyncio.run(pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
