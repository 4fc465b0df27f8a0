"""The WeCom channel: an encrypted callback server and message/send, over the same core as Telegram.

Callbacks are verified (signature in constant time, receive id, replay window, body size) before anything
reaches the core, answered at once with an empty 200 (WeCom retries after 5 s), deduplicated in SQLite on
MsgId (events: sender + CreateTime + event key), and handled in order per resident. Replies go out with
message/send: text, and buttons as a button_interaction card whose keys are the core's payloads, or a
numbered menu the resident answers by number where a card cannot hold them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any

import aiohttp
from aiohttp import web
from defusedxml import ElementTree

from bot.broadcasting.worker import SendResult, SendStatus
from bot.channels.http import WebServer
from bot.channels.wecom import render
from bot.channels.wecom.api import RATE_ERRORS, WeComClient, WeComError
from bot.channels.wecom.crypto import CallbackError, WeComCrypto
from bot.config import Settings
from bot.core.engine import Core
from bot.core.events import Button, Document, Image, Incoming, Question, Reply, Text, Toast
from bot.storage import Recipient, Storage

log = logging.getLogger(__name__)

CHANNEL = "wecom"
MAX_BODY = 64 * 1024
PER_MEMBER_PER_MINUTE = 30  # beyond this WeCom drops messages silently: pace instead
PER_MEMBER_PER_HOUR = 1000


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

    def __init__(self, core: Core, storage: Storage, settings: Settings, client: WeComClient | None = None) -> None:
        self.core = core
        self.storage = storage
        self.settings = settings
        self.crypto = WeComCrypto(settings.wecom_token.value, settings.wecom_aes_key.value, settings.wecom_corp_id)
        self.client = client or WeComClient(
            settings.wecom_api_base_url, settings.wecom_corp_id, settings.wecom_secret.value, settings.wecom_agent_id
        )
        self.pacer = _MemberPacer()
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self, server: WebServer) -> None:
        server.app.router.add_get(self.settings.wecom_callback_path, self.verify_url)
        server.app.router.add_post(self.settings.wecom_callback_path, self.receive)

    async def start(self) -> None:
        await self.client.start()

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.close()

    # -- callbacks -----------------------------------------------------------------------------

    def _check_time(self, timestamp: str) -> None:
        window = self.settings.wecom_replay_window
        if window and (not timestamp.isdigit() or abs(time.time() - int(timestamp)) > window):
            raise CallbackError("timestamp outside the replay window")

    async def verify_url(self, request: web.Request) -> web.Response:
        """URL verification: answer the decrypted echostr alone."""
        query = request.query
        try:
            self._check_time(query.get("timestamp", ""))
            self.crypto.verify(
                query.get("msg_signature", ""),
                query.get("timestamp", ""),
                query.get("nonce", ""),
                query.get("echostr", ""),
            )
            return web.Response(text=self.crypto.decrypt(query.get("echostr", "")))
        except CallbackError as exc:
            log.warning("wecom: refused a URL verification: %s", exc)
            return web.Response(status=403, text="forbidden")

    async def receive(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            body = await request.content.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                return web.Response(status=413, text="too large")
            self._check_time(query.get("timestamp", ""))
            encrypted = _xml_field(body, "Encrypt")
            self.crypto.verify(
                query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", ""), encrypted
            )
            fields = _xml_fields(self.crypto.decrypt(encrypted).encode())
        except CallbackError as exc:
            log.warning("wecom: refused a callback: %s", exc)
            return web.Response(status=403, text="forbidden")
        except ValueError:
            log.warning("wecom: refused a malformed callback")
            return web.Response(status=400, text="bad request")
        key = fields.get("MsgId") or "|".join(
            (
                fields.get("FromUserName", ""),
                fields.get("CreateTime", ""),
                fields.get("EventKey", ""),
                fields.get("Event", ""),
            )
        )
        if await self.storage.first_callback(f"wecom:{key}"):
            task = asyncio.get_running_loop().create_task(self._handle(fields))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(text="")  # at once: WeCom retries what is not answered within 5 s

    async def _handle(self, fields: dict[str, str]) -> None:
        user = fields.get("FromUserName", "")
        if not user:
            return
        lock = self._locks.setdefault(user, asyncio.Lock())
        self._waiting[user] = self._waiting.get(user, 0) + 1
        try:
            async with lock:  # one resident's messages in order; others do not wait
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
            menu = await self.storage.quizzes.choices(f"menu:wecom:{user}")
            if menu and text.strip().isdigit() and 1 <= int(text.strip()) <= len(menu):
                return Incoming(CHANNEL, user, display_name=user, button=menu[int(text.strip()) - 1])
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
        if isinstance(reply, Toast):
            return await self._text(user, reply.text)
        if isinstance(reply, Question):
            return await self._with_buttons(user, reply.title, reply.body, list(render.flat(reply.buttons)))
        if isinstance(reply, Text):
            return await self._with_buttons(user, reply.title, reply.body, render.flat(reply.buttons))
        if isinstance(reply, Image):
            media_id = await self.client.upload("image", reply.path.name, reply.path.read_bytes())
            delivered = await self._deliver(user, {"msgtype": "image", "image": {"media_id": media_id}})
            if reply.caption or reply.title or reply.buttons:
                shown = await self._with_buttons(user, reply.title, reply.caption, render.flat(reply.buttons))
                delivered = shown and delivered
            return delivered
        if isinstance(reply, Document):
            media_id = await self.client.upload("file", reply.filename, reply.data)
            delivered = await self._deliver(user, {"msgtype": "file", "file": {"media_id": media_id}})
            return (await self._text(user, reply.caption) if reply.caption else True) and delivered
        return False

    async def _with_buttons(self, user: str, title: str | None, body: str, buttons: list[Button]) -> bool:
        numbered = len(buttons) > render.MAX_CARD_BUTTONS
        if numbered:  # more than a card holds: the choices go under the text, answered by number
            await self.storage.quizzes.save_choices(
                f"menu:wecom:{user}", [b.payload for b in buttons], int(time.time())
            )
            body = f"{body}\n\n{render.numbered_menu(buttons)}"
        delivered = True
        for part in render.text_parts(body, title):
            delivered = await self._text(user, part) and delivered
        if buttons and not numbered:
            card, _ = render.button_card(title or "请选择", "", buttons)
            delivered = await self._deliver(user, card) and delivered
        return delivered

    async def _text(self, user: str, content: str) -> bool:
        return await self._deliver(user, render.text_message(content))

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


class WeComBulkSender:
    """Broadcasts on WeCom: up to 1,000 recipients per message/send call, outcomes per recipient."""

    batch = 1000

    def __init__(self, channel: WeComChannel) -> None:
        self.channel = channel

    async def deliver(self, recipient: Recipient, replies: list[Reply]) -> SendResult:
        return (await self.deliver_many([recipient], replies))[recipient.resident_id]

    async def deliver_many(self, recipients: list[Recipient], replies: list[Reply]) -> dict[int, SendResult]:
        users = [r.external_id for r in recipients]
        invalid: set[str] = set()
        try:
            for reply in replies:
                title = getattr(reply, "title", None)
                body = reply.body if isinstance(reply, Text) else getattr(reply, "caption", "")
                for part in render.text_parts(body, title):
                    result = await self.channel.client.send(users, render.text_message(part))
                    invalid |= result.invalid
        except WeComError as exc:
            if exc.errcode in RATE_ERRORS:
                return {r.resident_id: SendResult(SendStatus.RETRY_AFTER, exc.errmsg, 60.0) for r in recipients}
            if exc.errcode == 81013:  # every recipient invalid or not allowed
                return {r.resident_id: SendResult(SendStatus.FAILED, "invaliduser") for r in recipients}
            return {r.resident_id: SendResult(SendStatus.FAILED, f"errcode {exc.errcode}") for r in recipients}
        except (aiohttp.ClientError, TimeoutError) as exc:
            return {r.resident_id: SendResult(SendStatus.TRANSIENT, type(exc).__name__) for r in recipients}
        return {
            r.resident_id: SendResult(SendStatus.FAILED, "invaliduser")
            if r.external_id in invalid
            else SendResult(SendStatus.DELIVERED)
            for r in recipients
        }


def _xml_fields(data: bytes) -> dict[str, str]:
    """Top-level fields of a WeCom XML message, parsed with defusedxml (no entities, no external references)."""
    try:
        root = ElementTree.fromstring(data)
    except Exception as exc:  # defusedxml raises its own errors for entity tricks
        raise ValueError("malformed XML") from exc
    return {child.tag: (child.text or "") for child in root}


def _xml_field(data: bytes, name: str) -> str:
    value = _xml_fields(data).get(name)
    if not value:
        raise ValueError(f"no {name}")
    return value
