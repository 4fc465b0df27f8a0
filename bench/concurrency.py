"""Several processes on one SQLite database at once: errors (target 0) and replies answered.

  python bench/concurrency.py [--seconds 60] [--residents 500] [--cli-loops 2] [--runs 1] [--repo PATH ...]

For `--seconds`, on one database (its schema made by the bot under test):
- the bot, `python -m bot run`, against the fake Bot API server (in this process, no send budget), with
  `--residents` residents chatting: each sends one of /tip, /menu, a question, /topics, /help every 2.5 s
  (the flood limit allows 30 a minute), new residents at first;
- the command line in `--cli-loops` loops side by side: `python -m bot stats`, `ledger add`, `broadcast send` (to a
  place none of the chatting residents chose, so the bot's broadcast worker claims and finishes it without
  sending), one after the other;
- a console, `python -m bot chat`, fed a line every 0.5 s through a pipe.

Errors: ERROR/CRITICAL log lines of the bot and the console, commands that exit non-zero, and a bot or console
that does not exit 0 at the end. Answers: the replies the fake confirmed, the updates sent, the console's
answered lines. A reply that is the bot's apology for an error counts as an error's symptom, not an answer.
With several `--repo` (checkouts, e.g. one before a change) they take turns, `--runs` each.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

from common import REPO

sys.path.insert(0, str(REPO))
from bot.i18n import translator
from tests.fakes.telegram_api import FakeTelegram

TEXTS = ["/tip", "/menu", "有人叫我刷单，说先垫付再返利", "/topics", "/help"]
CONSOLE_TEXTS = ["/tip", "/menu", "/topics", "1", "网上贷款要先交保证金吗"]
ERROR_LINE = re.compile(r" (ERROR|CRITICAL) ")


async def run(command: list[str], env: dict[str, str], cwd: Path, stdin: bytes | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin or b"")
    return process.returncode or 0, (out + err).decode(errors="replace")


async def cli_loop(env: dict[str, str], cwd: Path, deadline: float, tally: dict, offset: int) -> None:
    today = dt.date.today().isoformat()
    commands = [
        ["stats"],
        ["ledger", "add", "--date", today, "--type", "发放资料", "--count", "10", "--note", "bench"],
        ["broadcast", "send", "--text", "今晚村部放法治电影", "--to", "place:hexi-village"],
    ]
    i = offset
    while time.monotonic() < deadline:
        command = commands[i % len(commands)]
        i += 1
        code, output = await run([sys.executable, "-m", "bot", *command], env, cwd)
        tally["commands"] += 1
        tally["locked"] += output.count("database is locked")
        if code != 0:
            tally["errors"].append(f"`{' '.join(command[:2])}` exit {code}: {output.strip().splitlines()[-1:]}")


async def console(env: dict[str, str], cwd: Path, deadline: float, tally: dict) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "chat",
        "--user",
        "console-bench",
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    i = 0
    while time.monotonic() < deadline:
        process.stdin.write((CONSOLE_TEXTS[i % len(CONSOLE_TEXTS)] + "\n").encode())
        await process.stdin.drain()
        i += 1
        await asyncio.sleep(0.5)
    process.stdin.close()
    out, err = await process.communicate()
    tally["console_sent"] = i
    tally["console_answered"] = sum(1 for line in out.decode(errors="replace").splitlines() if line.startswith("> "))
    stderr = err.decode(errors="replace")
    tally["locked"] += stderr.count("database is locked")
    tally["errors"] += [f"console: {line}" for line in stderr.splitlines() if ERROR_LINE.search(line)]
    if process.returncode != 0:
        tally["errors"].append(f"console exit {process.returncode}: {stderr.strip().splitlines()[-1:]}")


async def residents_chatting(fake: FakeTelegram, residents: int, deadline: float, tally: dict) -> None:
    users = [fake.user(60_000_000 + i, f"居民{i}") for i in range(residents)]
    period = 2.5  # per resident; the flood limit is 30 a minute
    i = 0
    started = time.monotonic()
    while time.monotonic() < deadline:
        user = users[i % residents]
        fake.send_text(user, TEXTS[(i // residents) % len(TEXTS)])
        i += 1
        await asyncio.sleep(max(0.0, started + i * period / residents - time.monotonic()))
    tally["updates"] = i


async def one_repo(repo: Path, seconds: float, residents: int, cli_loops: int) -> dict:
    tally: dict = {"errors": [], "commands": 0, "locked": 0}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "bot.sqlite3"
        fake = FakeTelegram(token="123456:CONCURRENCY")
        await fake.start()
        env = {
            **os.environ,
            "PYTHONPATH": str(repo),
            "BOT_DB": str(db),
            "BOT_CONTENT_DIR": str(repo / "content"),
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "TELEGRAM_RATE": "0",  # no send budget: this is about the database
            "BROADCAST_RATE": "1000",
        }
        code, output = await run([sys.executable, "-m", "bot", "chat", "--user", "seed"], env, repo)
        if code != 0:
            raise SystemExit(f"creating the database failed: {output}")
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env={**env, "BOT_LOG_LEVEL": "WARNING"},
            cwd=folder,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await fake.wait_for(lambda f: any(c.method == "getUpdates" for c in f.calls), timeout=30)
            deadline = time.monotonic() + seconds
            await asyncio.gather(
                residents_chatting(fake, residents, deadline, tally),
                *(cli_loop(env, folder, deadline, tally, offset) for offset in range(cli_loops)),
                console(env, folder, deadline, tally),
            )
            await asyncio.sleep(1.0)  # the last replies
            bot.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(bot.communicate(), 30)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
            await fake.stop()
        stderr = err.decode(errors="replace")
        tally["locked"] += stderr.count("database is locked")
        tally["errors"] += [f"bot: {line}" for line in stderr.splitlines() if ERROR_LINE.search(line)]
        if bot.returncode != 0:
            tally["errors"].append(f"bot exit {bot.returncode}")
        tally["replies"] = len(fake.sent("sendMessage")) + len(fake.sent("editMessageText"))
        apology = translator("zh-CN")("fallback.error")
        tally["apologies"] = sum(apology in str(c.params.get("text", "")) for c in fake.sent("sendMessage"))
        tally["answered"] = len({c.params.get("chat_id") for c in fake.sent("sendMessage")})
    return tally


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--cli-loops", type=int, default=2, help="command-line loops running side by side")
    parser.add_argument("--repo", type=Path, action="append", help="checkout to measure (default: this one)")
    args = parser.parse_args()
    repos = [repo.resolve() for repo in args.repo or [REPO]]
    for run in range(args.runs):
        for repo in repos:
            tally = await one_repo(repo, args.seconds, args.residents, args.cli_loops)
            print(f"run {run + 1}, {repo} ({args.seconds:.0f} s):")
            print(
                f"  errors {len(tally['errors'])} ('database is locked' {tally['locked']} times); "
                f"bot: {tally['updates']} updates sent, {tally['replies']} replies confirmed "
                f"({tally['apologies']} of them 'sorry, something went wrong'), "
                f"{tally['answered']} of {args.residents} residents answered; "
                f"console: {tally['console_answered']} of {tally['console_sent']} lines answered; "
                f"command line: {tally['commands']} commands",
                flush=True,
            )
            for example in sorted(set(tally["errors"]))[:4]:
                print(f"    {example[:200]}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
