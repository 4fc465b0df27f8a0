"""WeCom's encrypted callbacks, verified the same way for the app channel and for 微信客服.

A request reaches a channel only after its size, timestamp (the replay window), signature (constant time) and the
corp id inside the ciphertext check out; anything else is a 4xx, never a 500. URL verification answers the
decrypted echostr alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from defusedxml import ElementTree

from bot.channels.http import read_body
from bot.channels.wecom.crypto import CallbackError, WeComCrypto

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
Fields = dict[str, str]


class CallbackGate:
    def __init__(self, name: str, crypto: WeComCrypto, replay_window: int) -> None:
        self.name = name  # for the log: "wecom", "wecom_kf"
        self.crypto = crypto
        self.replay_window = replay_window  # seconds; 0 turns the check off (known-answer tests)

    def check_time(self, timestamp: str) -> None:
        # ASCII digits only: '²'.isdigit() is True but int('²') raises; 12 digits keep int() cheap and in range
        well_formed = timestamp.isascii() and timestamp.isdecimal() and len(timestamp) <= 12
        if self.replay_window and (not well_formed or abs(time.time() - int(timestamp)) > self.replay_window):
            raise CallbackError("timestamp outside the replay window")

    async def verify_url(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            self.check_time(query.get("timestamp", ""))
            echostr = query.get("echostr", "")
            self.crypto.verify(
                query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", ""), echostr
            )
            return web.Response(text=self.crypto.decrypt(echostr))
        except CallbackError as exc:
            log.warning("%s: refused a URL verification: %s", self.name, exc)
            return web.Response(status=403, text="forbidden")
        except ValueError:
            log.warning("%s: refused a malformed URL verification", self.name)
            return web.Response(status=400, text="bad request")

    def handler(self, accept: Callable[[Fields], Awaitable[None]]) -> Callable[[web.Request], Awaitable[web.Response]]:
        """The POST handler: a verified callback's fields go to `accept`, which must return at once (WeCom
        retries what is not answered within 5 s)."""

        async def receive(request: web.Request) -> web.Response:
            query = request.query
            try:
                body = await read_body(request, MAX_BODY)
                if body is None:
                    return web.Response(status=413, text="too large")
                self.check_time(query.get("timestamp", ""))
                encrypted = xml_field(body, "Encrypt")
                self.crypto.verify(
                    query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", ""), encrypted
                )
                fields = xml_fields(self.crypto.decrypt(encrypted).encode())
            except CallbackError as exc:
                log.warning("%s: refused a callback: %s", self.name, exc)
                return web.Response(status=403, text="forbidden")
            except ValueError:
                log.warning("%s: refused a malformed callback", self.name)
                return web.Response(status=400, text="bad request")
            await accept(fields)
            return web.Response(text="")

        return receive


def xml_fields(data: bytes) -> Fields:
    """Top-level fields of a WeCom XML message, parsed with defusedxml (no entities, no external references)."""
    try:
        root = ElementTree.fromstring(data)
    except Exception as exc:  # defusedxml raises its own errors for entity tricks
        raise ValueError("malformed XML") from exc
    return {child.tag: (child.text or "") for child in root}


def xml_field(data: bytes, name: str) -> str:
    value = xml_fields(data).get(name)
    if not value:
        raise ValueError(f"no {name}")
    return value


async def finish(tasks: set[asyncio.Task[None]], close: Callable[[], Awaitable[None]]) -> None:
    """A channel's stop: finish the handlers in hand for as long as the runner allows (it cancels us after its
    grace), cancel what is left, then close the API client. What was sent keeps its reach events."""
    try:
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for task in tasks:
            task.cancel()
        await close()
