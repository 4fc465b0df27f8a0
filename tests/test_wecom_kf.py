"""微信客服 end to end: a real `python -m bot run` against the fake kf API (tests/fakes/wecom_kf_api.py).

A resident enters through a village's code, is welcomed and registered there, asks a question, takes a quiz by
menu clicks; a broadcast reaches the one inside their window, is out_of_window for one who never wrote (and
follows their next message), and fails for one a person is serving; the statistics count exactly what was sent.
No resident ever gets more than five messages within 48 hours of their last one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot.broadcasting.worker import BroadcastSettings, BroadcastWorker
from bot.channels.wecom.crypto import WeComCrypto
from bot.channels.wecom_kf.adapter import KfChannel
from bot.config import Identity, Secret
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.core.events import Image, Text
from bot.core.sending import SendStatus
from bot.storage import Audience, Storage
from bot.storage.stats import Span

from .conftest import CONTENT, REPO, TODAY, settings_for
from .fakes.wecom_kf_api import FakeWeComKf, post_callback
from .helpers import SQLITE_ONLY

KF_TOKEN = "kfTokenForTests"
KF_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PATH = "/wecom/kf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bot:
    """`python -m bot run` serving 微信客服 only, and the CLI on the same database: `database` (the `database`
    fixture's SQLite path or PostgreSQL URL), else a SQLite file in `tmp_path`."""

    def __init__(self, fake: FakeWeComKf, tmp_path: Path, database: str | None = None) -> None:
        self.fake = fake
        self.port = free_port()
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "WECOM_CORP_ID": fake.corp_id,
            "WECOM_SECRET": fake.secret,
            "WECOM_API_BASE_URL": fake.base_url,
            "WECOM_KF_OPEN_KFID": fake.open_kfid,
            "WECOM_KF_TOKEN": KF_TOKEN,
            "WECOM_KF_AES_KEY": KF_AES_KEY,
            "WECOM_KF_LISTEN": f"127.0.0.1:{self.port}",
            "BOT_DB": database or str(tmp_path / "bot.sqlite3"),
            "BOT_DATA_DIR": str(tmp_path),
            "BOT_CONTENT_DIR": str(CONTENT),
            "BOT_LOG_LEVEL": "INFO",
            "BROADCAST_LEASE": "30",
            "PYTHONFAULTHANDLER": "1",
        }
        self.crypto = WeComCrypto(KF_TOKEN, KF_AES_KEY, fake.corp_id)
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self.process: subprocess.Popen[str] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once
            [sys.executable, "-m", "bot", "run"],
            env=self.env,
            cwd=self.tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(self.process.stderr.read() if self.process.stderr else "bot exited")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                await asyncio.sleep(0.1)
        raise AssertionError("the bot's kf callback server did not come up")

    async def stop(self) -> str:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(self.process.wait, 20)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack to stderr
            code = await asyncio.to_thread(self.process.wait, 10)
        stderr = self.process.stderr.read() if self.process.stderr else ""
        print(stderr[-20000:])  # shown when a test fails: what the bot logged
        assert code == 0, stderr
        return stderr

    async def notify(self) -> None:
        """What WeCom does after anything happens: a callback that says "pull"."""
        async with aiohttp.ClientSession() as session:
            status, _ = await post_callback(session, self.url, self.crypto, self.fake.callback_plaintext())
        assert status == 200

    async def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "bot", *args], env=self.env, cwd=REPO, capture_output=True, text=True
        )


async def until(check: Callable[[], object], timeout: float = 10.0, shown: object = None) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time; {shown() if callable(shown) else ''}")
        await asyncio.sleep(0.05)


def menu_items(body: dict) -> dict[str, str]:
    """content → click id of a msgmenu message."""
    if body.get("msgtype") != "msgmenu":
        return {}
    items = body["msgmenu"]["list"]
    return {item["click"]["content"]: item["click"]["id"] for item in items if item["type"] == "click"}


def text_of(body: dict) -> str:
    if body.get("msgtype") == "text":
        return body["text"]["content"]
    if body.get("msgtype") == "msgmenu":
        menu = body["msgmenu"]
        items = " ".join(i["click"]["content"] for i in menu["list"] if i["type"] == "click")
        return f"{menu.get('head_content', '')} {items} {menu.get('tail_content', '')}"
    return ""


@pytest.fixture
async def kf() -> AsyncIterator[FakeWeComKf]:
    fake = FakeWeComKf()
    await fake.start()
    yield fake
    await fake.stop()


async def test_a_village_resident_end_to_end_within_the_budget(kf: FakeWeComKf, database: str, tmp_path: Path) -> None:
    bot = Bot(kf, tmp_path, database)
    await bot.start()
    try:
        # 1. Enters through 河西村's code: welcomed in one message, registered to 河西村 without being asked.
        assert kf.customer_enters("wmAnn", scene="hexi-village")
        await bot.notify()
        await until(lambda: kf.welcomes_to("wmAnn"))
        (welcome,) = kf.welcomes_to("wmAnn")
        assert "河西村" in text_of(welcome) and menu_items(welcome)

        # 2. A question in her own words: the tip with its source.
        kf.customer_says("wmAnn", "有人叫我刷单赚佣金，说先垫钱再返，靠谱吗")
        await bot.notify()
        await until(lambda: any("依据" in text_of(b) for b in kf.sent_to("wmAnn", via="send_msg")))

        # 3. A quiz by menu clicks: the quiz button, a topic, then five questions answered by their first option.
        before = len(kf.sent_to("wmAnn"))
        quiz = next(click for label, click in menu_items(welcome).items() if "答题" in label)
        kf.customer_says("wmAnn", "答题", menu_id=quiz)
        await bot.notify()
        await until(lambda: len(kf.sent_to("wmAnn")) > before)
        # Eleven choices are more than a msgmenu holds: a numbered menu, answered with the number.
        chooser = text_of(kf.sent_to("wmAnn")[-1])
        assert not menu_items(kf.sent_to("wmAnn")[-1])
        number = next(line.split(".")[0] for line in chooser.splitlines() if "宪法" in line and "." in line)
        kf.customer_says("wmAnn", number)
        await bot.notify()
        for step in range(1, 6):
            await until(
                lambda step=step: any(f"第 {step}/5 题" in text_of(b) for b in kf.sent_to("wmAnn")[before:]),
                shown=lambda: [text_of(b)[-300:] for b in kf.sent_to("wmAnn")[before:]],
            )
            question = next(b for b in reversed(kf.sent_to("wmAnn")) if f"第 {step}/5 题" in text_of(b))
            label, click = next(iter(menu_items(question).items()))
            kf.customer_says("wmAnn", label, menu_id=click)
            await bot.notify()
        await until(lambda: any("答题完成" in text_of(b) for b in kf.sent_to("wmAnn")[before:]), timeout=15)
        assert kf.max_in_window() <= 5

        # 4. A broadcast: Ann is inside her window; Bo entered but never wrote (out of window); Cai is being
        #    served by a person (the bot must not interject: failed, never delivered).
        assert kf.customer_enters("wmBo", scene="qingshi-village")
        await bot.notify()
        await until(lambda: kf.welcomes_to("wmBo"))
        kf.customer_says("wmCai", "你好")
        await bot.notify()
        await until(lambda: kf.sent_to("wmCai"))
        kf.set_state("wmCai", 3)
        sent = await bot.cli("broadcast", "send", "--text", "宪法日到了，记得学宪法", "--to", "all")
        assert sent.returncode == 0, sent.stderr
        broadcast_id = sent.stdout.split("#")[1].split()[0] if "#" in sent.stdout else "1"

        async def status() -> dict:
            shown = await bot.cli("broadcast", "status", broadcast_id, "--json")
            assert shown.returncode == 0, shown.stderr
            return json.loads(shown.stdout)

        deadline = time.monotonic() + 20
        while (progress := await status())["status"] != "done" and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.3)
        assert progress["delivered"] == 1 and progress["out_of_window"] == 1 and progress["failed"] == 1, progress
        assert any("宪法日到了" in text_of(b) for b in kf.sent_to("wmAnn"))
        assert not any("宪法日到了" in text_of(b) for b in kf.sent_to("wmBo") + kf.sent_to("wmCai"))

        # 5. Bo writes: the reply, then the broadcast he missed, counted now.
        kf.customer_says("wmBo", "禁毒")
        await bot.notify()
        await until(lambda: any("宪法日到了" in text_of(b) for b in kf.sent_to("wmBo")))
        deadline = time.monotonic() + 10
        while (progress := await status())["delivered"] != 2 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.3)
        assert progress["delivered"] == 2 and progress["out_of_window"] == 0, progress
        assert kf.max_in_window() <= 5

        # 6. Forged callbacks are refused, as on the WeCom app channel.
        async with aiohttp.ClientSession() as session:
            status_code, _ = await post_callback(session, bot.url, bot.crypto, kf.callback_plaintext(), forge=True)
        assert status_code == 403
    finally:
        await bot.stop()

    # 7. The statistics count exactly what was sent: 2 broadcast deliveries on 微信客服, never the out-of-window one.
    figures = await bot.cli("stats", "--json")
    assert figures.returncode == 0, figures.stderr
    data = json.loads(figures.stdout)
    assert data["broadcasts"]["delivered"] == 2 and data["broadcasts"]["out_of_window"] == 0
    assert data["broadcasts"]["failed"] == 1 and data["broadcasts"]["targeted"] == 3
    # Every delivery this test saw was on 微信客服, and the reach log holds exactly the two broadcasts sent.
    assert set(data["by_channel"]) == {"wecom_kf"}
    broadcasts_sent = sum("宪法日到了" in text_of(b) for uid in ("wmAnn", "wmBo", "wmCai") for b in kf.sent_to(uid))
    assert broadcasts_sent == 2
    report = await bot.cli("stats")
    assert "微信客服" in report.stdout, report.stdout


# -- in one process: the channel against the fake, for the rules one at a time ---------------------------------


@pytest.fixture
async def channel(kf: FakeWeComKf, database: str, tmp_path: Path) -> AsyncIterator[tuple[KfChannel, Storage]]:
    settings = settings_for(
        database,
        tmp_path,
        content_dir=CONTENT,
        wecom_corp_id=kf.corp_id,
        wecom_secret=Secret(kf.secret),
        wecom_api_base_url=kf.base_url,
        wecom_kf_open_kfid=kf.open_kfid,
        wecom_kf_token=Secret(KF_TOKEN),
        wecom_kf_aes_key=Secret(KF_AES_KEY),
    )
    storage = await Storage.open(database, data_dir=tmp_path)
    core = Core(storage, ContentStore.load(CONTENT, lambda: TODAY), settings, lambda: TODAY)
    kf_channel = KfChannel(core, settings)
    await kf_channel.start()
    yield kf_channel, storage
    await kf_channel.stop()
    await storage.close()


async def pull(kf: FakeWeComKf, channel: KfChannel) -> None:
    callback = kf.pending_callback()
    await channel.pull(callback.token if callback else None)
    while channel._tasks:  # the handlers it started
        await asyncio.gather(*list(channel._tasks))


async def test_a_turn_never_exceeds_the_window_and_says_how_to_get_the_rest(
    kf: FakeWeComKf, channel: tuple[KfChannel, Storage], tmp_path: Path
) -> None:
    from PIL import Image as PILImage

    bot, _ = channel
    kf.customer_says("wmDan", "你好")
    await pull(kf, bot)
    who = Identity("wecom_kf", "wmDan")
    used = len(kf.sent_to("wmDan"))
    assert used >= 1
    # Use up all but one of the five, then a turn of two replies with an image between them (three messages).
    for number in range(4 - used):  # all but one of the five used
        assert all(r.delivered for r in await bot.send_turn(who, [Text(f"提醒 {number}")]))
    picture = tmp_path / "leaflet.png"
    PILImage.new("RGB", (40, 40), "white").save(picture)
    results = await bot.send_turn(who, [Text("第一段"), Image(picture, caption="图"), Text("第三段")])
    assert [r.delivered for r in results] == [True, False, False], results
    assert results[1].status is SendStatus.OUT_OF_WINDOW
    assert kf.max_in_window() == 5
    last = kf.sent_to("wmDan")[-1]
    assert "回我一句话" in text_of(last)
    # Nothing more until they write again; then the five are theirs again.
    assert not any(r.delivered for r in await bot.send_turn(who, [Text("再来一条")]))
    kf.customer_says("wmDan", "好的")
    await pull(kf, bot)
    assert kf.max_in_window() <= 5 and any("好的" not in text_of(b) for b in kf.sent_to("wmDan")[5:])


async def test_the_bot_stays_silent_while_a_person_serves(kf: FakeWeComKf, channel: tuple[KfChannel, Storage]) -> None:
    bot, _ = channel
    kf.customer_says("wmEve", "你好")
    await pull(kf, bot)
    replies_before = len(kf.sent_to("wmEve"))
    kf.set_state("wmEve", 3)
    kf.customer_says("wmEve", "我想找人工")
    await pull(kf, bot)
    assert len(kf.sent_to("wmEve")) == replies_before
    assert not kf.refusals(path="/cgi-bin/kf/send_msg")  # silent by choice, not refused by WeCom


async def test_history_and_repeats_are_not_answered(kf: FakeWeComKf, channel: tuple[KfChannel, Storage]) -> None:
    bot, storage = channel
    kf.add_history("wmFay", "两天前的问题", at=kf.now - 2 * 86400)
    kf.customer_says("wmFay", "刷单")
    await pull(kf, bot)
    assert len(kf.sent_to("wmFay")) == 1  # the old message is history, not a question to answer days later
    await storage.windows.save_cursor(f"kf:{kf.open_kfid}", "")  # as if the cursor were lost: pulled again
    await pull(kf, bot)
    assert len(kf.sent_to("wmFay")) == 1  # each msgid is answered once


async def test_replayed_and_malformed_callbacks_are_refused(kf: FakeWeComKf, database: str, tmp_path: Path) -> None:
    bot = Bot(kf, tmp_path, database)
    await bot.start()
    try:
        kf.customer_says("wmGus", "你好")
        old = str(int(time.time()) - 3600)
        async with aiohttp.ClientSession() as session:
            replayed, _ = await post_callback(session, bot.url, bot.crypto, kf.callback_plaintext(), timestamp=old)
            fresh = {"timestamp": str(int(time.time())), "nonce": "1", "msg_signature": "0" * 40}
            async with session.post(bot.url, params=fresh, data=b"<xml>not encrypted</xml>") as response:
                malformed = response.status
        assert replayed == 403 and malformed == 400
        await asyncio.sleep(0.5)
        assert not kf.sent_to("wmGus")
    finally:
        await bot.stop()


@SQLITE_ONLY  # the posters come from the content and WeCom's links, not from the database; slow
async def test_posters_for_every_place_decode_to_their_entry_links(
    kf: FakeWeComKf, database: str, tmp_path: Path
) -> None:
    import zxingcpp
    from PIL import Image as PILImage

    bot = Bot(kf, tmp_path, database)
    out = tmp_path / "posters"
    result = await bot.cli("kf", "poster", "--all", "--out", str(out))
    assert result.returncode == 0, result.stderr
    catalog = ContentStore.load(CONTENT, lambda: TODAY).catalog
    links = {way["scene"]: way["url"] for way in kf.contact_ways}
    assert set(links) == {place.id for place in catalog.places}
    for place in catalog.places:
        with PILImage.open(out / f"{place.id}.png") as poster:
            (code,) = zxingcpp.read_barcodes(poster)
        assert code.text == links[place.id]
        assert (out / f"{place.id}.pdf").read_bytes().startswith(b"%PDF")


async def test_kf_stats_prints_wecoms_figures_beside_ours(kf: FakeWeComKf, database: str, tmp_path: Path) -> None:
    bot = Bot(kf, tmp_path, database)
    china = ZoneInfo("Asia/Shanghai")  # WeCom's days and the town's (BOT_TIMEZONE's default)
    day = dt.datetime.fromtimestamp(kf.now, china).date() - dt.timedelta(days=2)
    kf.add_history("wmHal", "前天的问题", at=dt.datetime.combine(day, dt.time(12), china).timestamp())
    result = await bot.cli("kf", "stats", "--from", str(day), "--to", str(day))
    assert result.returncode == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if line.startswith(str(day))]
    assert row.split()[1:4] == ["1", "1", "1"]  # sessions, customers, customer messages


async def test_a_message_wecom_later_reports_undelivered_is_not_counted(
    kf: FakeWeComKf, channel: tuple[KfChannel, Storage]
) -> None:
    bot, storage = channel
    kf.customer_says("wmIda", "有人叫我刷单赚佣金，说先垫钱再返，靠谱吗")
    await pull(kf, bot)
    await storage.flush()
    answers = [e for e in await storage.reach.events() if e.kind == "answer"]
    assert [e.item_id for e in answers] == ["fz-shuadan"]
    # A broadcast delivered to her, then both messages reported undelivered (she refused them).
    await storage.broadcasts.create("t", Audience(), int(time.time()), int(time.time()), text="宪法日快乐")
    worker = BroadcastWorker(storage, bot.core.content, {"wecom_kf": bot}, BroadcastSettings(rate=1000.0))
    while await worker.run_once():
        pass
    assert (await storage.broadcasts.progress(1)).counts == {"delivered": 1}
    for body in [d for d in kf.deliveries if d.external_userid == "wmIda" and d.via == "send_msg"]:
        kf.fail_delivery(body.msgid, fail_type=10)
    await pull(kf, bot)
    await storage.flush()
    events = await storage.reach.events()
    assert [e for e in events if e.kind in ("answer", "broadcast") and e.channel == "wecom_kf"] == []
    assert (await storage.broadcasts.progress(1)).counts == {"failed": 1}
    today = dt.datetime.now(UTC).date()  # the events carry the real time
    totals = await storage.stats.totals(Span.of(today - dt.timedelta(days=1), today + dt.timedelta(days=1), UTC))
    assert totals.deliveries == 0
