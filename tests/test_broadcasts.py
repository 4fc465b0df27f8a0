"""Broadcasts and the publicity calendar, on both storage backends and the fake Bot API server."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.broadcasting.calendar import CampaignScheduler, occurrences
from bot.broadcasting.worker import BroadcastSettings, BroadcastWorker
from bot.config import Secret
from bot.content.calendar import parse_rule
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.storage import Audience, Storage

from .conftest import CONTENT, REPO, TODAY, settings_for
from .fakes.telegram_api import FakeTelegram
from .helpers import SQLITE_ONLY, Chat, texts
from .test_telegram import Bot

ZONE = ZoneInfo("Asia/Shanghai")


async def add_residents(storage: Storage, specs: list[tuple[int, str | None, bool, bool]]) -> dict[int, int]:
    """(telegram user id, place, subscribed, blocked) -> resident ids."""
    ids = {}
    for user_id, place, subscribed, blocked in specs:
        resident, _ = await storage.residents.get_or_create("telegram", str(user_id), f"U{user_id}", "zh-CN")
        await storage.residents.update(resident.id, place_id=place, subscribed=subscribed, blocked=blocked)
        ids[user_id] = resident.id
    return ids


async def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=REPO
    )


async def run_worker(bot: Bot, **settings: object) -> BroadcastWorker:
    worker = BroadcastWorker(
        bot.storage,
        bot.content,
        {"telegram": bot.channel},
        BroadcastSettings(**{"rate": 200.0, "backoff": 0.01, **settings}),
    )  # type: ignore[arg-type]
    while await worker.run_once():
        pass
    return worker


def test_calendar_rules_match_the_legal_facts() -> None:
    """全国中小学生安全教育日 is the last Monday of March: 2026-03-30 and 2027-03-29 (legal-facts §11)."""
    assert parse_rule("last monday of march").dates(dt.date(2026, 1, 1), dt.date(2027, 12, 31)) == [
        dt.date(2026, 3, 30),
        dt.date(2027, 3, 29),
    ]
    summer = parse_rule("every saturday from 07-01 to 08-31").dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert len(summer) == 9 and all(d.weekday() == 5 for d in summer)
    with pytest.raises(ValueError, match="not a date rule"):
        parse_rule("every blue moon")


def test_starter_calendar_has_the_required_days(content: ContentStore) -> None:
    found = occurrences(content.catalog, dt.date(2027, 1, 1), dt.date(2027, 12, 31), ZONE)
    days = {(o.campaign.id, o.day) for o in found}
    for expected in [
        ("school-safety-day", dt.date(2027, 3, 29)),
        ("national-security-day", dt.date(2027, 4, 15)),
        ("anti-drug-day", dt.date(2027, 6, 26)),
        ("fire-day", dt.date(2027, 11, 9)),
        ("constitution-day", dt.date(2027, 12, 4)),
    ]:
        assert expected in days
    assert sum(1 for cid, _ in days if cid == "summer-drowning") == 9


async def test_a_place_broadcast_reaches_exactly_the_subscribed_unblocked_residents(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with Bot(fake, tmp_path, content, database=database) as bot:
        ids = await add_residents(
            bot.storage,
            [
                (601, "hexi-village", True, False),
                (602, "hexi-village", True, False),
                (603, "hexi-village", False, False),  # unsubscribed from everything
                (604, "hexi-village", True, True),  # blocked the bot
                (605, "hexi-village", True, False),  # unsubscribed from the broadcast's topic
                (606, "qingshi-village", True, False),  # another village
            ],
        )
        await bot.storage.residents.set_topic_subscription(ids[605], "constitution", False)
        env = {**os.environ, "BOT_DB": database, "BOT_DATA_DIR": str(tmp_path), "BOT_CONTENT_DIR": str(CONTENT)}
        created = await cli(env, "broadcast", "send", "--item", "xf-xianfari", "--to", "place:hexi-village")
        assert created.returncode == 0, created.stderr
        broadcast_id = int(created.stdout.strip())
        await run_worker(bot)
        received = sorted(c.params["chat_id"] for c in fake.sent("sendMessage"))
        assert received == [601, 602]
        status = await cli(env, "broadcast", "status", str(broadcast_id), "--json")
        counts = json.loads(status.stdout)
        assert counts["status"] == "done"
        assert (counts["targeted"], counts["delivered"], counts["pending"], counts["failed"]) == (2, 2, 0, 0)
        assert counts["delivered"] == len(fake.sent("sendMessage"))
        assert (
            "宪法" in fake.sent("sendMessage")[0].params["text"]
            and "/unsubscribe" in fake.sent("sendMessage")[0].params["text"]
        )
        await bot.storage.flush()
        events = [(e.kind, e.broadcast_id, e.item_id, e.place_id) for e in await bot.storage.reach.events()]
        assert sorted(events) == [("broadcast", broadcast_id, "xf-xianfari", "hexi-village")] * 2


async def test_blocked_rate_limited_and_failing_recipients(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with Bot(fake, tmp_path, content, database=database) as bot:
        ids = await add_residents(bot.storage, [(700 + i, None, True, False) for i in range(6)])
        fake.blocked.add(701)
        fake.fail_next("sendMessage", 429, count=1, retry_after=1)
        broadcast_id = await bot.storage.broadcasts.create(
            "test", Audience(), int(time.time()), int(time.time()), text="测试提醒"
        )
        assert broadcast_id is not None
        started = time.monotonic()
        await run_worker(bot)
        assert time.monotonic() - started >= 1.0  # the retry_after was waited out
        progress = (await bot.storage.broadcasts.progress(broadcast_id)).as_dict()
        assert progress == {
            "targeted": 6,
            "pending": 0,
            "delivered": 5,
            "blocked": 1,
            "failed": 0,
            "cancelled": 0,
            "out_of_window": 0,
        }
        resident = await bot.storage.residents.get(ids[701])
        assert resident is not None and resident.blocked

        # An outage: every send answers 502. Nobody is marked blocked; all end failed, with the reason.
        fake.blocked.clear()
        fake.fail_next("sendMessage", 502, count=1000)
        outage = await bot.storage.broadcasts.create(
            "test", Audience(), int(time.time()), int(time.time()), text="第二条"
        )
        assert outage is not None
        await run_worker(bot, max_attempts=3)
        counts = (await bot.storage.broadcasts.progress(outage)).as_dict()
        assert counts["failed"] == 5 and counts["blocked"] == 0  # 701 is blocked, so not targeted again
        for user_id in (700, 702, 703, 704, 705):
            resident = await bot.storage.residents.get(ids[user_id])
            assert resident is not None and not resident.blocked
        rows = await bot.storage.db.fetchall(
            "SELECT reason, attempts FROM broadcast_recipients WHERE broadcast_id = ?", (outage,)
        )
        reasons = {row[0] for row in rows}
        attempts = {row[1] for row in rows}
        assert len(reasons) == 1 and "NetworkError" in next(iter(reasons)) and attempts == {3}


async def test_pacing_stays_under_the_servers_limit(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with Bot(fake, tmp_path, content, database=database) as bot:
        await add_residents(bot.storage, [(800 + i, None, True, False) for i in range(60)])
        fake.rate_limit = 30.0  # Telegram-like: more than 30 a second earns 429s
        broadcast_id = await bot.storage.broadcasts.create(
            "test", Audience(), int(time.time()), int(time.time()), text="节奏测试"
        )
        await run_worker(bot, rate=25.0)
        assert (await bot.storage.broadcasts.progress(broadcast_id)).as_dict()["delivered"] == 60
        assert not any(c.status == 429 for c in fake.calls)
        times = sorted(c.at for c in fake.sent("sendMessage"))
        assert times[-1] - times[0] >= 59 / 25 - 0.3  # evenly paced (0.2 s of catch-up allowed), not a burst


async def test_cancel_stops_a_scheduled_broadcast(storage: Storage) -> None:
    await add_residents(storage, [(900, None, True, False)])
    later = int(time.time()) + 3600
    broadcast_id = await storage.broadcasts.create("test", Audience(), later, int(time.time()), text="明天")
    assert broadcast_id is not None
    assert await storage.broadcasts.cancel(broadcast_id, int(time.time()))
    assert not await storage.broadcasts.cancel(broadcast_id, int(time.time()))
    assert await storage.broadcasts.claim_due("me", later + 1, 60, ["telegram"]) is None


async def test_a_campaign_fires_once_across_restarts_clock_changes_and_two_processes(
    database: str, tmp_path: Path, content: ContentStore
) -> None:
    campaign_at = dt.datetime(2026, 12, 4, 9, 0, tzinfo=ZONE).timestamp()
    clock = {"now": campaign_at - 60}  # one minute ahead

    async def scheduler_tick() -> list[int]:
        storage = await Storage.open(database, data_dir=tmp_path)  # a fresh process each time: nothing in memory
        try:
            return await CampaignScheduler(storage, content, ZONE, clock=lambda: clock["now"]).tick()
        finally:
            await storage.close()

    assert await scheduler_tick() == []  # not yet
    clock["now"] = campaign_at + 1
    first = await scheduler_tick()
    assert len(first) == 1
    assert await scheduler_tick() == []  # "restart": not again
    clock["now"] = campaign_at - 3600  # clock set back an hour, then forward again
    assert await scheduler_tick() == []
    clock["now"] = campaign_at + 30
    assert await asyncio.gather(scheduler_tick(), scheduler_tick()) == [[], []]  # two processes

    storage = await Storage.open(database, data_dir=tmp_path)
    broadcast = await storage.broadcasts.get(first[0])
    await storage.close()
    assert broadcast is not None and broadcast.occurrence == "constitution-day@2026-12-04"
    assert broadcast.campaign_id == "constitution-day" and broadcast.item_id == "xf-xianfari"
    assert broadcast.send_at == int(campaign_at)


async def test_admins_are_warned_ahead_when_campaign_content_expires(database: str, tmp_path: Path) -> None:
    import shutil

    directory = tmp_path / "content"
    shutil.copytree(CONTENT, directory)
    topic = directory / "topics" / "constitution.yaml"
    text = topic.read_text(encoding="utf-8")
    marker = "  - id: xf-xianfari\n"
    start = text.index(marker)
    end = text.index("    reviewed_on:", start)
    line_end = text.index("\n", end) + 1
    text = text[:line_end] + "    valid_until: 2026-12-01\n" + text[line_end:]
    topic.write_text(text, encoding="utf-8")
    content = ContentStore.load(directory, lambda: TODAY)
    storage = await Storage.open(database, data_dir=tmp_path)
    warnings: list[str] = []

    async def notify(message: str) -> None:
        warnings.append(message)

    now = dt.datetime(2026, 12, 2, 10, 0, tzinfo=ZONE).timestamp()
    scheduler = CampaignScheduler(storage, content, ZONE, notify, clock=lambda: now)
    await scheduler.tick()
    await scheduler.tick()
    await storage.close()
    assert len(warnings) == 1 and "国家宪法日" in warnings[0] and "xf-xianfari" in warnings[0]


async def test_every_admin_command_is_refused_to_residents(core: Core) -> None:
    resident = Chat(core, "nobody")
    await resident.say("/start")
    unknown = texts(await resident.say("/nosuchcommand"))
    for command in ("admin", "reload", "broadcast", "broadcasts"):
        refused = texts(await resident.say(f"/{command}"))
        assert refused == unknown.replace("nosuchcommand", command), command
    for payload in (
        "ar",
        "bn",
        "bs",
        "bl",
        "bx",
        "ba",
        "bp:hexi-village",
        "bo:anti-drug",
        "bt:anti-drug",
        "bi:xf-xianfari",
        "bg:1",
    ):
        assert "已经更新" in texts(await resident.press_payload(payload)), payload


async def test_admin_broadcast_dialog_previews_the_exact_count_and_queues(
    storage: Storage, content: ContentStore, database: str, tmp_path: Path
) -> None:
    settings = settings_for(
        database,
        tmp_path,
        content_dir=CONTENT,
        telegram_token=Secret("1:x"),
        admins=frozenset({__import__("bot.config", fromlist=["Identity"]).Identity("console", "boss")}),
    )
    core = Core(storage, content, settings, lambda: TODAY)
    await add_residents(
        storage,
        [
            (1001, "hexi-village", True, False),
            (1002, "hexi-village", True, False),
            (1003, "qingshi-village", True, False),
        ],
    )
    boss = Chat(core, "boss")
    await boss.say("/start")
    await boss.say("/broadcast")
    await boss.say("今晚七点村部放法治电影。")
    await boss.press("河西村")
    preview = await boss.press("下一步")
    assert "将发送给 2 人" in texts(preview) and "今晚七点村部放法治电影" in texts(preview)
    later = await boss.press("定时发送")
    assert "2026-12-04 09:00" in texts(later)
    done = await boss.say("2099-12-04 09:00")
    assert "已排定群发 #1" in texts(done) and "发送给 2 人" in texts(done)
    broadcast = await storage.broadcasts.get(1)
    assert broadcast is not None and broadcast.audience.places == ("hexi-village",)
    assert broadcast.text == "今晚七点村部放法治电影。" and broadcast.status == "scheduled"
    assert await storage.conversations.draft((await storage.residents.find("console", "boss")).id) is None  # type: ignore[union-attr]
    listing = texts(await boss.say("/broadcasts"))
    assert "#1 scheduled" in listing


@SQLITE_ONLY  # slow (9 s); on PostgreSQL a worker killed mid-broadcast is tests/test_county.py's
async def test_kill_9_mid_broadcast_then_restart_misses_nobody(
    fake: FakeTelegram, database: str, tmp_path: Path
) -> None:
    """Crash safety: at most the batch in flight (BROADCAST_BATCH) is sent twice; nobody is skipped."""
    storage = await Storage.open(database, data_dir=tmp_path)
    recipients = 150
    await add_residents(storage, [(20000 + i, None, True, False) for i in range(recipients)])
    broadcast_id = await storage.broadcasts.create(
        "test", Audience(), int(time.time()), int(time.time()), text="崩溃测试"
    )
    await storage.close()
    batch = 10
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "BOT_DB": database,
        "BOT_DATA_DIR": str(tmp_path),
        "BOT_CONTENT_DIR": str(CONTENT),
        "BROADCAST_RATE": "100",
        "BROADCAST_BATCH": str(batch),
        "BROADCAST_LEASE": "2",
    }
    fake.delay = 0.02

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    bot = start()
    await fake.wait_for(lambda f: len(f.sent("sendMessage")) >= 40, timeout=30)
    bot.kill()  # SIGKILL: no chance to write anything
    await asyncio.to_thread(bot.wait, 10)
    sent_before = len(fake.sent("sendMessage"))
    assert sent_before < recipients, "the broadcast finished before the kill; slow it down"

    bot = start()
    try:
        await fake.wait_for(
            lambda f: len({c.params["chat_id"] for c in f.sent("sendMessage")}) >= recipients, timeout=60
        )
        await asyncio.sleep(0.5)
    finally:
        bot.terminate()
        await asyncio.to_thread(bot.wait, 20)
    chats = [c.params["chat_id"] for c in fake.sent("sendMessage")]
    assert set(chats) == {20000 + i for i in range(recipients)}  # nobody missed
    duplicates = len(chats) - len(set(chats))
    assert duplicates <= batch  # the stated bound: one batch in flight
    storage = await Storage.open(database, data_dir=tmp_path)
    try:
        row = await storage.db.fetchone(
            "SELECT b.status, (SELECT COUNT(*) FROM broadcast_recipients r WHERE r.broadcast_id = b.id"
            " AND r.status = 'delivered') FROM broadcasts b WHERE b.id = ?",
            (broadcast_id,),
        )
        events = await storage.db.fetchvalue(
            "SELECT COUNT(DISTINCT resident_id) FROM reach_events WHERE broadcast_id = ?", (broadcast_id,)
        )
    finally:
        await storage.close()
    assert row is not None and (row[0], row[1], events) == ("done", recipients, recipients)


async def test_a_long_rate_limit_wait_does_not_let_another_worker_take_the_batch_over(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    """A 3 s retry_after inside a batch, with a 2 s lease: the lease is renewed while the batch waits, so a
    second worker never takes it over and nobody gets the broadcast twice."""
    async with Bot(fake, tmp_path, content, database=database) as bot:
        users = list(range(7000, 7040))
        for user in users:
            fake.user(user, f"U{user}")
        await add_residents(bot.storage, [(user, None, True, False) for user in users])
        broadcast_id = await bot.storage.broadcasts.create(
            "test", Audience(), int(time.time()), int(time.time()), item_id="xf-xianfari"
        )
        fake.fail_next("sendMessage", 429, retry_after=3)
        settings = BroadcastSettings(rate=200.0, backoff=0.01, lease=2, batch_size=20, poll_interval=0.1)
        first = BroadcastWorker(bot.storage, bot.content, {"telegram": bot.channel}, settings)
        second = BroadcastWorker(bot.storage, bot.content, {"telegram": bot.channel}, settings)

        async def finished() -> bool:
            broadcast = await bot.storage.broadcasts.get(broadcast_id)
            return broadcast is not None and broadcast.status == "done"

        async def drain(worker: BroadcastWorker, delay: float) -> None:
            await asyncio.sleep(delay)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not await finished():
                await worker.run_once()
                await asyncio.sleep(0.1)

        await asyncio.gather(drain(first, 0), drain(second, 2.5))
        per_user = {user: len(fake.sent("sendMessage", chat_id=user)) for user in users}
        assert set(per_user.values()) == {1}, {u: n for u, n in per_user.items() if n != 1}
        await bot.storage.flush()
        assert await bot.storage.reach.count(kind="broadcast", broadcast_id=broadcast_id) == len(users)
        assert (await bot.storage.broadcasts.progress(broadcast_id)).as_dict()["delivered"] == len(users)


async def test_outcomes_recorded_twice_or_after_a_cancel_keep_events_equal_to_deliveries(storage: Storage) -> None:
    from bot.storage import Outcome, ReachEvent

    for user in range(10):
        await storage.residents.get_or_create("telegram", str(8000 + user), "U", "zh-CN")
    now = int(time.time())
    broadcast_id = await storage.broadcasts.create("test", Audience(), now, now, text="通知")
    assert broadcast_id is not None
    await storage.broadcasts.claim_due("me", now, 30, ["telegram"])
    batch = await storage.broadcasts.pending(broadcast_id, 5)

    def delivered(recipients: list) -> tuple[list[Outcome], list[ReachEvent]]:
        outcomes = [Outcome(r.resident_id, "delivered") for r in recipients]
        events = [ReachEvent(r.resident_id, "telegram", "broadcast", broadcast_id=broadcast_id) for r in recipients]
        return outcomes, events

    assert len(await storage.broadcasts.record(broadcast_id, *delivered(batch), now)) == 5
    assert await storage.broadcasts.record(broadcast_id, *delivered(batch), now) == []  # a taken-over batch
    in_flight = await storage.broadcasts.pending(broadcast_id, 5)
    assert await storage.broadcasts.cancel(broadcast_id, now)
    await storage.broadcasts.record(broadcast_id, *delivered(in_flight), now)  # sent while the admin cancelled
    counts = (await storage.broadcasts.progress(broadcast_id)).as_dict()
    events = await storage.reach.count(kind="broadcast", broadcast_id=broadcast_id)
    assert (counts["delivered"], counts["cancelled"], events) == (10, 0, 10)


async def test_a_worker_whose_rounds_keep_failing_backs_off_and_logs_once(
    storage: Storage, content: ContentStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A database refusing writes used to log a traceback every second, forever."""
    rounds: list[float] = []

    def failing_tick() -> None:
        rounds.append(time.monotonic())
        raise OSError("database or disk is full")

    worker = BroadcastWorker(storage, content, {}, BroadcastSettings(poll_interval=0.02), on_tick=failing_tick)
    with caplog.at_level("WARNING", logger="bot.broadcasting.worker"):
        worker.start()
        await asyncio.sleep(0.7)
        await worker.stop()
    # Without backoff 0.7 s at a 0.02 s poll would be ~35 rounds; doubling waits allow about six.
    assert 3 <= len(rounds) <= 8
    gaps = [later - earlier for earlier, later in itertools.pairwise(rounds)]
    assert gaps[-1] > 3 * gaps[0]
    failures = [r for r in caplog.records if "round failed" in r.getMessage() or "still failing" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
