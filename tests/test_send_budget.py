"""One send budget for Telegram, shared by replies and broadcasts (bot/channels/telegram/budget.py).

The arithmetic and the queue on a fake clock; then the real PTB Application against the fake Bot API server
enforcing Telegram's limits: a village meeting's burst of /start, and a broadcast while residents chat.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from pathlib import Path

import pytest

from bot.broadcasting.worker import BroadcastSettings, BroadcastWorker
from bot.channels.telegram.adapter import RetryPolicy
from bot.channels.telegram.budget import Budget, Limits, Priority, SendBudget, departed
from bot.content.store import ContentStore
from bot.core.sending import is_self_paced
from bot.storage import Audience

from .fakes.telegram_api import FakeTelegram
from .helpers import SQLITE_ONLY
from .test_broadcasts import add_residents
from .test_telegram import Bot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def greedy(
    budget: Budget, clock: Clock, chats: list[int], until: float, edit: bool = False, most: int = 100_000
) -> list[float]:
    """Send as fast as the budget allows, round-robin over `chats`, until `until`; the times of the sends."""
    sent: list[float] = []
    index = 0
    while len(sent) < most:
        chat = chats[index % len(chats)]
        ready = max(budget.overall_ready(clock.now, edit), budget.chat_ready(chat, clock.now, edit), clock.now)
        if ready > until:
            return sent
        clock.now = ready
        budget.take(chat, clock.now, edit)
        sent.append(clock.now)
        index += 1
    return sent


def most_in_any(times: list[float], window: float) -> int:
    """The most sends inside any sliding window of `window` seconds (as Telegram and the fake count)."""
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        most = max(most, end - start + 1)
    return most


# -- the arithmetic, on a fake clock ------------------------------------------------------------


def test_overall_rate_is_evenly_spaced_just_under_the_limit_with_no_sliding_second_over_it() -> None:
    clock = Clock()
    budget = Budget(Limits(rate=30), clock)
    times = greedy(budget, clock, list(range(1, 10_001)), until=clock.now + 20)
    assert most_in_any(times, 1.0) <= 30  # what Telegram counts
    assert 30 * 0.96 <= len(times) / 20 <= 30  # ≥ 96 % of the limit sustained
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) - min(gaps) < 1e-6  # evenly spaced from the first send: no burst


def test_slots_missed_by_a_short_gap_are_made_good_without_going_over_the_window() -> None:
    clock = Clock()
    budget = Budget(Limits(rate=30, catch_up=0.1), clock)
    begin = clock.now
    times = greedy(budget, clock, list(range(1, 100)), until=begin + 2)
    clock.now = resumed = times[-1] + 0.08  # a batch boundary: 80 ms with nothing to send (2 slots missed)
    times += greedy(budget, clock, list(range(100, 200)), until=begin + 4)
    assert most_in_any(times, 1.0) <= 30
    assert len([t for t in times if t == resumed]) <= 4  # the missed slots at once, not a flood
    assert len(times) >= int(30 * 0.97 * 4)  # the gap cost nothing: the schedule was kept
    clock.now = times[-1] + 5  # a long idle time: the schedule starts afresh, no burst
    again = greedy(budget, clock, list(range(200, 300)), until=clock.now + 1)
    assert again[1] - again[0] == pytest.approx(1 / (30 * 0.97))


def test_sends_that_left_late_and_bunched_up_hold_the_next_ones_back() -> None:
    """A busy event loop resumes granted sends late, all at once: the window counts when they really left."""
    clock = Clock()
    budget = Budget(Limits(rate=30), clock)
    start = clock.now
    entries = []
    for chat in range(1, 31):
        clock.now = max(clock.now, budget.overall_ready(clock.now))
        entries.append(budget.take(chat, clock.now))
    for entry in entries[:5]:  # the first five left together, 150 ms after the first was granted
        Budget.left(entry, start + 0.15)
    assert budget.overall_ready(clock.now) >= start + 0.15 + budget.guard_window - 1e-9
    assert most_in_any(sorted(e[0] for e in entries if e), 1.0) <= 30


def test_one_private_chat_gets_a_short_burst_then_one_a_second() -> None:
    clock = Clock()
    budget = Budget(Limits(rate=30, chat_burst=5, chat_rate=1.0), clock)
    start = clock.now
    times = greedy(budget, clock, [42], until=start + 10.0)
    assert len([t for t in times if t < start + 0.5]) == 5  # the burst
    assert len(times) == 5 + 10  # then exactly one a second
    assert all(b - a == pytest.approx(1.0) for a, b in itertools.pairwise(times[5:]))


def test_a_group_gets_at_most_twenty_a_minute() -> None:
    clock = Clock()
    budget = Budget(Limits(rate=30), clock)
    start = clock.now
    times = greedy(budget, clock, [-100123], until=start + 180)
    assert most_in_any(times, 60.0) <= 20
    assert times[19] - start < 20  # the first twenty go within seconds (1 a second after the burst)
    assert times[20] - times[0] >= 60.0  # the twenty-first waits for the minute
    # a private chat next to it is not held up by the group
    assert budget.chat_ready(42, clock.now) <= clock.now


def test_a_pause_stops_everything_and_edits_only_wait_out_pauses() -> None:
    clock = Clock()
    budget = Budget(Limits(rate=30), clock)
    budget.pause(2.0)
    assert budget.overall_ready(clock.now) >= clock.now + 2.0
    assert budget.overall_ready(clock.now, edit=True) >= clock.now + 2.0
    clock.now += 2.0
    edits = greedy(budget, clock, [7], until=clock.now + 1, edit=True, most=1000)
    assert len(edits) == 1000 and edits[-1] == edits[0]  # edits took no message slots
    assert budget.overall_ready(clock.now) <= clock.now
    counted = Budget(Limits(rate=30, edits_count=True), clock)
    assert most_in_any(greedy(counted, clock, [7], until=clock.now + 3, edit=True), 1.0) <= 30


def test_a_429_slows_the_pace_a_little_and_quiet_minutes_bring_it_back() -> None:
    clock = Clock()
    budget = Budget(Limits(rate=30, headroom=0.03), clock)
    assert budget.pace == pytest.approx(29.1)
    budget.pause(1.0)
    budget.pause(1.0)  # another answer to the same burst, while paused
    assert budget.pace == pytest.approx(30 * 0.96)  # one step slower
    clock.now += 1.0
    budget.pause(1.0)
    assert budget.pace == pytest.approx(30 * 0.95)  # a second 429 after the pause: two steps
    for _ in range(10):
        clock.now += 1.0
        budget.pause(1.0)
    assert budget.pace == pytest.approx(30 * (1 - 0.03 - Budget.SLOW_DOWN_MOST))  # never slower than this
    clock.now += 2.0
    times = greedy(budget, clock, list(range(1, 5000)), until=clock.now + 10)
    assert len(times) / 10 == pytest.approx(budget.pace, rel=0.02)
    clock.now += Budget.RECOVER_AFTER
    budget.take(1, clock.now)
    assert budget.pace == pytest.approx(30 * (1 - 0.03 - Budget.SLOW_DOWN_MOST + Budget.SLOW_DOWN))


def test_no_limits_when_rate_is_zero_but_pauses_still_hold() -> None:
    clock = Clock()
    budget = Budget(Limits(rate=0), clock)
    assert len(greedy(budget, clock, [1], until=clock.now, most=1000)) == 1000  # never waits
    budget.pause(1.5)
    assert budget.overall_ready(clock.now) == pytest.approx(clock.now + 1.5)


# -- the queue: replies first -------------------------------------------------------------------


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_waiting_replies_take_the_next_slots_before_waiting_broadcasts() -> None:
    clock = Clock()
    sends = SendBudget(Limits(rate=10, headroom=0.0, catch_up=0.0), clock)
    await sends.acquire(1, Priority.BROADCAST)  # the slot now is taken
    order: list[str] = []

    async def send(name: str, chat: int, priority: Priority) -> None:
        await sends.acquire(chat, priority)
        order.append(name)

    tasks = [asyncio.create_task(send(f"b{i}", 100 + i, Priority.BROADCAST)) for i in range(4)]
    await _settle()
    tasks += [asyncio.create_task(send(f"r{i}", 200 + i, Priority.REPLY)) for i in range(3)]
    await _settle()
    assert order == [] and sends.waiting(Priority.REPLY) == 3 and sends.waiting(Priority.BROADCAST) == 4
    for _ in range(7):
        clock.now += 0.1  # one slot every 0.1 s at 10/s
        sends.release()
        await _settle()
    assert order == ["r0", "r1", "r2", "b0", "b1", "b2", "b3"]  # replies first, each kind in arrival order
    await asyncio.gather(*tasks)
    assert sends.granted == {Priority.REPLY: 3, Priority.BROADCAST: 5}


async def test_a_reply_held_by_its_own_chat_does_not_hold_up_sends_to_other_chats() -> None:
    clock = Clock()
    sends = SendBudget(Limits(rate=10, headroom=0.0, catch_up=0.0, chat_burst=1, chat_rate=1.0), clock)
    await sends.acquire(5, Priority.REPLY)  # chat 5's only token, and the overall slot
    order: list[str] = []

    async def send(name: str, chat: int, priority: Priority) -> None:
        await sends.acquire(chat, priority)
        order.append(name)

    tasks = [
        asyncio.create_task(send("reply to 5", 5, Priority.REPLY)),
        asyncio.create_task(send("broadcast to 6", 6, Priority.BROADCAST)),
    ]
    await _settle()
    clock.now += 0.1
    sends.release()
    await _settle()
    assert order == ["broadcast to 6"]  # chat 5 must wait a second; the slot goes to chat 6 meanwhile
    clock.now += 0.9
    sends.release()
    await _settle()
    assert order == ["broadcast to 6", "reply to 5"]
    await asyncio.gather(*tasks)


async def test_a_cancelled_waiter_gives_its_place_up() -> None:
    clock = Clock()
    sends = SendBudget(Limits(rate=10, headroom=0.0, catch_up=0.0), clock)
    await sends.acquire(1, Priority.REPLY)
    gone = asyncio.create_task(sends.acquire(2, Priority.REPLY))
    stays = asyncio.create_task(sends.acquire(3, Priority.BROADCAST))
    await _settle()
    gone.cancel()
    await _settle()
    clock.now += 0.1
    sends.release()
    await _settle()
    assert stays.done() and gone.cancelled() and sends.waiting() == 0


async def test_a_pause_holds_replies_and_broadcasts_alike() -> None:
    sends = SendBudget(Limits(rate=1000))
    sends.pause(0.3)
    started = time.monotonic()
    await asyncio.gather(sends.acquire(1, Priority.REPLY), sends.acquire(2, Priority.BROADCAST))
    assert time.monotonic() - started >= 0.29 and sends.rate_limited == 1


async def test_the_request_backend_tells_the_budget_when_a_send_really_left() -> None:
    clock = Clock()
    sends = SendBudget(Limits(rate=30), clock)
    slot = await sends.acquire(1, Priority.REPLY)
    assert slot == [clock.now]
    clock.now += 0.2  # held up on its way out
    with sends.sending(slot):
        departed()  # what AiohttpRequest's trace hook calls when the headers are out
    assert slot == [clock.now]
    clock.now += 1
    departed()  # outside a send: nothing to tell
    assert slot == [clock.now - 1]


# -- the real channel against the fake Bot API server enforcing Telegram's limits -----------------


async def _replies_per_start(bot: Bot, fake: FakeTelegram) -> int:
    """How many messages one /start of a new resident gets (the welcome and what follows it)."""
    probe = fake.user(9_000_001, "Probe")
    await bot.say(probe, "/start")
    await asyncio.sleep(1.0)
    return len(fake.sent("sendMessage", chat_id=probe["id"]))


@SQLITE_ONLY  # about the send pace, not storage, and slow (8 s)
async def test_a_village_meeting_of_100_starts_is_answered_in_full_with_hardly_a_429(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with Bot(fake, tmp_path, content, database=database) as bot:
        assert is_self_paced(bot.channel)
        per_start = await _replies_per_start(bot, fake)
        fake.reset()
        fake.rate_limit, fake.chat_limits = 30.0, True  # Telegram: 429 + retry_after beyond these
        users = [fake.user(3000 + i, f"村民{i}") for i in range(100)]
        started = time.monotonic()
        for user in users:
            fake.send_text(user, "/start")
        expected = per_start * len(users)
        await fake.wait_for(lambda f: len(f.sent("sendMessage")) >= expected, timeout=10 + expected / 25)
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.5)
        answered = {u["id"]: len(fake.sent("sendMessage", chat_id=u["id"])) for u in users}
        assert set(answered.values()) == {per_start}  # every resident, every message, once
        attempts = [c for c in fake.calls if c.method == "sendMessage"]
        rejected = sum(c.status == 429 for c in attempts)
        assert rejected <= 0.01 * len(attempts), f"{rejected} × 429 of {len(attempts)} sends"
        assert elapsed < expected / 30 * 1.25 + 2  # close to the limit, not slowed by waiting out 429s
        assert bot.channel.replies_given_up == 0


@SQLITE_ONLY  # about the send pace, not storage, and slow (7 s)
async def test_a_broadcast_does_not_starve_residents_who_are_chatting(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with Bot(fake, tmp_path, content, database=database) as bot:
        recipients = 150
        await add_residents(bot.storage, [(40_000 + i, None, True, False) for i in range(recipients)])
        for i in range(recipients):
            fake.user(40_000 + i, f"R{i}")
        talkers = [fake.user(41_000 + i, f"T{i}") for i in range(8)]
        for talker in talkers:  # they met the bot before the broadcast
            await bot.say(talker, "/help")
        fake.reset()
        fake.rate_limit, fake.chat_limits = 30.0, True
        broadcast_id = await bot.storage.broadcasts.create(
            "test", Audience(), int(time.time()), int(time.time()), text="宪法宣传周"
        )
        worker = BroadcastWorker(
            bot.storage,
            bot.content,
            {"telegram": bot.channel},
            BroadcastSettings(rate=2.0, budget_ceiling=math.inf, backoff=0.01),  # rate: for channels without a budget
        )
        sending = asyncio.create_task(worker.run_once())
        await fake.wait_sent("sendMessage", 30, timeout=5)  # the broadcast is under way

        def reply_after(chat_id: int, asked: float) -> float | None:
            for call in fake.sent("sendMessage", chat_id=chat_id):
                if call.at > asked and "宪法宣传周" not in call.params["text"]:
                    return call.at
            return None

        latencies: list[float] = []
        for _ in range(3):
            asked = time.monotonic()
            for talker in talkers:
                fake.send_text(talker, "/help")
            for talker in talkers:
                await fake.wait_for(lambda f, t=talker, a=asked: reply_after(t["id"], a) is not None)
                latencies.append(reply_after(talker["id"], asked) - asked)  # type: ignore[operator]
            await asyncio.sleep(0.5)
        broadcast_during_chat = sum("宪法宣传周" in c.params["text"] for c in fake.sent("sendMessage"))
        assert await sending
        everyone = recipients + len(talkers)  # the talkers are subscribed residents too
        assert (await bot.storage.broadcasts.progress(broadcast_id)).as_dict()["delivered"] == everyone
        latencies.sort()
        assert latencies[-1] < 1.0, latencies  # a reply waits a slot or two, not for the broadcast
        assert broadcast_during_chat < everyone  # the broadcast was still going while they chatted
        attempts = [c for c in fake.calls if c.method == "sendMessage"]
        assert sum(c.status == 429 for c in attempts) <= 0.01 * len(attempts)
        assert bot.channel.budget.granted[Priority.REPLY] >= len(latencies)


async def test_broadcasts_on_telegram_go_at_the_budgets_pace_not_the_workers_rate(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with Bot(fake, tmp_path, content, database=database) as bot:
        await add_residents(bot.storage, [(50_000 + i, None, True, False) for i in range(40)])
        fake.rate_limit = 30.0
        broadcast_id = await bot.storage.broadcasts.create(
            "test", Audience(), int(time.time()), int(time.time()), text="通知"
        )
        worker = BroadcastWorker(
            bot.storage, bot.content, {"telegram": bot.channel}, BroadcastSettings(rate=2.0, budget_ceiling=math.inf)
        )
        started = time.monotonic()
        assert await worker.run_once()
        assert time.monotonic() - started < 4.0  # 40 at the worker's 2/s would take 20 s
        assert (await bot.storage.broadcasts.progress(broadcast_id)).as_dict()["delivered"] == 40
        assert not any(c.status == 429 for c in fake.calls)
        assert bot.channel.budget.granted[Priority.BROADCAST] == 40


async def test_a_reply_waits_out_a_429_unless_the_wait_ends_beyond_the_horizon(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with Bot(fake, tmp_path, content, database=database) as bot:
        bot.channel.retry = RetryPolicy(backoff=0.01, horizon=3.0)
        ivy = fake.user(60_001, "Ivy")
        fake.fail_next("sendMessage", 429, count=2, retry_after=1)  # twice: more than the old single retry
        fake.send_text(ivy, "/help")
        await fake.wait_sent("sendMessage", 1, chat_id=60_001, timeout=10)
        statuses = [c.status for c in fake.calls if c.method == "sendMessage"]
        assert statuses == [429, 429, 200] and bot.channel.budget.rate_limited == 2

        fake.fail_next("sendMessage", 429, count=1, retry_after=10)  # ends beyond the 3 s horizon: given up now
        started = time.monotonic()
        fake.send_text(ivy, "/help")
        await fake.wait_for(lambda f: sum(c.status == 429 for c in f.calls) == 3)
        await fake.wait_for(lambda f: bot.channel.replies_given_up == 1, timeout=2)
        assert time.monotonic() - started < 2.0
