"""Broadcast sending rate, end to end: `python -m bot run` against the fake Bot API server.

  python bench/broadcast_throughput.py [--recipients 10000] [--lifted-recipients 20000]
                                       [--chatting 50] [--chat-recipients 10000] [--chat-interval 20]
                                       [--skip-paced] [--skip-lifted] [--skip-chatting]

1. Paced: the fake enforces Telegram's limits (30 messages in any sliding second, ~1/s per chat after a
   short burst; 429 with retry_after beyond them); the bot's Telegram send budget (TELEGRAM_RATE=30) paces
   the broadcast. Prints the sustained rate (steady state: the first and last 2 s left out) as a share of the
   server's limit, and the 429s answered (target: ≥ 95 %, no 429 in the steady state).
2. Chatting: the same broadcast while `--chatting` residents chat, each sending a command (/tip, /help,
   /topics, /menu in turn) every `--chat-interval` seconds on average. Replies go first in the shared budget;
   the broadcast fills what they leave. Prints the broadcast's and the total steady rate as shares of the
   limit, the 429s, and the residents' reply latency (target: total ≥ 95 %, no steady-state 429, p95 < 2 s).
3. Lifted: no server limit and no budget (TELEGRAM_RATE=0; Telegram's paid broadcasts allow up to 1,000/s):
   the sender's own ceiling, every recipient's outcome written to SQLite in batches (target ≥ 1,000/s).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from common import (
    add_residents,
    bot_env,
    http,
    percentile,
    seed_database,
    start_bot,
    start_fake,
    stop_process,
    wait_for_polling,
)

TEXT = "国家宪法日到了，一起学宪法。"
LIMIT = 30.0
TALKER_ID = 60_000_000
COMMANDS = ["/tip", "/help", "/topics", "/menu"]


def prepare_database(path: Path, recipients: int, talkers: int) -> None:
    seed_database(path, recipients, 40_000_000)
    add_residents(path, [TALKER_ID + i for i in range(talkers)])  # they get the broadcast too
    db = sqlite3.connect(path)
    now = int(time.time())
    db.execute(
        "INSERT INTO broadcasts (created_at, created_by, text, audience, send_at) VALUES (?, 'bench', ?, ?, ?)",
        (now, TEXT, json.dumps({"topics": [], "places": [], "languages": []}), now),
    )
    db.commit()
    db.close()


def steady(times: list[float], first: float, last: float) -> float:
    """Messages per second between first + 2 s and last - 2 s."""
    inside = [t for t in times if first + 2 <= t <= last - 2]
    return (len(inside) - 1) / (inside[-1] - inside[0]) if len(inside) > 1 else float("nan")


def run(recipients: int, server_limit: float | None, batch: int, talkers: int = 0, interval: float = 20.0) -> dict:
    fake, port = start_fake(*(["--rate-limit", str(server_limit), "--chat-limits"] if server_limit else []))
    everyone = recipients + talkers
    asked: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite3"
        prepare_database(db, recipients, talkers)
        rate = "30" if server_limit else "0"
        bot = start_bot(bot_env(port, db, TELEGRAM_RATE=rate, BROADCAST_BATCH=str(batch)))
        try:
            wait_for_polling(port)
            deadline = time.monotonic() + everyone / (server_limit or 1000) * 3 + 60
            rng = random.Random(7)
            due = {TALKER_ID + i: time.monotonic() + rng.uniform(0, interval) for i in range(talkers)}
            turn = dict.fromkeys(due, 0)
            progress = sqlite3.connect(db)
            checked = 0.0
            while time.monotonic() < deadline:
                now = time.monotonic()
                texts = []
                for user, at in due.items():
                    if at <= now:
                        texts.append({"user_id": user, "text": COMMANDS[turn[user] % len(COMMANDS)]})
                        turn[user] += 1
                        due[user] = now + rng.uniform(0.5, 1.5) * interval
                if texts:
                    http(port, "/_ctl/enqueue", {"texts": texts})
                    asked += [(t["user_id"], time.monotonic()) for t in texts]
                if now - checked >= 1.0:  # the harness keeps its own load small: the machine has two cores
                    checked = now
                    done = progress.execute("SELECT COUNT(*) FROM broadcast_recipients WHERE status != 'pending'")
                    if done.fetchone()[0] >= everyone:
                        break
                time.sleep(0.1 if talkers else 0.5)
            progress.close()
            time.sleep(2.0)  # the last replies
            calls = http(port, "/_ctl/sent?method=sendMessage&status=any")
            stats = http(port, "/_ctl/stats")
        finally:
            errors = stop_process(bot)
            stop_process(fake, timeout=30)
        outcomes = dict(
            sqlite3.connect(db).execute("SELECT status, COUNT(*) FROM broadcast_recipients GROUP BY status").fetchall()
        )
    ok = [c for c in calls if c["status"] == 200]
    broadcast = sorted(c["at"] for c in ok if TEXT in c["params"]["text"])
    replies = sorted(c["at"] for c in ok if TEXT not in c["params"]["text"])
    first, last = (broadcast[0], broadcast[-1]) if broadcast else (0.0, 0.0)
    rejected = [c["at"] for c in calls if c["status"] != 200]
    latencies = []
    by_chat: dict[int, list[float]] = {}
    for call in ok:
        if TEXT not in call["params"]["text"]:
            by_chat.setdefault(call["params"]["chat_id"], []).append(call["at"])
    for user, when in asked:
        answer = next((t for t in by_chat.get(user, []) if t > when), None)
        latencies.append(answer - when if answer is not None else float("inf"))
    return {
        "sent": len(broadcast),
        "seconds": last - first,
        "overall_rate": (len(broadcast) - 1) / (last - first) if last > first else 0.0,
        "steady_rate": steady(broadcast, first, last),
        "total_steady_rate": steady(sorted(broadcast + [t for t in replies if first <= t <= last]), first, last),
        "count_429": stats.get("count_429", 0),
        "steady_429": sum(first + 2 <= t <= last - 2 for t in rejected),
        "calls": len(calls),
        "outcomes": outcomes,
        "asked": len(asked),
        "replies_during": sum(first <= t <= last for t in replies),
        "latencies": latencies,
        "given_up": sum("gave up a reply" in line for line in errors.splitlines()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--lifted-recipients", type=int, default=20_000)
    parser.add_argument("--chatting", type=int, default=50, help="residents chatting during the broadcast")
    parser.add_argument("--chat-recipients", type=int, default=10_000)
    parser.add_argument("--chat-interval", type=float, default=20.0, help="seconds between one resident's messages")
    parser.add_argument("--skip-paced", action="store_true")
    parser.add_argument("--skip-chatting", action="store_true")
    parser.add_argument("--skip-lifted", action="store_true")
    args = parser.parse_args()

    if not args.skip_paced:
        paced = run(args.recipients, server_limit=LIMIT, batch=25)
        print(
            f"paced: {paced['sent']} messages in {paced['seconds']:.1f} s; steady state "
            f"{paced['steady_rate']:.2f} msg/s = {100 * paced['steady_rate'] / LIMIT:.1f}% of the server's "
            f"{LIMIT:g}/s; 429s answered: {paced['count_429']} of {paced['calls']} sends "
            f"({paced['steady_429']} in the steady state); outcomes {paced['outcomes']}",
            flush=True,
        )
    if not args.skip_chatting and args.chatting:
        chat = run(args.chat_recipients, LIMIT, 25, talkers=args.chatting, interval=args.chat_interval)
        latencies = chat["latencies"]
        print(
            f"chatting: {args.chatting} residents, one message each per ~{args.chat_interval:g} s, "
            f"{chat['asked']} messages; broadcast {chat['sent']} messages in {chat['seconds']:.1f} s\n"
            f"  steady state: broadcast {chat['steady_rate']:.2f} msg/s = {100 * chat['steady_rate'] / LIMIT:.1f}%, "
            f"broadcast + replies {chat['total_steady_rate']:.2f} msg/s = "
            f"{100 * chat['total_steady_rate'] / LIMIT:.1f}% of the server's {LIMIT:g}/s "
            f"({chat['replies_during']} replies during the broadcast)\n"
            f"  429s: {chat['count_429']} of {chat['calls']} sends ({chat['steady_429']} in the steady state); "
            f"replies given up: {chat['given_up']}\n"
            f"  reply latency: median {percentile(latencies, 0.5):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, "
            f"max {max(latencies, default=float('nan')):.2f} s; outcomes {chat['outcomes']}",
            flush=True,
        )
    if not args.skip_lifted:
        # No limits at all (TELEGRAM_RATE=0: no send budget): what the sender itself can do.
        lifted = run(args.lifted_recipients, server_limit=None, batch=100)
        print(
            f"lifted: {lifted['sent']} messages in {lifted['seconds']:.1f} s = {lifted['overall_rate']:.0f} msg/s "
            f"overall, {lifted['steady_rate']:.0f} msg/s steady; outcomes {lifted['outcomes']}"
        )


if __name__ == "__main__":
    main()
