"""One aiohttp server in the bot's event loop for webhooks and callbacks.

Telegram's webhook (and WeCom's callback, later) are routes on it. Requests are
checked before anything reaches the core: a missing or wrong secret gets 403, an
oversized or malformed body 4xx, and nothing is logged that could hold a secret.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # Telegram updates are small; a megabyte is plenty
BODY_TIMEOUT = 10.0  # seconds for a whole body once the headers are in: a trickling client does not hold a handler
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def parse_listen(value: str, variable: str) -> tuple[str, int]:
    from bot.config import ConfigError

    host, sep, port = value.rpartition(":")
    if not sep or not (port.isascii() and port.isdecimal()) or not 0 < int(port) < 65536:  # not '²'
        raise ConfigError(f"{variable}={value!r} is not host:port (e.g. 127.0.0.1:8443)")
    return host.strip("[]") or "127.0.0.1", int(port)


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole body, however many TCP writes it came in; None when it is larger than `limit`.

    `request.content.read(n)` returns what is buffered so far, not the body: read until EOF or past the limit.
    A client that hangs up, breaks the chunked encoding or takes longer than BODY_TIMEOUT mid-body gets a
    ValueError, like a malformed body.
    """
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            while size <= limit:
                chunk = await request.content.read(limit + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except (ConnectionError, HttpProcessingError, TimeoutError) as exc:
        raise ValueError("the body did not arrive whole") from exc
    return None if size > limit else b"".join(chunks)


def telegram_webhook_handler(
    secret: str, feed: Callable[[dict[str, Any]], Awaitable[None]]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`feed` parses the update before it returns and raises ValueError when it is not one (answered 400)."""

    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("telegram webhook: refused a request without the right secret from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            body = await read_body(request, MAX_BODY)
            if body is None:
                return web.Response(status=413, text="too large")
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            await feed(data)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; RecursionError: deep nesting
            log.warning("telegram webhook: refused a malformed update from %s", request.remote)
            return web.Response(status=400, text="bad update")
        return web.Response(text="ok")

    return handle


class WebServer:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.app = web.Application(client_max_size=MAX_BODY)
        self._runner: web.AppRunner | None = None

    def add_post(self, path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> None:
        self.app.router.add_post(path, handler)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []  # port 0 in tests: report the real one
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("web server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
