"""The Telegram channel: the real PTB Application against the fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.channels.http import WebServer, telegram_webhook_handler
from bot.channels.telegram.adapter import RetryPolicy, TelegramChannel, file_base_url
from bot.channels.telegram.conversation import Conversation
from bot.config import Identity, Secret
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.core.events import Text
from bot.storage import Storage

from .conftest import CONTENT, TODAY, settings_for
from .fakes.telegram_api import FakeTelegram
from .helpers import SQLITE_ONLY


def button(message: dict, label: str) -> str:
    """The callback data of the button whose label contains `label`."""
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for b in row:
            if label in b["text"]:
                return b["callback_data"]
    raise AssertionError(f"no button {label!r} in {message.get('reply_markup')}")


class Bot:
    """The channel under test plus its storage, for one test: on `database` (the `database` fixture's SQLite path
    or PostgreSQL URL), else on a SQLite file in `tmp_path`."""

    def __init__(
        self,
        fake: FakeTelegram,
        tmp_path: Path,
        content: ContentStore,
        webhook: bool = False,
        telegram_rate: float = 30.0,
        database: str | None = None,
    ) -> None:
        self.fake = fake
        self.data_dir = tmp_path
        self.settings = settings_for(
            database or str(tmp_path / "bot.sqlite3"),
            tmp_path,
            content_dir=content.directory,
            telegram_token=Secret(fake.token),
            telegram_api_base_url=fake.base_url,
            admins=frozenset({Identity("telegram", "999")}),
            telegram_rate=telegram_rate,
        )
        self.content = content
        self.webhook = webhook

    async def start(self) -> None:
        self.storage = await Storage.open(self.settings.database, flush_interval=0.05, data_dir=self.data_dir)
        self.core = Core(self.storage, self.content, self.settings, lambda: TODAY)
        self.channel = TelegramChannel(self.core, self.settings, retry=RetryPolicy(backoff=0.01), webhook=self.webhook)
        await self.channel.start()

    async def stop(self) -> None:
        await self.channel.stop()
        await self.storage.close()

    async def __aenter__(self) -> Bot:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def say(self, user: dict, text: str, count: int = 1, chat: dict | None = None) -> list[dict]:
        """Send a text and wait for `count` new sendMessage calls to that chat; return their messages."""
        chat_id = (chat or user)["id"]
        before = len(self.fake.sent("sendMessage", chat_id=chat_id))
        self.fake.send_text(user, text, chat=chat)
        calls = await self.fake.wait_sent("sendMessage", before + count, chat_id=chat_id)
        return [c.result for c in calls[before:]]

    async def press(self, user: dict, message: dict, label: str) -> dict:
        """Press a button and wait until the press is answered; return the chat's latest message."""
        answered = len(self.fake.sent("answerCallbackQuery"))
        self.fake.press(user, message, button(message, label))
        await self.fake.wait_sent("answerCallbackQuery", answered + 1)
        latest = self.fake.last_message(user["id"])
        assert latest is not None
        return latest


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str) -> AsyncIterator[Bot]:
    instance = Bot(fake, tmp_path, content, database=database)
    await instance.start()
    yield instance
    await instance.stop()


async def test_start_place_topics_tips_with_buttons_and_reach_events(bot: Bot, fake: FakeTelegram) -> None:
    alice = fake.user(101, "Alice")
    welcome, picker = await bot.say(alice, "/start", count=2)
    assert "您好，Alice" in welcome["text"] and "已订阅" in welcome["text"]
    assert button(picker, "河西村") == "ps:hexi-village"

    menu = await bot.press(alice, picker, "河西村")
    assert "📚 普法专题" in str(menu["reply_markup"])
    topics = await bot.press(alice, menu, "普法专题")
    assert topics["message_id"] == menu["message_id"]  # navigation edits the menu in place
    first = await bot.press(alice, topics, "反电信网络诈骗")
    fraud = bot.content.catalog.topic("anti-fraud")
    assert fraud is not None and first["text"].startswith(fraud.tips[0].title)
    assert any(e["type"] == "bold" for e in first.get("entities", []))
    second = await bot.press(alice, first, "下一条")
    assert second["text"].startswith(fraud.tips[1].title)

    assert len(fake.sent("answerCallbackQuery")) == 4  # every press answered
    await bot.storage.flush()
    events = await bot.storage.reach.events()
    assert [(e.kind, e.item_id, e.channel, e.place_id) for e in events] == [
        ("tip", fraud.tips[0].id, "telegram", "hexi-village"),
        ("tip", fraud.tips[1].id, "telegram", "hexi-village"),
    ]


@SQLITE_ONLY  # about the Bot API client, not storage
async def test_commands_are_registered_in_chinese_and_english(bot: Bot, fake: FakeTelegram) -> None:
    zh = fake.get_commands(None, "")
    en = fake.get_commands(None, "en")
    assert zh is not None and en is not None
    assert {c["command"] for c in zh} >= {"start", "topics", "unsubscribe", "help"}
    assert next(c for c in zh if c["command"] == "topics")["description"] == "普法专题"
    assert next(c for c in en if c["command"] == "topics")["description"] == "Topics"


async def test_subscribe_and_unsubscribe_through_buttons(bot: Bot, fake: FakeTelegram) -> None:
    bob = fake.user(102, "Bob")
    await bot.say(bob, "/start", count=2)
    (menu,) = await bot.say(bob, "/menu")
    screen = await bot.press(bob, menu, "订阅管理")  # per-topic choices; /unsubscribe stops everything at once
    screen = await bot.press(bob, screen, "禁毒")
    assert "🔕 禁毒" in str(screen["reply_markup"])
    assert fake.sent("answerCallbackQuery")[-1].params.get("text") == "已退订「禁毒」。"
    screen = await bot.press(bob, screen, "全部退订")
    resident = await bot.storage.residents.find("telegram", "102")
    assert resident is not None and not resident.subscribed
    await bot.say(bob, "/subscribe", count=2)
    resident = await bot.storage.residents.find("telegram", "102")
    assert resident is not None and resident.subscribed
    assert await bot.storage.residents.unsubscribed_topics(resident.id) == set()


async def test_stale_forged_and_oversized_buttons_are_answered_politely(bot: Bot, fake: FakeTelegram) -> None:
    carol = fake.user(103, "Carol")
    _, picker = await bot.say(carol, "/start", count=2)
    for data in ("tp:removed-tip", "💣💣", "x" * 64, "t:no-topic"):
        answered = len(fake.sent("answerCallbackQuery"))
        fake.press(carol, picker, data)
        await fake.wait_sent("answerCallbackQuery", answered + 1)
        latest = fake.last_message(103)
        assert latest is not None and "已经更新" in latest["text"]


async def test_blocked_resident_is_marked_and_unblocked_on_start(bot: Bot, fake: FakeTelegram) -> None:
    dan = fake.user(104, "Dan")
    await bot.say(dan, "/start", count=2)
    fake.blocked.add(104)
    fake.send_text(dan, "/tip")
    await fake.wait_for(lambda f: any(c.status == 403 for c in f.calls))
    await asyncio.sleep(0.1)
    resident = await bot.storage.residents.find("telegram", "104")
    assert resident is not None and resident.blocked
    await bot.storage.flush()
    assert await bot.storage.reach.count(kind="tip") == 0  # nothing delivered, nothing counted

    fake.blocked.discard(104)
    await bot.say(dan, "/start", count=2)
    resident = await bot.storage.residents.find("telegram", "104")
    assert resident is not None and not resident.blocked


async def test_my_chat_member_updates_block_and_unblock(bot: Bot, fake: FakeTelegram) -> None:
    eve = fake.user(105, "Eve")
    await bot.say(eve, "/start", count=2)

    def member_update(status: str) -> dict:
        chat = {"id": 105, "type": "private", "first_name": "Eve"}
        bot_member = lambda s: {"status": s, "user": fake.bot_user, **({"until_date": 0} if s == "kicked" else {})}  # noqa: E731
        return {
            "my_chat_member": {
                "chat": chat,
                "from": eve,
                "date": int(time.time()),
                "old_chat_member": bot_member("member"),
                "new_chat_member": bot_member(status),
            }
        }

    fake.send_update(member_update("kicked"))
    await _until(lambda: _blocked(bot, "105"), True)
    fake.send_update(member_update("member"))
    await _until(lambda: _blocked(bot, "105"), False)


async def _blocked(bot: Bot, user_id: str) -> bool:
    resident = await bot.storage.residents.find("telegram", user_id)
    return bool(resident and resident.blocked)


async def _until(check, expected, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check() == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition never became {expected}")


@SQLITE_ONLY  # about the Bot API client, not storage
async def test_429_retry_after_is_honoured(bot: Bot, fake: FakeTelegram) -> None:
    fay = fake.user(106, "Fay")
    fake.fail_next("sendMessage", 429, count=1, retry_after=1)
    started = time.monotonic()
    fake.send_text(fay, "/help")
    await fake.wait_sent("sendMessage", 1, chat_id=106, timeout=10)
    attempts = [c for c in fake.calls if c.method == "sendMessage" and c.params.get("chat_id") == 106]
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.95
    assert time.monotonic() - started >= 0.95


@SQLITE_ONLY  # about the Bot API client, not storage
async def test_5xx_is_retried_with_backoff_and_bounded(bot: Bot, fake: FakeTelegram) -> None:
    gus = fake.user(107, "Gus")
    fake.fail_next("sendMessage", 502, count=2)
    fake.send_text(gus, "/help")
    await fake.wait_sent("sendMessage", 1, chat_id=107)
    statuses = [c.status for c in fake.calls if c.method == "sendMessage" and c.params.get("chat_id") == 107]
    assert statuses == [502, 502, 200]

    fake.fail_next("sendMessage", 500, count=10)
    fake.send_text(gus, "/help")
    await fake.wait_for(lambda f: sum(c.status == 500 for c in f.calls) == 4)
    await asyncio.sleep(0.2)
    assert sum(c.status == 500 for c in fake.calls) == 4  # RetryPolicy.attempts, then it gives up
    fake.reset()
    (reply,) = await bot.say(gus, "/help")  # and keeps serving
    assert "帮助" in reply["text"]


@SQLITE_ONLY  # about the Bot API client, not storage
async def test_an_unexpected_api_error_gets_an_apology_and_the_bot_keeps_serving(
    bot: Bot, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    hal = fake.user(108, "Hal")
    fake.fail_next("sendMessage", 400, count=1, description="Bad Request: something odd")
    fake.send_text(hal, "/help")
    await fake.wait_sent("sendMessage", 1, chat_id=108)
    assert "出了点小问题" in fake.last_message(108)["text"]
    assert any("update failed" in r.getMessage() for r in caplog.records)
    (reply,) = await bot.say(hal, "/help")
    assert "帮助" in reply["text"]


@SQLITE_ONLY  # about the Bot API client, not storage
async def test_group_chats_answer_commands_addressed_to_us_only(bot: Bot, fake: FakeTelegram) -> None:
    ivy = fake.user(109, "Ivy")
    group = fake.group_chat()
    (reply,) = await bot.say(ivy, "/tip@PufaTestBot", chat=group)
    assert "依据" in reply["text"]
    (reply,) = await bot.say(ivy, "/place", chat=group)
    assert "私聊" in reply["text"]
    before = len(fake.sent("sendMessage"))
    fake.send_text(ivy, "/tip@SomeOtherBot", chat=group)
    fake.send_text(ivy, "大家好", chat=group)
    (reply,) = await bot.say(ivy, "/help", chat=group)  # a later command is answered, the two above were not
    assert len(fake.sent("sendMessage")) == before + 1


@SQLITE_ONLY  # about odd input, not storage, and slow (5 s)
async def test_odd_input_is_handled_politely(bot: Bot, fake: FakeTelegram) -> None:
    jo = fake.user(110, "Jo")
    await bot.say(jo, "/start", count=2)
    for text in ("字" * 4000, "🙂🙃" * 50, "مرحبا بالعالم", "\u202e\u202d", "<b>&amp;"):
        (reply,) = await bot.say(jo, text)
        assert "还不太懂" in reply["text"] or "还没找到相关的普法内容" in reply["text"]
    before = len(fake.sent("sendMessage", chat_id=110))
    fake.message_update(
        jo,
        sticker={
            "file_id": "s1",
            "file_unique_id": "u1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        },
    )
    await fake.wait_sent("sendMessage", before + 1, chat_id=110)
    assert "只看得懂文字" in fake.last_message(110)["text"]
    fake.message_update(jo, photo=[{"file_id": "p1", "file_unique_id": "pu1", "width": 10, "height": 10}])
    await fake.wait_sent("sendMessage", before + 2, chat_id=110)
    edited = fake._incoming(jo, None, {"text": "改过的", "edit_date": int(time.time())})
    fake.send_update({"edited_message": edited})
    (reply,) = await bot.say(jo, "/help")  # the edit was skipped: only the help answer arrives
    assert "帮助" in reply["text"]
    assert not any(c.status >= 400 for c in fake.calls)


@SQLITE_ONLY  # about the Bot API client, not storage
async def test_content_markup_characters_are_escaped(fake: FakeTelegram, tmp_path: Path, database: str) -> None:
    directory = tmp_path / "content"
    shutil.copytree(CONTENT, directory)
    topic = directory / "topics" / "anti-fraud.yaml"
    text = topic.read_text(encoding="utf-8")
    fraud = ContentStore.load(CONTENT, lambda: TODAY).catalog.topic("anti-fraud")
    assert fraud is not None
    text = text.replace(f"title: {fraud.tips[0].title}", "title: 别点 <a href=x> & 链接_x_*", 1)
    topic.write_text(text, encoding="utf-8")
    content = ContentStore.load(directory, lambda: TODAY)
    instance = Bot(fake, tmp_path, content, database=database)
    await instance.start()
    try:
        kim = fake.user(111, "Kim")
        (menu,) = await instance.say(kim, "/topics")
        tip = await instance.press(kim, menu, "反电信网络诈骗")
        assert tip["text"].startswith("别点 <a href=x> & 链接_x_*")
        assert all(c.status == 200 for c in fake.calls if c.method in ("sendMessage", "editMessageText"))
    finally:
        await instance.stop()


@SQLITE_ONLY  # about the Bot API client, not storage
async def test_long_texts_are_split_under_the_limit(bot: Bot, fake: FakeTelegram) -> None:
    fake.user(112, "Lea")
    conversation = Conversation(bot.channel, 112, 112)
    body = ("第一段。" * 600) + "\n\n" + ("<第二段&>" * 600)
    assert await conversation.send(Text(body, title="长文"))
    calls = fake.sent("sendMessage", chat_id=112)
    assert len(calls) >= 3 and all(c.status == 200 for c in calls)
    received = "".join(fake.message(112, i + 1)["text"] for i in range(len(calls)))
    assert received.replace("\n", "") == ("长文" + body).replace("\n", "")


async def test_many_residents_do_not_wait_on_each_other_but_each_stays_in_order(bot: Bot, fake: FakeTelegram) -> None:
    fake.delay = 0.2  # every send takes 0.2 s
    users = [fake.user(2000 + i, f"U{i}") for i in range(20)]
    started = time.monotonic()
    for user in users:
        fake.send_text(user, "/help")
    await fake.wait_sent("sendMessage", 20, timeout=10)
    assert time.monotonic() - started < 2.0  # 20 × 0.2 s would be 4 s one at a time
    fake.delay = 0.05
    mo = users[0]
    for text in ("/help", "/tip", "/topics", "/menu"):
        fake.send_text(mo, text)
    calls = await fake.wait_sent("sendMessage", 5, chat_id=mo["id"], timeout=10)
    texts = [c.params["text"] for c in calls[1:]]
    assert "帮助" in texts[0] and "依据" in texts[1] and "普法专题" in texts[2] and "主菜单" in texts[3]


async def test_state_survives_a_restart(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    first = Bot(fake, tmp_path, content, database=database)
    await first.start()
    ned = fake.user(113, "Ned")
    _, picker = await first.say(ned, "/start", count=2)
    await first.press(ned, picker, "茶园村")
    await first.stop()

    second = Bot(fake, tmp_path, content, database=database)
    await second.start()
    try:
        welcome, _ = await second.say(ned, "/start", count=2)
        assert "欢迎回来" in welcome["text"]
        (settings,) = await second.say(ned, "/settings")
        assert "茶园村" in settings["text"]
    finally:
        await second.stop()


async def test_admin_menu_only_for_admins(bot: Bot, fake: FakeTelegram) -> None:
    resident, admin = fake.user(114, "Ola"), fake.user(999, "Admin")
    (refused,) = await bot.say(resident, "/admin")
    assert "没有“/admin”这个命令" in refused["text"]
    (menu,) = await bot.say(admin, "/admin")
    assert "管理菜单" in menu["text"]


@SQLITE_ONLY  # about the webhook's secret and bodies, not storage, and slow (10 s)
async def test_webhook_with_right_and_wrong_secret(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    instance = Bot(fake, tmp_path, content, webhook=True, database=database)
    await instance.start()
    web = WebServer("127.0.0.1", 0)
    web.add_post("/telegram", telegram_webhook_handler("s3cret-token", instance.channel.feed))
    await web.start()
    url = f"http://127.0.0.1:{web.port}/telegram"
    try:
        await instance.channel.application.bot.set_webhook(url, secret_token="s3cret-token")
        pat = fake.user(115, "Pat")
        update = fake.send_update({"message": fake._incoming(pat, None, {"text": "/help"})})
        assert await fake.push_webhook(update, secret="wrong") == 403
        assert await fake.push_webhook(update, secret=None) == 403
        await asyncio.sleep(0.2)
        assert fake.sent("sendMessage", chat_id=115) == []
        assert await fake.push_webhook(update) == 200
        await fake.wait_sent("sendMessage", 1, chat_id=115)
        async with aiohttp.ClientSession() as session:
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            async with session.post(url, data=b"{not json", headers=headers) as response:
                assert response.status == 400
            async with session.post(url, data=b"x" * (2 << 20), headers=headers) as response:
                assert response.status == 413
    finally:
        await web.stop()
        await instance.stop()


@SQLITE_ONLY  # about the Bot API client, not storage
async def test_the_token_never_appears_in_logs(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    instance = Bot(fake, tmp_path, content, database=database)
    await instance.start()
    try:
        quinn = fake.user(116, "Quinn")
        fake.fail_next("sendMessage", 502, count=1)
        fake.fail_next("getUpdates", 500, count=1)
        await instance.say(quinn, "/start", count=2)
        fake.blocked.add(116)
        fake.send_text(quinn, "/tip")
        await fake.wait_for(lambda f: any(c.status == 403 for c in f.calls))
    finally:
        await instance.stop()
    secret_part = fake.token.split(":", 1)[1]
    logged = "\n".join(r.getMessage() + (str(r.exc_info[1]) if r.exc_info else "") for r in caplog.records)
    assert logged and fake.token not in logged and secret_part not in logged


def test_file_url_follows_the_api_base_url() -> None:
    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_base_url("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
    assert file_base_url("https://proxy.example/tg/bot/") == "https://proxy.example/tg/file/bot"


@SQLITE_ONLY  # about the Bot API client, not storage
async def test_images_and_documents_are_sent_as_files(bot: Bot, fake: FakeTelegram, tmp_path: Path) -> None:
    from bot.core.events import Document, Image

    from .test_core_dialogs import tiny_png

    fake.user(117, "Rae")
    picture = tmp_path / "tip.png"
    picture.write_bytes(tiny_png())
    conversation = Conversation(bot.channel, 117, 117)
    assert await conversation.send(Image(picture, caption="说明 <b> & 依据", title="标题"))
    (photo,) = fake.sent("sendPhoto", chat_id=117)
    assert photo.params["photo"]["data"] == tiny_png()
    assert photo.result["caption"].startswith("标题\n说明 <b> & 依据")
    assert await conversation.send(Document("台账.csv", "日期,人次\n2026-12-04,3\n".encode(), caption="导出"))
    (document,) = fake.sent("sendDocument", chat_id=117)
    assert document.params["document"]["filename"] == "台账.csv"
    assert document.params["document"]["data"].decode() == "日期,人次\n2026-12-04,3\n"
    long_caption = "很长的说明。" * 300  # over Telegram's 1024-character caption limit
    assert await conversation.send(Image(picture, caption=long_caption, title="长图"))
    assert len(fake.sent("sendPhoto", chat_id=117)) == 2
    texts_after = [c.params["text"] for c in fake.sent("sendMessage", chat_id=117)]
    assert texts_after and texts_after[0].startswith("<b>长图</b>")  # the text follows the photo in full


async def test_free_text_questions_and_urgent_help_on_telegram(bot: Bot, fake: FakeTelegram) -> None:
    sam = fake.user(118, "Sam")
    await bot.say(sam, "/start", count=2)
    answer = (await bot.say(sam, "有人叫我刷单赚佣金，说先垫钱再返，靠谱吗", count=1))[0]
    assert "依据：" in answer["text"] and not answer["text"].startswith("⚠️")
    await asyncio.sleep(0.3)  # a "related tips" message may follow the answer
    before = len(fake.sent("sendMessage", chat_id=118))
    fake.send_text(sam, "快救人！我家娃掉水库里了")
    calls = await fake.wait_sent("sendMessage", before + 1, chat_id=118)
    urgent = calls[before].result["text"]
    assert urgent.startswith("⚠️") and "110" in urgent
    # Several tips close to one question: 「您是想问」 with them as buttons; pressing one opens that tip.
    (choice,) = await bot.say(sam, "孩子想下河游泳，我该怎么跟他讲？", count=1)
    assert "您是想问" in choice["text"]
    tips = [b for row in choice["reply_markup"]["inline_keyboard"] for b in row if b["callback_data"].startswith("tp:")]
    assert len(tips) >= 2
    opened = await bot.press(sam, choice, tips[0]["text"])
    assert "依据：" in opened["text"]
