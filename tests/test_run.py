"""`python -m bot run` as an operator starts it: a real process against the fake Bot API server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bot.storage import Storage

from .conftest import CONTENT
from .fakes.telegram_api import FakeTelegram
from .helpers import SQLITE_ONLY
from .test_telegram import button


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def rows(database: str, data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query on the bot's database (either backend), read after the bot has stopped."""
    storage = await Storage.open(database, data_dir=data_dir)
    try:
        return [tuple(row) for row in await storage.db.fetchall(sql)]
    finally:
        await storage.close()


async def start_bot(fake: FakeTelegram, tmp_path: Path, database: str | None = None, **extra: str) -> subprocess.Popen:
    """`python -m bot run` on `database` (the `database` fixture's), else on a SQLite file in `tmp_path`."""
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "BOT_DB": database or str(tmp_path / "bot.sqlite3"),
        "BOT_DATA_DIR": str(tmp_path),
        "BOT_CONTENT_DIR": str(CONTENT),
        "BOT_LOG_LEVEL": "INFO",
        **extra,
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once; we wait with to_thread
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    await fake.wait_for(
        lambda f: bool(f.sent("setMyCommands")) and (bool(f.sent("getUpdates")) or bool(f.sent("setWebhook"))),
        timeout=20,
    )
    return process


async def stop_bot(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.wait, 20)
    stderr = process.stderr.read() if process.stderr else ""
    assert code == 0, stderr
    return stderr


@SQLITE_ONLY  # slow (15 s); a `bot run` on PostgreSQL keeping its events at SIGTERM: the grace test below
async def test_run_serves_polling_and_stops_cleanly_on_sigterm(
    fake: FakeTelegram, database: str, tmp_path: Path
) -> None:
    process = await start_bot(fake, tmp_path, database)
    try:
        ann = fake.user(301, "Ann")
        fake.send_text(ann, "/start")
        calls = await fake.wait_sent("sendMessage", 2, chat_id=301, timeout=10)
        assert "欢迎回来" not in calls[0].result["text"] and "您好，Ann" in calls[0].result["text"]
        picker = calls[1].result
        fake.press(ann, picker, button(picker, "青石村"))
        await fake.wait_sent("answerCallbackQuery", 1)
        menu = fake.last_message(301)
        fake.press(ann, menu, button(menu, "普法专题"))
        await fake.wait_sent("answerCallbackQuery", 2)
        topics = fake.last_message(301)
        fake.press(ann, topics, button(topics, "防溺水"))
        await fake.wait_sent("answerCallbackQuery", 3)
        tip = fake.last_message(301)
        fake.press(ann, tip, button(tip, "下一条"))
        await fake.wait_sent("answerCallbackQuery", 4)
        # The idle bot brings the year's roll-ups up to the log by itself (every few seconds): read raw, not through
        # the statistics, which would catch up themselves.
        counted: list[tuple[Any, ...]] = []
        for _ in range(30):
            counted = await rows(
                database, tmp_path, "SELECT deliveries, reached FROM reach_year_counts WHERE dimension = 'all'"
            )
            if counted:
                break
            await asyncio.sleep(0.5)
        assert counted == [(2, 1)]
    finally:
        stderr = await stop_bot(process)
    assert fake.token not in stderr and fake.token.split(":")[1] not in stderr
    events = await rows(database, tmp_path, "SELECT kind, topic_id, place_id, channel FROM reach_events")
    assert events == [("tip", "drowning", "qingshi-village", "telegram")] * 2  # nothing lost at SIGTERM
    marks = await rows(database, tmp_path, "SELECT last_event_id FROM rollup_marks")
    newest = await rows(database, tmp_path, "SELECT MAX(id) FROM reach_events")
    assert marks == newest


@SQLITE_ONLY  # about the webhook, not storage
async def test_run_in_webhook_mode_checks_the_secret(fake: FakeTelegram, database: str, tmp_path: Path) -> None:
    port = free_port()
    process = await start_bot(
        fake,
        tmp_path,
        database,
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram/hook",
        TELEGRAM_LISTEN=f"127.0.0.1:{port}",
    )
    try:
        assert fake.webhook_url == f"http://127.0.0.1:{port}/telegram/hook"
        assert fake.webhook_secret and len(fake.webhook_secret) >= 32  # generated when unset
        assert not fake.sent("getUpdates")
        bo = fake.user(302, "Bo")
        update = fake.send_update({"message": fake._incoming(bo, None, {"text": "/help"})})
        assert await fake.push_webhook(update, secret=None) == 403
        assert await fake.push_webhook(update, secret="guess") == 403
        assert await fake.push_webhook(update) == 200
        calls = await fake.wait_sent("sendMessage", 1, chat_id=302, timeout=10)
        assert "帮助" in calls[0].result["text"]
    finally:
        stderr = await stop_bot(process)
    assert fake.webhook_secret not in stderr


@SQLITE_ONLY  # about the channel, not storage
async def test_run_serves_wecom_callbacks(database: str, tmp_path: Path) -> None:
    """`python -m bot run` with WeCom configured: an encrypted message gets the welcome via message/send."""
    stderr = await _wecom_welcome(database, tmp_path, {"TELEGRAM_BOT_TOKEN": ""})
    assert "could not start" not in stderr


@SQLITE_ONLY  # about the channels, not storage
async def test_one_channel_down_at_start_does_not_stop_the_other(database: str, tmp_path: Path) -> None:
    """Telegram unreachable at start: WeCom serves anyway, Telegram is retried in the background."""
    closed = free_port()  # nothing listens there
    stderr = await _wecom_welcome(
        database,
        tmp_path,
        {"TELEGRAM_BOT_TOKEN": "123456:TEST", "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{closed}/bot"},
    )
    assert "telegram: could not start" in stderr and "retrying in the background" in stderr
    assert "Unclosed client session" not in stderr


async def _wecom_welcome(database: str, tmp_path: Path, extra_env: dict[str, str]) -> str:
    import aiohttp

    from bot.channels.wecom.crypto import WeComCrypto, signature

    from .fakes.wecom_api import FakeWeCom
    from .test_wecom_crypto import AES_KEY, CORP_ID, TOKEN

    wecom = FakeWeCom(corp_id=CORP_ID)
    await wecom.start()
    port = free_port()
    env = {
        **os.environ,
        **extra_env,
        "BOT_DB": database,
        "BOT_DATA_DIR": str(tmp_path),
        "BOT_CONTENT_DIR": str(CONTENT),
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_AGENT_ID": "1000002",
        "WECOM_SECRET": wecom.secret,
        "WECOM_TOKEN": TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_BASE_URL": wecom.base_url,
        "WECOM_LISTEN": f"127.0.0.1:{port}",
        "BOT_LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once; we wait with to_thread
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/wecom/callback"
        crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
        now = str(int(time.time()))
        encrypted = crypto.encrypt(
            f"<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>zhaoliu</FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
            "<MsgId>4242</MsgId><AgentID>1000002</AgentID></xml>"
        )
        body = f"<xml><ToUserName>{CORP_ID}</ToUserName><Encrypt>{encrypted}</Encrypt></xml>"
        params = {"msg_signature": signature(TOKEN, now, "7", encrypted), "timestamp": now, "nonce": "7"}
        async with aiohttp.ClientSession() as session:
            for _ in range(100):  # wait for the server to listen
                try:
                    async with session.post(url, params=params, data=body.encode()) as response:
                        assert response.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        sent_at = time.monotonic()
        await wecom.wait_sent(1, timeout=10)
        assert time.monotonic() - sent_at < 1.0
        assert "您好，zhaoliu" in wecom.sent()[0]["text"]["content"]
    finally:
        stderr = await stop_bot(process)
        await wecom.stop()
    assert TOKEN not in stderr and AES_KEY not in stderr and wecom.secret not in stderr
    return stderr


async def test_a_second_bot_on_the_same_database_refuses_to_start(fake: FakeTelegram, tmp_path: Path) -> None:
    """In polling mode two processes would both answer every update: the second one stops at once, clearly."""
    # SQLite only: on PostgreSQL several bot processes serving one database is the point (tests/test_county.py)
    first = await start_bot(fake, tmp_path)
    try:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "BOT_DB": str(tmp_path / "bot.sqlite3"),
            "BOT_CONTENT_DIR": str(CONTENT),
        }
        started = time.monotonic()
        second = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode != 0
        assert time.monotonic() - started < 5
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "already serving" in lines[0] and str(first.pid) in lines[0], second.stderr
        assert first.poll() is None  # the first one keeps serving
    finally:
        await stop_bot(first)


async def test_sigterm_exits_within_the_grace_even_with_replies_queued_behind_the_pacer(
    database: str, tmp_path: Path
) -> None:
    """One WeCom member owed 40 replies (the per-member pacer holds the last ten for a minute): SIGTERM still
    exits within BOT_SHUTDOWN_GRACE and a little, and the replies already sent keep their reach events."""
    import aiohttp

    from bot.channels.wecom.crypto import WeComCrypto, signature

    from .fakes.wecom_api import FakeWeCom
    from .test_wecom_crypto import AES_KEY, CORP_ID, TOKEN

    wecom = FakeWeCom(corp_id=CORP_ID)
    await wecom.start()
    port = free_port()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "",
        "BOT_DB": database,
        "BOT_DATA_DIR": str(tmp_path),
        "BOT_CONTENT_DIR": str(CONTENT),
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_AGENT_ID": "1000002",
        "WECOM_SECRET": wecom.secret,
        "WECOM_TOKEN": TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_BASE_URL": wecom.base_url,
        "WECOM_LISTEN": f"127.0.0.1:{port}",
        "BOT_SHUTDOWN_GRACE": "2",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once; we wait with to_thread
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    try:
        async with aiohttp.ClientSession() as session:
            for number in range(20):  # each /tip is a tip text and its button card: 40 messages
                now = str(int(time.time()))
                encrypted = crypto.encrypt(
                    f"<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>qianqi</FromUserName>"
                    f"<CreateTime>{now}</CreateTime><MsgType>text</MsgType><Content>/tip</Content>"
                    f"<MsgId>{9000 + number}</MsgId><AgentID>1000002</AgentID></xml>"
                )
                body = f"<xml><ToUserName>{CORP_ID}</ToUserName><Encrypt>{encrypted}</Encrypt></xml>"
                params = {"msg_signature": signature(TOKEN, now, "7", encrypted), "timestamp": now, "nonce": "7"}
                for _ in range(100):  # the first post waits for the server to listen
                    try:
                        async with session.post(
                            f"http://127.0.0.1:{port}/wecom/callback", params=params, data=body.encode()
                        ) as response:
                            assert response.status == 200
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.1)
        await wecom.wait_sent(30, timeout=15)  # the member's minute is full; the rest wait behind the pacer
        await asyncio.sleep(0.5)
        sent_before_stop = len(wecom.sent())
        assert sent_before_stop < 40
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 30)
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
        await wecom.stop()
    assert code == 0 and took < 2 + 3, took
    ((tips,),) = await rows(database, tmp_path, "SELECT COUNT(*) FROM reach_events")
    assert 1 <= tips <= 20  # every tip that went out is counted; none that did not
