"""The webhook and the WeCom callback against bodies split across TCP writes and malformed requests.

Each request here is one a reviewer reproduced: a valid body in two writes must be accepted whole, and a
malformed one must get a 4xx (never a 500, never a traceback at ERROR level).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.channels import http
from bot.channels.http import SECRET_HEADER, WebServer, parse_listen, telegram_webhook_handler
from bot.channels.wecom.crypto import signature
from bot.config import ConfigError
from bot.content.store import ContentStore

from .fakes.telegram_api import FakeTelegram
from .fakes.wecom_api import FakeWeCom
from .helpers import SQLITE_ONLY
from .test_telegram import Bot
from .test_wecom import AGENT, WeComBot, wecom  # noqa: F401  (the fixture)
from .test_wecom_crypto import CORP_ID, TOKEN

SECRET = "s3cret-token"


async def raw_post(port: int, target: str, headers: dict[str, str], body: bytes, pause: float = 0.2) -> int:
    """POST over a bare TCP connection: the headers and half the body, a pause, then the rest; the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head += "Connection: close\r\n\r\n"
        half = len(body) // 2
        writer.write(head.encode() + body[:half])
        await writer.drain()
        await asyncio.sleep(pause)
        writer.write(body[half:])
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        return int(status_line.split()[1])
    finally:
        writer.close()


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [(r.name, r.getMessage(), r.exc_info) for r in errors]


class Webhook:
    """A Telegram bot in webhook mode behind the shared web server."""

    def __init__(self, fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str) -> None:
        self.bot = Bot(fake, tmp_path, content, webhook=True, database=database)
        self.web = WebServer("127.0.0.1", 0)

    async def __aenter__(self) -> Webhook:
        await self.bot.start()
        self.web.add_post("/telegram", telegram_webhook_handler(SECRET, self.bot.channel.feed))
        await self.web.start()
        self.url = f"http://127.0.0.1:{self.web.port}/telegram"
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        await self.web.stop()
        await self.bot.stop()

    async def post(self, body: bytes) -> int:
        headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
        async with self.session.post(self.url, data=body, headers=headers) as response:
            await response.read()
            return response.status


@pytest.fixture
async def webhook(fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str) -> AsyncIterator[Webhook]:
    async with Webhook(fake, tmp_path, content, database) as instance:
        yield instance


# -- 1. a body in two TCP writes is read whole ---------------------------------------------------


async def test_a_telegram_update_in_two_writes_reaches_the_core(webhook: Webhook, fake: FakeTelegram) -> None:
    pat = fake.user(201, "Pat")
    update = fake.send_update({"message": fake._incoming(pat, None, {"text": "/help"})})
    fake._pending.clear()  # nobody polls in webhook mode; keep the queue tidy all the same
    body = json.dumps(update, ensure_ascii=False).encode()
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    assert await raw_post(webhook.web.port, "/telegram", headers, body) == 200
    await fake.wait_sent("sendMessage", 1, chat_id=201)


async def test_a_wecom_callback_in_two_writes_is_answered(
    wecom: FakeWeCom,  # noqa: F811
    tmp_path: Path,
    content: ContentStore,
    database: str,
) -> None:
    async with WeComBot(wecom, tmp_path, content, database=database) as bot:
        now = str(int(time.time()))
        inner = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[wangwu]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content>"
            f"<MsgId>7001</MsgId><AgentID>{AGENT}</AgentID></xml>"
        )
        encrypted = bot.crypto.encrypt(inner)
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<AgentID><![CDATA[{AGENT}]]></AgentID></xml>"
        ).encode()
        query = urlencode({"msg_signature": signature(TOKEN, now, "777", encrypted), "timestamp": now, "nonce": "777"})
        target = f"{bot.settings.wecom_callback_path}?{query}"
        assert await raw_post(bot.server.port, target, {"Content-Type": "text/xml"}, body) == 200
        await wecom.wait_sent(1)
        assert wecom.sent_to("wangwu")


@SQLITE_ONLY  # about HTTP bodies, refused before the core
async def test_an_oversized_body_is_still_refused_when_it_arrives_in_pieces(webhook: Webhook) -> None:
    body = b'{"update_id": 1, "pad": "' + b"x" * (1 << 20) + b'"}'
    headers = {SECRET_HEADER: SECRET}  # an async generator body goes out chunked: no Content-Length to trust
    async with webhook.session.post(webhook.url, data=_chunks(body), headers=headers) as response:
        assert response.status == 413


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]
        await asyncio.sleep(0.01)


# -- 2. malformed requests get a 4xx, not a 500 ------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    ["²", "١٢٣", "9" * 5000],  # isdigit() but not int(); Arabic-Indic digits; past int()'s digit limit
)
@SQLITE_ONLY  # about HTTP bodies, refused before the core
async def test_odd_wecom_verification_timestamps_are_refused(
    wecom: FakeWeCom,  # noqa: F811
    tmp_path: Path,
    content: ContentStore,
    database: str,
    caplog: pytest.LogCaptureFixture,
    timestamp: str,
) -> None:
    caplog.set_level(logging.WARNING)
    async with WeComBot(wecom, tmp_path, content, database=database) as bot:
        params = {"msg_signature": "0" * 40, "timestamp": timestamp, "nonce": "1", "echostr": "abc"}
        async with bot.session.get(bot.url, params=params) as response:
            assert 400 <= response.status < 500
        async with bot.session.post(bot.url, params=params, data=b"<xml><Encrypt>x</Encrypt></xml>") as response:
            assert 400 <= response.status < 500
    no_errors_logged(caplog)


def _nested_replies(depth: int) -> dict:
    message: dict = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}
    for level in range(depth):
        message = {
            "message_id": level + 2,
            "date": 0,
            "chat": {"id": 1, "type": "private"},
            "reply_to_message": message,
        }
    return message


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000,  # json.loads: RecursionError
        b'{"update_id": 1, "message": "x"}',
        b'{"update_id": 1, "message": {}}',
        b'{"update_id": 1, "message": {"message_id": 1, "date": 1e300, "chat": {"id": 1, "type": "private"}}}',
        json.dumps(  # a callback_query without chat_instance: PTB's de_json raises TypeError
            {"update_id": 1, "callback_query": {"id": "1", "from": {"id": 1, "is_bot": False, "first_name": "A"}}}
        ).encode(),
        json.dumps({"update_id": 1, "message": _nested_replies(700)}).encode(),  # de_json: RecursionError
    ],
    ids=["deep-array", "message-string", "message-empty", "date-overflow", "no-chat-instance", "deep-replies"],
)
@SQLITE_ONLY  # about HTTP bodies, refused before the core
async def test_malformed_telegram_updates_get_400(
    webhook: Webhook, fake: FakeTelegram, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    caplog.set_level(logging.WARNING)
    assert await webhook.post(body) == 400
    no_errors_logged(caplog)
    # and the webhook keeps serving
    ola = fake.user(202, "Ola")
    update = fake.send_update({"message": fake._incoming(ola, None, {"text": "/help"})})
    fake._pending.clear()
    assert await webhook.post(json.dumps(update).encode()) == 200
    await fake.wait_sent("sendMessage", 1, chat_id=202)


@SQLITE_ONLY  # about HTTP bodies, refused before the core
async def test_a_client_that_hangs_up_mid_body_logs_no_error(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    _reader, writer = await asyncio.open_connection("127.0.0.1", webhook.web.port)
    writer.write(
        f"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n{SECRET_HEADER}: {SECRET}\r\n\r\n".encode()
        + b'{"update_id": 1'
    )
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()
    await asyncio.sleep(0.3)
    no_errors_logged(caplog)


@SQLITE_ONLY  # about HTTP bodies, refused before the core
async def test_a_client_that_stalls_mid_body_gets_400_after_the_body_timeout(
    webhook: Webhook, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(http, "BODY_TIMEOUT", 0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", webhook.web.port)
    try:
        writer.write(
            f"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n{SECRET_HEADER}: {SECRET}\r\n\r\n".encode()
            + b'{"update_id": 1'
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 3)
        assert status_line.split()[1] == b"400"
    finally:
        writer.close()
    no_errors_logged(caplog)


@pytest.mark.parametrize("value", ["127.0.0.1:²", "127.0.0.1:٨٠", "127.0.0.1:99999", "8443"])
def test_odd_listen_ports_are_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError):
        parse_listen(value, "WEBHOOK_LISTEN")
