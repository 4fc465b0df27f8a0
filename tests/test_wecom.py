"""The WeCom channel end to end: encrypted callbacks built here, the fake WeCom API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.broadcasting.worker import BroadcastSettings, BroadcastWorker
from bot.channels.http import WebServer
from bot.channels.wecom.adapter import WeComChannel
from bot.channels.wecom.crypto import WeComCrypto, signature
from bot.config import Secret
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.storage import Audience, Storage

from .conftest import CONTENT, TODAY, settings_for
from .fakes.wecom_api import FakeWeCom
from .test_wecom_crypto import AES_KEY, CORP_ID, ECHO, TOKEN

AGENT = 1000002


class WeComBot:
    """The WeCom channel on `database` (the `database` fixture's SQLite path or PostgreSQL URL), else on a SQLite
    file in `tmp_path`."""

    def __init__(
        self,
        fake: FakeWeCom,
        tmp_path: Path,
        content: ContentStore,
        replay_window: int = 300,
        database: str | None = None,
    ) -> None:
        self.fake = fake
        self.data_dir = tmp_path
        self.settings = settings_for(
            database or str(tmp_path / "bot.sqlite3"),
            tmp_path,
            content_dir=CONTENT,
            wecom_corp_id=CORP_ID,
            wecom_agent_id=AGENT,
            wecom_secret=Secret(fake.secret),
            wecom_token=Secret(TOKEN),
            wecom_aes_key=Secret(AES_KEY),
            wecom_api_base_url=fake.base_url,
            wecom_replay_window=replay_window,
        )
        self.content = content
        self.crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)

    async def __aenter__(self) -> WeComBot:
        self.storage = await Storage.open(self.settings.database, flush_interval=0.05, data_dir=self.data_dir)
        self.core = Core(self.storage, self.content, self.settings, lambda: TODAY)
        self.channel = WeComChannel(self.core, self.settings)
        self.server = WebServer("127.0.0.1", 0)
        self.channel.routes(self.server)
        await self.channel.start()
        await self.server.start()
        self.url = f"http://127.0.0.1:{self.server.port}{self.settings.wecom_callback_path}"
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        await self.server.stop()
        await self.channel.stop()
        await self.storage.close()

    async def post(
        self, inner_xml: str, timestamp: str | None = None, forge: bool = False, crypto: WeComCrypto | None = None
    ) -> int:
        timestamp = timestamp or str(int(time.time()))
        encrypted = (crypto or self.crypto).encrypt(inner_xml)
        sig = "0" * 40 if forge else signature(TOKEN, timestamp, "12345", encrypted)
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<AgentID><![CDATA[{AGENT}]]></AgentID></xml>"
        )
        params = {"msg_signature": sig, "timestamp": timestamp, "nonce": "12345"}
        async with self.session.post(self.url, params=params, data=body.encode()) as response:
            assert await response.text() in ("", "forbidden", "bad request", "too large")
            return response.status

    async def text(self, user: str, content: str, msg_id: int) -> int:
        now = int(time.time())
        return await self.post(
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]>"
            f"</FromUserName><CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>"
            f"<AgentID>{AGENT}</AgentID></xml>"
        )

    async def press(self, user: str, key: str, create_time: int | None = None) -> int:
        now = time.time()
        return await self.post(
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{create_time or int(now)}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
            f"<TaskId><![CDATA[t{now}]]></TaskId><AgentID>{AGENT}</AgentID></xml>"
        )


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWeCom]:
    fake = FakeWeCom(corp_id=CORP_ID)
    await fake.start()
    yield fake
    await fake.stop()


def contents(fake: FakeWeCom, user: str) -> list[str]:
    found = []
    for body in fake.sent_to(user):
        if body["msgtype"] == "text":
            found.append(body["text"]["content"])
        elif body["msgtype"] == "template_card":
            card = body["template_card"]
            found.append(" ".join(b["text"] + "=" + b["key"] for b in card["button_list"]))
    return found


async def test_url_verification_with_tencents_vector(
    wecom: FakeWeCom, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with WeComBot(wecom, tmp_path, content, replay_window=0, database=database) as bot:
        params = {
            "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
            "timestamp": "1476416373",
            "nonce": "47744683",
            "echostr": ECHO,
        }
        async with bot.session.get(bot.url, params=params) as response:
            assert response.status == 200 and await response.text() == "1288432023552776189"
        async with bot.session.get(bot.url, params={**params, "msg_signature": "0" * 40}) as response:
            assert response.status == 403


async def test_first_message_welcome_button_flow_and_a_retried_callback(
    wecom: FakeWeCom, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with WeComBot(wecom, tmp_path, content, database=database) as bot:
        started = time.monotonic()
        assert await bot.text("zhangsan", "你好", 1001) == 200
        await wecom.wait_sent(2)
        assert time.monotonic() - started < 1.0  # the welcome within a second
        sent = contents(wecom, "zhangsan")
        assert "您好，zhangsan" in sent[0] and "已订阅" in sent[0]
        assert await bot.text("zhangsan", "你好", 1001) == 200  # WeCom retrying the same MsgId
        await asyncio.sleep(0.3)
        assert len(contents(wecom, "zhangsan")) == len(sent)  # no second reply

        # the place picker has more buttons than a card holds: a numbered menu answered by number
        menu = next(text for text in contents(wecom, "zhangsan") if "1. 🏡 青石村" in text)
        assert "跳过" in menu
        await bot.text("zhangsan", "2", 1002)
        await wecom.wait_sent(len(sent) + 2)
        assert any("已设置为：河西村" in text for text in contents(wecom, "zhangsan"))

        pressed_at = int(time.time())
        await bot.press("zhangsan", "t:anti-fraud", pressed_at)  # a card button's key is the core's payload
        fraud = content.catalog.topic("anti-fraud")
        assert fraud is not None
        await wecom.wait_sent(len(wecom.sent()) + 1)
        await asyncio.sleep(0.2)
        assert any(fraud.tips[0].title in text for text in contents(wecom, "zhangsan"))
        await bot.press("zhangsan", "t:anti-fraud", pressed_at)  # same sender, time and key: a retry, ignored
        await bot.press("zhangsan", f"tp:{fraud.tips[1].id}")
        await asyncio.sleep(0.3)
        await bot.storage.flush()
        tips = [e for e in await bot.storage.reach.events() if e.kind == "tip"]
        assert [(e.channel, e.item_id, e.place_id) for e in tips] == [
            ("wecom", fraud.tips[0].id, "hexi-village"),
            ("wecom", fraud.tips[1].id, "hexi-village"),
        ]


async def test_a_quiz_through_card_events(
    wecom: FakeWeCom, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with WeComBot(wecom, tmp_path, content, database=database) as bot:
        await bot.text("lisi", "/quiz 宪法", 2001)
        for step in range(5):
            await wecom.wait_sent(2 * step + 2)
            await asyncio.sleep(0.1)
            card = next(b for b in reversed(wecom.sent_to("lisi")) if b["msgtype"] == "template_card")
            keys = [b["key"] for b in card["template_card"]["button_list"]]
            assert all(key.startswith("qa:") for key in keys) and 2 <= len(keys) <= 4
            await bot.press("lisi", keys[0])
        await asyncio.sleep(0.5)
        assert any("答题完成" in text for text in contents(wecom, "lisi"))
        await bot.storage.flush()
        assert await bot.storage.reach.count(kind="quiz_answer", channel="wecom") == 5


async def test_forged_stale_foreign_and_malformed_callbacks_are_refused(
    wecom: FakeWeCom, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with WeComBot(wecom, tmp_path, content, database=database) as bot:
        hello = (
            "<xml><FromUserName>eve</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
            "<Content>hi</Content><MsgId>9</MsgId></xml>"
        )
        assert await bot.post(hello, forge=True) == 403
        assert await bot.post(hello, timestamp=str(int(time.time()) - 3600)) == 403  # outside the replay window
        assert await bot.post(hello, crypto=WeComCrypto(TOKEN, AES_KEY, "ww-another-corp")) == 403
        async with bot.session.post(
            bot.url,
            params={"msg_signature": "x", "timestamp": str(int(time.time())), "nonce": "1"},
            data=b"<xml><not-closed>",
        ) as response:
            assert response.status == 400
        async with bot.session.post(bot.url, data=b"<xml>" + b"a" * 100_000 + b"</xml>") as response:
            assert response.status == 413
        bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'
        async with bot.session.post(
            bot.url, params={"msg_signature": "x", "timestamp": str(int(time.time())), "nonce": "1"}, data=bomb
        ) as response:
            assert response.status == 400  # defusedxml refuses entity declarations
        await asyncio.sleep(0.2)
        assert wecom.sent() == []  # nothing reached the core


async def test_an_expired_token_is_refreshed_once(
    wecom: FakeWeCom, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with WeComBot(wecom, tmp_path, content, database=database) as bot:
        await bot.text("wangwu", "/help", 3001)
        await wecom.wait_sent(1)
        assert wecom.tokens_issued == 1
        await bot.text("wangwu", "/tip", 3002)
        await wecom.wait_sent(2)
        assert wecom.tokens_issued == 1  # never a gettoken per message
        wecom.expire_tokens()
        await bot.text("wangwu", "/help", 3003)
        await wecom.wait_sent(3)
        assert wecom.tokens_issued == 2


async def test_one_broadcast_reaches_both_channels_and_stats_report_both(
    wecom: FakeWeCom, fake: object, tmp_path: Path, content: ContentStore, database: str
) -> None:
    from .test_telegram import Bot

    telegram_bot = Bot(fake, tmp_path, content, database=database)  # type: ignore[arg-type]
    async with telegram_bot:
        storage = telegram_bot.storage
        for user in ("wu1", "wu2", "bad-user"):
            await storage.residents.get_or_create("wecom", user, user, "zh-CN")
        for user in (801, 802):
            await storage.residents.get_or_create("telegram", str(user), "T", "zh-CN")
        wecom.invalid_users.add("bad-user")
        settings = dataclasses.replace(
            telegram_bot.settings,
            wecom_corp_id=CORP_ID,
            wecom_agent_id=AGENT,
            wecom_secret=Secret(wecom.secret),
            wecom_token=Secret(TOKEN),
            wecom_aes_key=Secret(AES_KEY),
            wecom_api_base_url=wecom.base_url,
        )
        channel = WeComChannel(telegram_bot.core, settings)
        await channel.start()
        try:
            worker = BroadcastWorker(
                storage,
                content,
                {"telegram": telegram_bot.channel, "wecom": channel},
                BroadcastSettings(rate=100.0),
            )
            broadcast_id = await storage.broadcasts.create(
                "test", Audience(), int(time.time()), int(time.time()), item_id="xf-xianfari"
            )
            while await worker.run_once():
                pass
        finally:
            await channel.stop()
        counts = (await storage.broadcasts.progress(broadcast_id)).as_dict()
        assert (counts["targeted"], counts["delivered"], counts["failed"]) == (5, 4, 1)
        wecom_calls = [b for b in wecom.sent() if b["msgtype"] == "text"]
        assert len(wecom_calls) == 1 and set(wecom_calls[0]["touser"].split("|")) == {"wu1", "wu2", "bad-user"}
        from bot.reporting.statistics import Period, Reach, collect

        today = dt_today()
        figures = await collect(storage, content.catalog, Period(today, today, settings.zone))
        two = Reach(deliveries=2, reached=2)
        assert figures.by["channel"] == {"telegram": two, "wecom": two}


def dt_today():  # type: ignore[no-untyped-def]
    import datetime as dt
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def test_a_frequency_limit_is_backed_off_and_retried(
    wecom: FakeWeCom, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with WeComBot(wecom, tmp_path, content, database=database) as bot:
        wecom.fail_next("/cgi-bin/message/send", 45009)
        await bot.text("sunqi", "/help", 4001)
        sent = await wecom.wait_sent(1, timeout=10)
        assert "/quiz" in sent[0]["text"]["content"]
        statuses = [c.response.get("errcode") for c in wecom.calls if c.path == "/cgi-bin/message/send"]
        assert statuses == [45009, 0]


async def test_images_and_documents_go_as_uploaded_media(
    wecom: FakeWeCom, tmp_path: Path, content: ContentStore, database: str
) -> None:
    from bot.core.events import Document, Image

    from .test_core_dialogs import tiny_png

    async with WeComBot(wecom, tmp_path, content, database=database) as bot:
        picture = tmp_path / "certificate.png"
        picture.write_bytes(tiny_png())
        assert await bot.channel.send("qianba", Image(picture, caption="恭喜"))
        assert await bot.channel.send("qianba", Document("台账.xlsx", b"PK\x03\x04data", caption="导出"))
        kinds = [body["msgtype"] for body in wecom.sent_to("qianba")]
        assert kinds == ["image", "text", "file", "text"]
        uploads = {media["type"]: media for media in wecom.media.values()}
        assert uploads["image"]["data"] == tiny_png() and uploads["file"]["filename"] == "台账.xlsx"


async def test_a_text_and_image_broadcast_reaches_wecom_residents(
    wecom: FakeWeCom, tmp_path: Path, content: ContentStore, database: str
) -> None:
    """Replies and broadcasts share one renderer: the image goes as uploaded media (uploaded once for the
    whole broadcast), the text after it, and no empty text that WeCom would refuse (44004)."""
    from PIL import Image as PILImage

    picture = tmp_path / "poster.png"
    PILImage.new("RGB", (40, 30), "red").save(picture)
    async with WeComBot(wecom, tmp_path, content, database=database) as bot:
        for user in ("wu1", "wu2", "wu3"):
            await bot.storage.residents.get_or_create("wecom", user, user, "zh-CN")
        worker = BroadcastWorker(
            bot.storage, content, {"wecom": bot.channel}, BroadcastSettings(rate=100.0, batch_size=2)
        )
        broadcast_id = await bot.storage.broadcasts.create(
            "test", Audience(), int(time.time()), int(time.time()), text="今晚村委会放映普法电影", image=str(picture)
        )
        while await worker.run_once():
            pass
        counts = (await bot.storage.broadcasts.progress(broadcast_id)).as_dict()
        assert (counts["delivered"], counts["failed"]) == (3, 0)
        sends = [c.response.get("errcode") for c in wecom.calls if c.path.endswith("message/send")]
        assert sends == [0] * 6  # two batches × (image, text, menu card): nothing refused
        uploads = [c for c in wecom.calls if c.path.endswith("media/upload")]
        assert len(uploads) == 1  # two batches, one upload
        for user in ("wu1", "wu2", "wu3"):
            kinds = [m["msgtype"] for m in wecom.sent_to(user)]
            assert kinds == ["image", "text", "template_card"]
        assert any("今晚村委会放映普法电影" in text for text in contents(wecom, "wu3"))
        await bot.storage.flush()
        assert await bot.storage.reach.count(kind="broadcast", broadcast_id=broadcast_id) == 3
