"""One aiohttp server in the bot's event loop for webhooks and callbacks.

Telegram's webhook (and WeCom's callback, later) are routes on it. Requests are
checked before anything reaches the core: a missing or wrong secret gets 403, an
oversized or malformed body 4xx, and nothing is logged that could hold a secret.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # Telegram updates are small; a megabyte is plenty
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def parse_listen(value: str, variable: str) -> tuple[str, int]:
    from bot.config import ConfigError

    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{variable}={value!r} is not host:port (e.g. 127.0.0.1:8443)")
    return host.strip("[]") or "127.0.0.1", int(port)


def telegram_webhook_handler(
    secret: str, feed: Callable[[dict[str, Any]], Awaitable[None]]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("telegram webhook: refused a request without the right secret from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        try:
            body = await request.content.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                return web.Response(status=413, text="too large")
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="bad update")
        await feed(data)
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
