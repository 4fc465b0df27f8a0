"""Updates answered per second in Telegram webhook mode: SQLite with one bot process, PostgreSQL with one, and
PostgreSQL with two behind a load balancer.

  python bench/updates_scale.py [--residents 500] [--per-resident 10] [--runs 3] [--concurrency 64]
                                [--server postgresql://postgres@127.0.0.1:5432]

Each configuration, each run: a fresh database (a SQLite file, or `pufa_bench_updates_<pid>_<n>` on the server,
dropped afterwards) with N residents who met the bot before (a place chosen, as tests/test_county.py's
`residents()`), the fake Bot API server as its own process, and `python -m bot run` in webhook mode
(TELEGRAM_WEBHOOK_URL / TELEGRAM_LISTEN per process, one TELEGRAM_WEBHOOK_SECRET, TELEGRAM_RATE=0 so that
Telegram's budget does not bound it). This script is the load balancer: it posts every resident's `/nickname nK`
updates in order (the next after the previous was answered with 200), many residents at once, round-robin over the
processes as tests/test_county.py does. Timed from the first post until the fake has received every reply
(sendMessage count, polled on its control API). Every resident's replies are then checked: each update answered
once, in the order written. Configurations rotate within a run, so each run's ratios are side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from common import REPO, bot_env, http, pg_admin, start_fake, stop_process

sys.path.insert(0, str(REPO))

SECRET = "bench-webhook-secret-shared-by-every-process"
FIRST_USER = 50_001
CONFIGS = {"SQLite, 1 process": ("sqlite", 1), "PostgreSQL, 1 process": ("pg", 1), "PostgreSQL, 2 processes": ("pg", 2)}


@dataclass
class Bot:
    name: str
    port: int
    popen: subprocess.Popen
    stderr: Path

    @property
    def hook(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram/hook"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def register(target: str, data_dir: Path, users: range) -> None:
    """Residents who met the bot before (a place chosen): their next message is answered at once."""
    from bot.storage import Storage

    storage = await Storage.open(target, data_dir=data_dir)
    try:
        for user in users:
            resident, _ = await storage.residents.get_or_create("telegram", str(user), f"U{user}", "zh-CN")
            await storage.residents.update(resident.id, place_id="qingshi-village", place_asked=True)
    finally:
        await storage.close()


def start(
    fake_port: int, target: str, folder: Path, name: str, switch_interval: float | None, profile: str | None
) -> Bot:
    port = free_port()
    extra: dict[str, str] = {}
    if switch_interval is not None:  # diagnosis: the bot's GIL switch interval, set before it imports anything
        site = folder / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(f"import sys\nsys.setswitchinterval({switch_interval})\n")
        extra["PYTHONPATH"] = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", str(REPO))])
    env = bot_env(
        fake_port,
        target,  # type: ignore[arg-type]  # a path or a postgresql:// URL: bot_env only str()s it
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram/hook",
        TELEGRAM_LISTEN=f"127.0.0.1:{port}",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_RATE="0",
        BOT_DATA_DIR=str(folder / name),
        **extra,
    )
    stderr = folder / f"{name}.err"
    command = [sys.executable, "-m", "bot", "run"]
    if profile:  # diagnosis: the whole process under cProfile, written when it stops
        command[1:1] = ["-m", "cProfile", "-o", f"{profile}-{name}.prof"]
    with stderr.open("wb") as err:
        popen = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
    return Bot(name, port, popen, stderr)


async def serving(bot: Bot, timeout: float = 60) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if bot.popen.poll() is not None:
                raise RuntimeError(f"{bot.name} exited: {bot.stderr.read_text()[-2000:]}")
            try:
                async with session.post(bot.hook, json={}, headers={"X-Telegram-Bot-Api-Secret-Token": "x"}):
                    return  # it answers (403: not Telegram), so it serves
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{bot.name} did not serve within {timeout} s")


def stop(bot: Bot) -> tuple[float, float, str]:
    """SIGTERM, wait; peak RSS (MB) and CPU seconds (user + system) from the process's own rusage, and its stderr."""
    bot.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 60
    killed = ""
    while True:
        pid, status, usage = os.wait4(bot.popen.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            bot.popen.kill()
            _, status, usage = os.wait4(bot.popen.pid, 0)
            killed = "\n(killed after 60 s)"
            break
        time.sleep(0.05)
    bot.popen.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return usage.ru_maxrss / 1024, cpu, bot.stderr.read_text(errors="replace") + killed


def updates_for(users: range, per_resident: int) -> dict[int, list[dict]]:
    """Each resident's `/nickname nK` messages as Telegram posts them to a webhook."""
    now = int(time.time())
    update_id = 1
    out: dict[int, list[dict]] = {}
    for user in users:
        sender = {"id": user, "is_bot": False, "first_name": f"U{user}", "language_code": "zh-hans"}
        chat = {"id": user, "type": "private", "first_name": f"U{user}"}
        out[user] = []
        for k in range(per_resident):
            text = f"/nickname n{k}"
            message = {
                "message_id": k + 1,
                "from": sender,
                "chat": chat,
                "date": now,
                "text": text,
                "entities": [{"type": "bot_command", "offset": 0, "length": len("/nickname")}],
            }
            out[user].append({"update_id": update_id, "message": message})
            update_id += 1
    return out


async def post_all(
    bots: list[Bot], updates: dict[int, list[dict]], fake_port: int, concurrency: int, total: int
) -> tuple[float, Counter[int]]:
    """Post every update (one resident's in order, round-robin over the processes, `concurrency` at once) and wait
    until the fake has every reply; seconds from the first post."""
    statuses: Counter[int] = Counter()
    limit = asyncio.Semaphore(concurrency)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    control = f"http://127.0.0.1:{fake_port}/_ctl/stats"

    async def one_resident(session: aiohttp.ClientSession, user: int) -> None:
        for k, update in enumerate(updates[user]):
            target = bots[(user + k) % len(bots)]
            async with limit, session.post(target.hook, json=update, headers=headers) as answer:
                statuses[answer.status] += 1

    async def replies(session: aiohttp.ClientSession) -> int:
        async with session.get(control) as answer:
            return int((await answer.json())["methods"].get("sendMessage", 0))

    connector = aiohttp.TCPConnector(limit=concurrency + 8)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:
        before = await replies(session)
        started = time.perf_counter()
        posting = asyncio.gather(*(one_resident(session, user) for user in updates))
        deadline = started + 600
        while await replies(session) - before < total:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"only {await replies(session) - before} of {total} replies after 600 s")
            if posting.done() and posting.exception() is not None:
                raise posting.exception()  # type: ignore[misc]
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        await posting
    return elapsed, statuses


def check_order(fake_port: int, users: range, per_resident: int) -> tuple[int, int]:
    """(residents with a wrong number of replies, residents answered out of order)."""
    got: dict[int, list[str]] = defaultdict(list)
    for call in http(fake_port, "/_ctl/sent?method=sendMessage"):
        found = re.search(r"“(n\d+)”", str(call["params"].get("text", "")))
        if found:
            got[int(call["params"]["chat_id"])].append(found.group(1))
    expected = [f"n{k}" for k in range(per_resident)]
    wrong = sum(1 for user in users if len(got[user]) != per_resident)
    disorder = sum(1 for user in users if len(got[user]) == per_resident and got[user] != expected)
    return wrong, disorder


async def commits(target: str) -> int:
    """Transactions committed in the database so far (pg_stat_database; the statistics lag up to 0.5 s)."""
    import asyncpg

    connection = await asyncpg.connect(target)
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        return int(
            await connection.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        )
    finally:
        await connection.close()


def one(label: str, engine: str, processes: int, args: argparse.Namespace, run: int) -> dict:
    users = range(FIRST_USER, FIRST_USER + args.residents)
    total = args.residents * args.per_resident
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        name = ""
        if engine == "sqlite":
            target = str(folder / "bot.sqlite3")
        else:
            name = f"pufa_bench_updates_{os.getpid()}_{run}_{uuid.uuid4().hex[:6]}"
            asyncio.run(pg_admin(args.server, f'CREATE DATABASE "{name}"'))
            for setting in args.pg_setting or []:  # diagnosis: this database only, e.g. synchronous_commit=off
                key, value = setting.split("=", 1)
                asyncio.run(pg_admin(args.server, f'ALTER DATABASE "{name}" SET {key} = {value}'))
            target = f"{args.server}/{name}"
        fake, fake_port = start_fake()
        bots: list[Bot] = []
        try:
            asyncio.run(register(target, folder / "data", users))
            profile = f"{args.profile}-{engine}{processes}-run{run + 1}" if args.profile else None
            bots = [
                start(fake_port, target, folder, f"bot{i}", args.switch_interval, profile) for i in range(processes)
            ]

            async def ready() -> None:
                await asyncio.gather(*(serving(bot) for bot in bots))

            asyncio.run(ready())
            time.sleep(1.0)  # startup work (webhook registration, first heartbeats) out of the way
            before = asyncio.run(commits(target)) if name else 0
            elapsed, statuses = asyncio.run(
                post_all(bots, updates_for(users, args.per_resident), fake_port, args.concurrency, total)
            )
            time.sleep(0.6)  # nothing more comes; the server's statistics catch up
            committed = asyncio.run(commits(target)) - before if name else 0
            wrong, disorder = check_order(fake_port, users, args.per_resident)
            sent = http(fake_port, "/_ctl/stats")["methods"].get("sendMessage", 0)
        finally:
            stopped = [stop(bot) for bot in bots]
            stop_process(fake)
            if name:
                asyncio.run(pg_admin(args.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    tracebacks = sum(err.count("Traceback") for _, _, err in stopped)
    cpu = sum(seconds for _, seconds, _ in stopped)
    result = {
        "rate": total / elapsed,
        "elapsed": elapsed,
        "rss": max(rss for rss, _, _ in stopped),
        "ok": statuses.get(200, 0) == total and wrong == 0 and disorder == 0 and sent == total and not tracebacks,
    }
    print(
        f"  run {run + 1} {label:24} {total:,} updates in {elapsed:5.2f} s = {result['rate']:6.0f} upd/s;"
        f" HTTP {dict(statuses)}; replies {sent:,}; wrong count {wrong}, out of order {disorder};"
        f" tracebacks {tracebacks}; peak RSS {result['rss']:.0f} MB; bot CPU {cpu:.1f} s"
        + (f"; {committed / total:.1f} commits per update" if name else ""),
        flush=True,
    )
    if tracebacks:
        print(next(err for _, _, err in stopped if "Traceback" in err)[-3000:])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--per-resident", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64, help="posts in flight at once (over all processes)")
    parser.add_argument(
        "--switch-interval", type=float, help="diagnosis: the bots' sys.setswitchinterval (default: Python's 0.005)"
    )
    parser.add_argument(
        "--pg-setting", action="append", help="diagnosis: NAME=VALUE set on the bench database (ALTER DATABASE)"
    )
    parser.add_argument("--profile", help="diagnosis: run the bots under cProfile, writing PROFILE-<config>-botN.prof")
    parser.add_argument(
        "--only", help="diagnosis: comma-separated configuration numbers to run (1 SQLite, 2 PG-1, 3 PG-2)"
    )
    parser.add_argument("--server", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432"))
    args = parser.parse_args()
    args.server = args.server.rstrip("/")
    print(
        f"{args.residents} residents × {args.per_resident} updates, {args.concurrency} posts in flight,"
        f" {os.cpu_count()} cores",
        flush=True,
    )
    chosen = {int(n) for n in args.only.split(",")} if args.only else {1, 2, 3}
    configs = {label: config for n, (label, config) in enumerate(CONFIGS.items(), 1) if n in chosen}
    results: dict[str, list[dict]] = {label: [] for label in configs}
    for run in range(args.runs):
        for label, (engine, processes) in configs.items():
            results[label].append(one(label, engine, processes, args, run))
    rates = {label: [r["rate"] for r in runs] for label, runs in results.items()}
    print(f"\nmedians of {args.runs} runs:")
    for label, values in rates.items():
        print(f"  {label:24} {statistics.median(values):6.0f} upd/s  (runs {', '.join(f'{v:.0f}' for v in values)})")
    sqlite1, pg1, pg2 = (rates.get(label, []) for label in CONFIGS)
    for name, top, bottom in (("PG-1 / SQLite-1", pg1, sqlite1), ("PG-2 / PG-1", pg2, pg1)):
        if not top or not bottom:
            continue
        per_run = [a / b for a, b in zip(top, bottom, strict=True)]
        print(
            f"  {name:24} {statistics.median(per_run):.2f} (median of per-run ratios: "
            f"{', '.join(f'{r:.2f}' for r in per_run)}; ratio of medians "
            f"{statistics.median(top) / statistics.median(bottom):.2f})"
        )
    if not all(r["ok"] for runs in results.values() for r in runs):
        print("SOME RUNS FAILED A CHECK (see above)")
        sys.exit(1)


if __name__ == "__main__":
    main()
