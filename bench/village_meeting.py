"""A village meeting: hundreds of residents send /start within a second, against Telegram's limits.

  python bench/village_meeting.py [--residents 300] [--spread 1.0] [--rate 30] [--timeout 60]

Two processes: the fake Bot API server enforcing Telegram's limits (`--rate` sends in any sliding second
overall, ~1/s per chat after a short burst, 20/min per group; 429 + retry_after beyond them) and the whole bot
(`python -m bot run`, TELEGRAM_RATE = `--rate`, a fresh database). One probe resident's /start first tells how
many messages a new resident gets; then `--residents` new residents send /start, spread evenly over `--spread`
seconds. Prints how many were answered in full and when, the first-reply latency, and the 429s the server
answered (targets for 300: all answered within 25 s — 600 messages need 20 s at 30/s — and 429s ≤ 1 % of sends).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import bot_env, http, percentile, seed_database, start_bot, start_fake, stop_process, wait_for_polling

FIRST_ID = 70_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=300)
    parser.add_argument("--spread", type=float, default=1.0, help="seconds over which the /start messages arrive")
    parser.add_argument("--rate", type=float, default=30.0, help="the server's limit and TELEGRAM_RATE")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    fake, port = start_fake("--rate-limit", str(args.rate), "--chat-limits")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite3"
        seed_database(db, 0, 0)
        bot = start_bot(bot_env(port, db, TELEGRAM_RATE=str(args.rate)))
        try:
            wait_for_polling(port)
            probe = FIRST_ID - 1
            http(port, "/_ctl/enqueue", {"texts": [{"user_id": probe, "text": "/start", "first_name": "探针"}]})
            time.sleep(3.0)
            per_start = len(http(port, f"/_ctl/sent?method=sendMessage&chat_id={probe}"))
            http(port, "/_ctl/reset", {})
            http(port, "/_ctl/faults", {"rate_limit": args.rate, "chat_limits": True})

            users = [FIRST_ID + i for i in range(args.residents)]
            asked: dict[int, float] = {}
            chunks = 10
            size = -(-len(users) // chunks)
            began = time.monotonic()
            for index in range(chunks):
                chunk = users[index * size : (index + 1) * size]
                if chunk:
                    texts = [{"user_id": u, "text": "/start", "first_name": f"村民{u % 1000}"} for u in chunk]
                    http(port, "/_ctl/enqueue", {"texts": texts})
                    now = time.monotonic()
                    asked.update((u, now) for u in chunk)
                time.sleep(max(0.0, began + (index + 1) * args.spread / chunks - time.monotonic()))
            expected = per_start * len(users)
            deadline = began + args.timeout
            while time.monotonic() < deadline:
                if http(port, "/_ctl/stats")["ok"].get("sendMessage", 0) >= expected:
                    break
                time.sleep(0.2)
            time.sleep(1.0)  # anything late or extra shows up too
            calls = http(port, "/_ctl/sent?method=sendMessage&status=any")
        finally:
            errors = stop_process(bot)
            stop_process(fake, timeout=30)

    got: dict[int, list[float]] = defaultdict(list)
    for call in calls:
        if call["status"] == 200:
            got[call["params"]["chat_id"]].append(call["at"])
    in_full = [u for u in users if len(got[u]) >= per_start]
    first_reply = [min(got[u]) - asked[u] for u in users if got[u]]
    done = max((max(got[u]) for u in in_full), default=float("nan")) - began
    rejected = sum(call["status"] == 429 for call in calls)
    when = [f"{call['at'] - began:.2f}" for call in calls if call["status"] == 429]
    given_up = sum("gave up a reply" in line for line in errors.splitlines())
    print(f"{args.residents} residents sent /start within {args.spread:.1f} s; the server allows {args.rate:g} msg/s")
    print(f"each new resident gets {per_start} messages: {expected} in all, {expected / args.rate:.1f} s at the limit")
    print(
        f"answered in full: {len(in_full)}/{args.residents}, the last {done:.1f} s after the first /start; "
        f"answered at all: {len(first_reply)}/{args.residents}"
    )
    print(
        f"first reply after: median {percentile(first_reply, 0.5):.1f} s, p95 {percentile(first_reply, 0.95):.1f} s, "
        f"max {max(first_reply, default=float('nan')):.1f} s"
    )
    print(
        f"sendMessage calls {len(calls)}: {rejected} × 429 = {100 * rejected / max(1, len(calls)):.2f} %"
        f"{' (at ' + ', '.join(when[:10]) + ' s)' if when else ''}; replies given up: {given_up}"
    )


if __name__ == "__main__":
    main()
