"""Tests of the fake Telegram Bot API server, driven by PTB 22.8's real `telegram.Bot`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Poll, Update
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakes.telegram_api import FakeTelegram, parse_html

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
async def bot(fake: FakeTelegram):
    b = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    await b.initialize()
    yield b
    await b.shutdown()


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in pairs]])


async def test_get_me_and_initialize(fake: FakeTelegram, bot: Bot) -> None:
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/bot"
    assert bot.username == "PufaTestBot"
    assert bot.id == fake.bot_id
    assert bot.bot.is_bot
    assert [c.method for c in fake.sent()] == ["getMe"]


async def test_wrong_token_and_unknown_method(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(InvalidToken):
        await Bot("999:WRONG", base_url=fake.base_url).get_me()
    assert fake.calls[-1].status == 401
    with pytest.raises(EndPointNotFound):  # PTB's name for a 404 "Not Found: method not found" after getMe
        await bot.do_api_request("noSuchMethod")
    assert fake.calls[-1].status == 404
    assert fake.sent("noSuchMethod") == []


async def test_send_message_with_inline_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message(42, "你好", reply_markup=keyboard(("是", "yes"), ("否", "no")))
    second = await bot.send_message(42, "123")
    other = await bot.send_message(43, "hi")
    assert first.text == "你好"
    assert first.chat.id == 42 and first.chat.type == "private"
    assert first.from_user.id == fake.bot_id
    assert abs(first.date.timestamp() - time.time()) < 5
    assert [[b.callback_data for b in row] for row in first.reply_markup.inline_keyboard] == [["yes", "no"]]
    assert second.message_id == first.message_id + 1
    assert other.message_id == 1
    call = fake.sent("sendMessage", chat_id=42)[1]
    assert call.params["text"] == "123"  # STRING_FIELDS: stays a string
    assert fake.sent("sendMessage", chat_id=42)[0].params["reply_markup"]["inline_keyboard"][0][0]["text"] == "是"
    assert fake.last_message(42)["message_id"] == second.message_id
    assert len(fake.sent("SENDMESSAGE")) == 3


async def test_get_updates_order_offset_and_long_poll(fake: FakeTelegram, bot: Bot) -> None:
    alice = fake.user(1, "Alice")
    for text in ("one", "two", "/start@PufaTestBot 参数"):
        fake.send_text(alice, text)
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates] == ["one", "two", "/start@PufaTestBot 参数"]
    assert [u.message.message_id for u in updates] == [1, 2, 3]
    command = updates[2].message
    assert command.entities[0].type == "bot_command" and command.entities[0].length == len("/start@PufaTestBot")
    assert command.from_user.language_code == "zh-hans"
    again = await bot.get_updates(offset=updates[1].update_id, timeout=0)
    assert [u.update_id for u in again] == [u.update_id for u in updates[1:]]
    assert await bot.get_updates(offset=updates[2].update_id + 1, timeout=0) == ()

    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(offset=updates[2].update_id + 1, timeout=3))
    await asyncio.sleep(0.05)
    fake.send_text(alice, "late")
    late = await poll
    assert [u.message.text for u in late] == ["late"]
    assert time.monotonic() - started < 1.5


async def test_polling_application_command_and_callback_round_trip(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text("<b>选一个</b>", parse_mode="HTML", reply_markup=keyboard(("A", "pick:a")))

    async def picked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer("ok")
        await query.edit_message_text(f"你选了 {query.data.split(':')[1]}")

    app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).base_file_url(fake.base_file_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(picked, pattern=r"^pick:"))
    user = fake.user(77, "村民")
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            fake.send_text(user, "/start")
            await fake.wait_sent("sendMessage", 1, chat_id=77)
            message = fake.last_message(77)
            assert message["text"] == "选一个"
            assert message["entities"] == [{"type": "bold", "offset": 0, "length": 3}]
            fake.press(user, message, "pick:a")
            await fake.wait_sent("editMessageText", 1, chat_id=77)
        finally:
            await app.updater.stop()
            await app.stop()
    assert fake.sent("answerCallbackQuery")[0].params["text"] == "ok"
    edited = fake.last_message(77)
    assert edited["text"] == "你选了 a" and "reply_markup" not in edited and "edit_date" in edited
    assert [c.method for c in fake.calls[:2]] == ["getMe", "deleteWebhook"]
    assert all(c.status in (200, 499) for c in fake.calls)


async def test_edit_errors(fake: FakeTelegram, bot: Bot) -> None:
    markup = keyboard(("A", "a"))
    message = await bot.send_message(5, "text", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("text", chat_id=5, message_id=message.message_id, reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("new", chat_id=5, message_id=999)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(chat_id=5, message_id=message.message_id, reply_markup=markup)
    edited = await bot.edit_message_reply_markup(chat_id=5, message_id=message.message_id)
    assert edited.reply_markup is None
    assert fake.calls[-2].status == 400 and fake.calls[-1].status == 200
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(5, "x" * 4097)
    await bot.send_message(5, "x" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(5, "hi", reply_markup=keyboard(("A", "数" * 22)))  # 66 bytes
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(5, "  ")
    assert await bot.delete_message(5, message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(5, message.message_id)


async def test_blocked_chat_is_forbidden(fake: FakeTelegram, bot: Bot) -> None:
    fake.blocked.add(9)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(9, "hi")
    assert fake.calls[-1].status == 403 and fake.sent("sendMessage") == []
    await bot.send_message(10, "hi")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fail_next_429_and_502(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", 429, count=2, retry_after=3)
    for _ in range(2):
        with pytest.raises(RetryAfter, match=r"Retry in (3 seconds|0:00:03)"):  # PTB_TIMEDELTA changes the form
            await bot.send_message(1, "hi")
    await bot.send_message(1, "hi")
    assert [c.status for c in fake.calls if c.method == "sendMessage"] == [429, 429, 200]

    fake.fail_next("sendMessage", 502)
    with pytest.raises(NetworkError) as info:
        await bot.send_message(1, "hi")
    assert info.type is NetworkError  # not BadRequest / RetryAfter


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limit_and_delay(fake: FakeTelegram, bot: Bot) -> None:
    fake.rate_limit = 5
    results = await asyncio.gather(*(bot.send_message(i, "hi") for i in range(8)), return_exceptions=True)
    assert sum(isinstance(r, RetryAfter) for r in results) == 3
    assert len(fake.sent("sendMessage")) == 5
    fake.reset()
    assert fake.calls == [] and fake.rate_limit is None
    fake.delay = 0.1
    started = time.monotonic()
    await bot.send_message(1, "slow")
    assert time.monotonic() - started >= 0.1


@pytest.mark.parametrize(
    "text",
    [
        "<b>unclosed",
        "line<br>break",
        "a < b",
        "AT&T",
        "&nbsp;",
        "<b>x</i>",
        "x</b>",
        "<span>x</span>",
        "<div>x</div>",
        '<a href="x>y',
    ],
)
async def test_malformed_html_is_rejected(bot: Bot, text: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(1, text, parse_mode="HTML")


async def test_valid_html_is_parsed_into_entities(bot: Bot) -> None:
    message = await bot.send_message(
        1,
        '<b>粗</b> &lt;tag&gt; &amp; <a href="https://e.x/?a=1&amp;b=2">链接</a> 😀<i>斜</i>'
        '<pre><code class="language-python">x</code></pre><span class="tg-spoiler">s</span>',
        parse_mode="HTML",
    )
    assert message.text == "粗 <tag> & 链接 😀斜xs"
    types = {e.type: e for e in message.entities}
    assert types["text_link"].url == "https://e.x/?a=1&b=2"
    assert message.parse_entity(types["italic"]) == "斜"  # UTF-16 offsets past the emoji
    assert types["pre"].language == "python"
    assert message.parse_entity(types["spoiler"]) == "s"
    assert parse_html("a > b &#36; &#x41;") == ("a > b $ A", [])


async def test_document_and_photo_upload_then_download(fake: FakeTelegram, bot: Bot) -> None:
    payload = "姓名,电话\n张三,123\n".encode() + bytes(range(256))
    message = await bot.send_document(42, document=payload, filename="r.csv", caption="报表")
    assert message.document.file_name == "r.csv" and message.document.file_size == len(payload)
    assert message.caption == "报表"
    upload = fake.sent("sendDocument")[0].params["document"]
    assert upload == {"filename": "r.csv", "size": len(payload), "data": payload}
    file = await bot.get_file(message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == payload

    photo = await bot.send_photo(42, photo=b"\x89PNG fake image")
    assert photo.photo[-1].width == 800 and photo.photo[0].file_unique_id != photo.photo[-1].file_unique_id
    again = await bot.send_photo(43, photo=photo.photo[-1].file_id)
    assert again.photo[-1].file_unique_id == photo.photo[-1].file_unique_id
    photo_file = await bot.get_file(again.photo[0].file_id)
    assert bytes(await photo_file.download_as_bytearray()) == b"\x89PNG fake image"
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(42, document="nope")
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("nope")


async def test_quiz_poll_and_answer(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_poll(
        42, "2+2?", ["3", "4"], is_anonymous=False, type=Poll.QUIZ, correct_option_ids=[1], explanation="算术"
    )
    poll = message.poll
    assert poll.type == Poll.QUIZ and poll.correct_option_ids == (1,) and not poll.is_anonymous
    assert fake.sent("sendPoll")[0].params["options"] == [{"text": "3"}, {"text": "4"}]
    voter = fake.user(42, "Voter")
    fake.answer_poll(voter, poll.id, [1])
    (update,) = await bot.get_updates(timeout=0)
    answer = update.poll_answer
    assert answer.poll_id == poll.id and answer.option_ids == (1,) and answer.user.id == 42
    assert answer.option_persistent_ids == (poll.options[1].persistent_id,)
    stopped = await bot.stop_poll(42, message.message_id)
    assert stopped.is_closed and stopped.options[1].voter_count == 1 and stopped.total_voter_count == 1
    with pytest.raises(BadRequest, match=r"(?i)already been closed"):
        await bot.stop_poll(42, message.message_id)

    anonymous = await bot.send_poll(42, "?", ["a", "b"])
    with pytest.raises(ValueError, match="anonymous"):
        fake.answer_poll(voter, anonymous.poll.id, [0])


async def test_my_commands_per_scope_and_language(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_my_commands([("start", "开始"), ("help", "帮助")], language_code="zh")
    assert await bot.set_my_commands([("start", "Start")])
    zh = await bot.get_my_commands(language_code="zh")
    assert [(c.command, c.description) for c in zh] == [("start", "开始"), ("help", "帮助")]
    assert [c.description for c in await bot.get_my_commands()] == ["Start"]
    assert fake.get_commands(language_code="zh")[1] == {"command": "help", "description": "帮助"}
    with pytest.raises(BadRequest, match=r"(?i)language code"):
        await bot.set_my_commands([("start", "开始")], language_code="zh-hans")
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start", "x")])
    assert await bot.delete_my_commands(language_code="zh")
    assert fake.get_commands(language_code="zh") is None


async def test_webhook_push_checks_secret(fake: FakeTelegram, bot: Bot) -> None:
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != "s3cret":
            return web.Response(status=403)
        received.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        assert await bot.set_webhook(url, secret_token="s3cret")
        assert fake.webhook_url == url and fake.webhook_secret == "s3cret"
        assert (await bot.get_webhook_info()).url == url
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)
        update = fake.send_text(fake.user(3), "via webhook")
        assert await fake.push_webhook(update) == 200
        assert await fake.push_webhook(update, secret="wrong") == 403
        assert await fake.push_webhook(update, secret=None) == 403
        assert received == [update]
        assert Update.de_json(received[0], bot).message.text == "via webhook"
        assert (await bot.get_webhook_info()).pending_update_count == 0
        assert await bot.delete_webhook()
        assert fake.webhook_url is None and fake.webhook_secret is None
        fake.webhook_url = "http://example.com/hook"
        with pytest.raises(ValueError, match="loopback"):
            await fake.push_webhook(update)
    finally:
        await runner.cleanup()


async def test_plain_http_clients_json_and_control_endpoints(fake: FakeTelegram, bot: Bot) -> None:
    root = f"http://127.0.0.1:{fake.port}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.base_url}{fake.token}/SendMessage", json={"chat_id": "7", "text": "123"}) as r:
            body = await r.json()
        assert r.status == 200 and body["result"]["text"] == "123" and body["result"]["chat"]["id"] == 7
        async with http.get(f"{fake.base_url}{fake.token}/getMe") as r:
            assert (await r.json())["result"]["is_bot"] is True

        texts = [{"user_id": 100 + i, "text": f"m{i}"} for i in range(3)]
        async with http.post(f"{root}/_ctl/enqueue", json={"texts": texts}) as r:
            assert (await r.json())["enqueued"] == 3
        async with http.post(f"{root}/_ctl/faults", json={"blocked": [100]}) as r:
            assert (await r.json())["blocked"] == [100]
        updates = await bot.get_updates(timeout=0)
        assert [u.message.text for u in updates] == ["m0", "m1", "m2"]
        with pytest.raises(Forbidden):
            await bot.send_message(100, "hi")
        await bot.send_message(101, "hi")
        async with http.get(f"{root}/_ctl/stats") as r:
            stats = await r.json()
        assert stats["ok"]["sendMessage"] == 2 and stats["statuses"]["403"] == 1
        assert stats["first_update_served_at"] is not None and stats["last_send_at"] >= stats["first_update_served_at"]
        async with http.get(f"{root}/_ctl/sent", params={"method": "sendMessage", "chat_id": "101"}) as r:
            assert [row["params"]["text"] for row in await r.json()] == ["hi"]
        async with http.post(f"{root}/_ctl/reset") as r:
            assert r.status == 200
    assert fake.calls == [] and fake.blocked == set()


async def test_wait_for_reports_calls_on_timeout(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(1, "only one")
    with pytest.raises(AssertionError, match="sendMessage -> 200"):
        await fake.wait_sent("sendMessage", 2, timeout=0.05)


async def test_runs_as_a_separate_process() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.telegram_api",
        "--port",
        "0",
        "--rate-limit",
        "30",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        port = int(line.split("127.0.0.1:")[1].split()[0])
        async with Bot("123456:TEST", base_url=f"http://127.0.0.1:{port}/bot") as remote:
            assert (await remote.send_message(1, "hi")).text == "hi"
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/_ctl/stats") as r:
            assert json.loads(await r.text())["ok"] == {"getMe": 1, "sendMessage": 1}
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 5) == 0
