"""The WeCom channel: an encrypted callback server and message/send, over the same core as Telegram.

Callbacks are verified (signature in constant time, receive id, replay window, body size) before anything
reaches the core, answered at once with an empty 200 (WeCom retries after 5 s), deduplicated in SQLite on
MsgId (events: sender + CreateTime + event key), and handled in order per resident. Replies go out with
message/send: replies and broadcasts go through the same renderer (`render.render`): text, and buttons
as a button_interaction card whose keys are the core's payloads, or a numbered menu the resident answers
by number where a card cannot hold them; media is uploaded once and reused while WeCom keeps it.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from bot.channels.http import WebServer
from bot.channels.wecom import render
from bot.channels.wecom.api import RATE_ERRORS, WeComClient, WeComError
from bot.channels.wecom.callbacks import CallbackGate, Fields, finish
from bot.channels.wecom.crypto import WeComCrypto
from bot.config import Identity, Settings
from bot.core.engine import Core
from bot.core.events import Incoming, Reply
from bot.core.sending import SendResult, SendStatus

log = logging.getLogger(__name__)

CHANNEL = "wecom"
PER_MEMBER_PER_MINUTE = 30  # beyond this WeCom drops messages silently: pace instead
PER_MEMBER_PER_HOUR = 1000
MEDIA_REUSE = 2 * 86400  # WeCom keeps temporary media three days; reuse an upload for two


class _MemberPacer:
    """Keeps each member under WeCom's per-member limits by waiting, not by luck."""

    def __init__(self) -> None:
        self._sent: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    async def wait(self, user: str) -> None:
        history = self._sent[user]
        while True:
            now = time.monotonic()
            while history and now - history[0] > 3600:
                history.popleft()
            last_minute = sum(1 for t in history if now - t < 60)
            if last_minute < PER_MEMBER_PER_MINUTE and len(history) < PER_MEMBER_PER_HOUR:
                history.append(now)
                return
            oldest = next(t for t in history if now - t < 60) if last_minute >= PER_MEMBER_PER_MINUTE else history[0]
            await asyncio.sleep(max(0.05, (60 if last_minute >= PER_MEMBER_PER_MINUTE else 3600) - (now - oldest)))


class WeComChannel:
    name = CHANNEL
    bulk_size = 1000  # message/send takes up to 1,000 members in `touser`

    def __init__(self, core: Core, settings: Settings, client: WeComClient | None = None) -> None:
        self.core = core
        self.state = core.channel_state
        self.settings = settings
        self.crypto = WeComCrypto(settings.wecom_token.value, settings.wecom_aes_key.value, settings.wecom_corp_id)
        self.gate = CallbackGate(CHANNEL, self.crypto, settings.wecom_replay_window)
        self.client = client or WeComClient(
            settings.wecom_api_base_url, settings.wecom_corp_id, settings.wecom_secret.value, settings.wecom_agent_id
        )
        self.pacer = _MemberPacer()
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._media: dict[tuple[str, str], tuple[str, float]] = {}  # (type, content hash) -> (media_id, when)

    def routes(self, server: WebServer) -> None:
        server.app.router.add_get(self.settings.wecom_callback_path, self.gate.verify_url)
        server.app.router.add_post(self.settings.wecom_callback_path, self.gate.handler(self._accept))

    async def start(self) -> None:
        await self.client.start()

    async def stop(self) -> None:
        await finish(self._tasks, self.client.close)

    # -- callbacks -------------------------------------------------------------------------------

    async def _accept(self, fields: Fields) -> None:
        """A verified callback: deduplicated (WeCom retries), then handled in the background."""
        key = fields.get("MsgId") or "|".join(
            (
                fields.get("FromUserName", ""),
                fields.get("CreateTime", ""),
                fields.get("EventKey", ""),
                fields.get("Event", ""),
            )
        )
        if not await self.state.first_delivery(f"wecom:{key}"):
            return
        # Several processes behind one load balancer: a ticket before WeCom hears back keeps the resident's order.
        if await self.state.arrived(CHANNEL, key, fields.get("FromUserName", "")):
            task = asyncio.get_running_loop().create_task(self._handle(fields, key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, fields: dict[str, str], key: str) -> None:
        user = fields.get("FromUserName", "")
        if not user:
            return
        lock = self._locks.setdefault(user, asyncio.Lock())
        self._waiting[user] = self._waiting.get(user, 0) + 1
        try:
            # one resident's messages in order (on any process); others do not wait
            async with lock, self.state.in_turn(CHANNEL, key):
                try:
                    event = await self._event(user, fields)
                    if event is not None:
                        await self.core.respond(event, lambda reply: self.send(user, reply))
                except Exception:
                    log.exception("wecom: handling a message failed")
        finally:
            self._waiting[user] -= 1
            if not self._waiting[user]:  # nobody else queued for this resident: drop the lock
                del self._waiting[user]
                self._locks.pop(user, None)

    async def _event(self, user: str, fields: dict[str, str]) -> Incoming | None:
        kind = fields.get("MsgType")
        if kind == "text":
            text = fields.get("Content", "")
            menu = await self.state.choices(_menu_key(user))
            number = text.strip()
            if menu and number.isascii() and number.isdigit() and 1 <= int(number) <= len(menu):
                return Incoming(CHANNEL, user, display_name=user, button=menu[int(number) - 1])
            return Incoming.from_text(CHANNEL, user, text, display_name=user)
        if kind == "event":
            event = fields.get("Event", "")
            if event == "template_card_event":
                return Incoming(CHANNEL, user, display_name=user, button=fields.get("EventKey", ""))
            if event in ("enter_agent", "subscribe"):
                return Incoming(CHANNEL, user, display_name=user, command="start")
            return None
        return Incoming(CHANNEL, user, display_name=user)  # image, voice...: the core answers politely

    # -- sending -------------------------------------------------------------------------------

    async def send(self, user: str, reply: Reply) -> bool:
        try:
            return await self._send(user, reply)
        except WeComError as exc:
            log.warning("wecom: send failed: errcode %s", exc.errcode)
            return False
        except (aiohttp.ClientError, TimeoutError):
            log.warning("wecom: send failed: network error")
            return False

    async def _send(self, user: str, reply: Reply) -> bool:
        rendered = await render.render(reply, self._upload)
        if rendered.choices is not None:
            await self.state.remember_choices(_menu_key(user), rendered.choices)
        delivered = True
        for message in rendered.messages:
            delivered = await self._deliver(user, message) and delivered
        return delivered

    async def _upload(self, kind: str, filename: str, data: bytes) -> str:
        """Upload media once; the same file sent again (a broadcast's image, batch after batch) reuses it."""
        key = (kind, hashlib.sha256(data).hexdigest())
        cached = self._media.get(key)
        if cached is not None and time.time() - cached[1] < MEDIA_REUSE:
            return cached[0]
        media_id = await self.client.upload(kind, filename, data)
        self._media[key] = (media_id, time.time())
        return media_id

    async def _deliver(self, user: str, message: dict[str, Any], attempts: int = 3) -> bool:
        """One message to one member, paced; WeCom's frequency errcodes are backed off and retried."""
        for attempt in range(attempts):
            await self.pacer.wait(user)
            try:
                result = await self.client.send([user], message)
            except WeComError as exc:
                if exc.errcode in RATE_ERRORS and attempt + 1 < attempts:
                    await asyncio.sleep(2.0 * (attempt + 1))
                    continue
                raise
            return user not in result.invalid
        return False

    # -- deliveries outside a conversation (the channel contract) ------------------------------

    async def deliver(self, to: Identity, replies: Sequence[Reply]) -> SendResult:
        return (await self.deliver_many([to], replies))[to]

    async def deliver_many(self, to: Sequence[Identity], replies: Sequence[Reply]) -> dict[Identity, SendResult]:
        """The same replies to many members, one message/send call per message; outcomes per member."""
        users = [who.external_id for who in to]
        invalid: set[str] = set()
        try:
            for reply in replies:
                rendered = await render.render(reply, self._upload)
                if rendered.choices is not None:
                    for user in users:
                        await self.state.remember_choices(_menu_key(user), rendered.choices)
                for message in rendered.messages:
                    result = await self.client.send(users, message)
                    invalid |= result.invalid
        except WeComError as exc:
            if exc.errcode in RATE_ERRORS:
                return {who: SendResult(SendStatus.RETRY_AFTER, exc.errmsg, 60.0) for who in to}
            if exc.errcode == 81013:  # every recipient invalid or not allowed
                return {who: SendResult(SendStatus.FAILED, "invaliduser") for who in to}
            return {who: SendResult(SendStatus.FAILED, f"errcode {exc.errcode}") for who in to}
        except (aiohttp.ClientError, TimeoutError) as exc:
            return {who: SendResult(SendStatus.TRANSIENT, type(exc).__name__) for who in to}
        return {
            who: SendResult(SendStatus.FAILED, "invaliduser")
            if who.external_id in invalid
            else SendResult(SendStatus.DELIVERED)
            for who in to
        }


def _menu_key(user: str) -> str:
    return f"menu:{CHANNEL}:{user}"
