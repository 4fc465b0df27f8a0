"""The 微信客服 channel: any WeChat user who scans a village's QR code chats with the bot inside WeChat.

The callback only says "there is something new" (`kf_msg_or_event` with a Token): the channel then pulls with
`kf/sync_msg` from the cursor it keeps in storage, until `has_more` is 0. Each customer message opens their
48-hour window afresh; a turn's replies are merged into as few messages as possible and never exceed the five the
window allows (`render.render_turn`). A customer who came in through a village's code (`enter_session` with
scene = place id) is registered to that village and welcomed with the welcome code. When a person has taken the
session over (state 3) the bot stays silent. Callbacks are verified like the WeCom app's (signature, corp id,
replay window, size) with the kf account's own Token and EncodingAESKey.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from bot.channels.http import WebServer
from bot.channels.wecom.api import WeComClient, WeComError
from bot.channels.wecom.callbacks import CallbackGate, Fields, finish
from bot.channels.wecom.crypto import WeComCrypto
from bot.channels.wecom_kf import render
from bot.channels.wecom_kf.api import BOT_MAY_SEND, OUT_OF_WINDOW_ERRORS, KfClient
from bot.config import Identity, Settings
from bot.core.engine import Core
from bot.core.events import Incoming, Reply
from bot.core.sending import DELIVERED, SendResult, SendStatus

log = logging.getLogger(__name__)

CHANNEL = "wecom_kf"
WINDOW_MESSAGES = 5  # per customer message …
WINDOW_HOURS = 48  # … within this many hours of it
CUSTOMER, SYSTEM_EVENT = 3, 4  # `origin` of a pulled message (5: a human agent wrote)
MEDIA_REUSE = 2 * 86400
OUT_OF_MESSAGES = "（微信一次只让我回复几条。想接着看，回我一句话就行。）"


class KfChannel:
    name = CHANNEL
    bulk_size = 1

    def __init__(self, core: Core, settings: Settings, client: KfClient | None = None) -> None:
        self.core = core
        self.state = core.channel_state
        self.settings = settings
        self.open_kfid = settings.wecom_kf_open_kfid
        crypto = WeComCrypto(settings.wecom_kf_token.value, settings.wecom_kf_aes_key.value, settings.wecom_corp_id)
        self.gate = CallbackGate(CHANNEL, crypto, settings.wecom_replay_window)
        self.client = client or KfClient(
            WeComClient(settings.wecom_api_base_url, settings.wecom_corp_id, settings.wecom_secret.value, 0),
            self.open_kfid,
        )
        self._cursor_key = f"kf:{self.open_kfid}"
        self._sync_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._media: dict[tuple[str, str], tuple[str, float]] = {}
        self._since = 0  # messages sent before the first start are history, not questions

    def routes(self, server: WebServer) -> None:
        server.app.router.add_get(self.settings.wecom_kf_callback_path, self.gate.verify_url)
        server.app.router.add_post(self.settings.wecom_kf_callback_path, self.gate.handler(self._accept))

    async def start(self) -> None:
        await self.client.start()
        self.core.deferred.channels.add(CHANNEL)
        started = await self.state.cursor(f"{self._cursor_key}:since")
        if started is None:
            started = str(int(time.time()))
            await self.state.save_cursor(f"{self._cursor_key}:since", started)
        self._since = int(started)

    async def stop(self) -> None:
        await finish(self._tasks, self.client.close)

    # -- callbacks -------------------------------------------------------------------------------

    async def _accept(self, fields: Fields) -> None:
        """A verified callback only says "there is something new": pull it, answering WeCom at once."""
        if fields.get("Event") == "kf_msg_or_event" and fields.get("OpenKfId", self.open_kfid) == self.open_kfid:
            self._spawn(self.pull(fields.get("Token") or None))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- pulling ---------------------------------------------------------------------------------

    async def pull(self, token: str | None) -> None:
        """Everything new since the stored cursor, page by page; the cursor is saved after each page."""
        async with self._sync_lock:
            try:
                cursor = await self.state.cursor(self._cursor_key)
                while True:
                    page = await self.client.sync(cursor, token)
                    log.debug("wecom_kf: pulled %d messages (more: %s)", len(page.messages), page.has_more)
                    for message in page.messages:
                        await self._dispatch(message)
                    if page.next_cursor:
                        cursor = page.next_cursor
                        await self.state.save_cursor(self._cursor_key, cursor)
                    if not page.has_more:
                        return
            except (WeComError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("wecom_kf: pulling messages failed: %s", exc)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        msgid = str(message.get("msgid", ""))
        if not msgid or int(message.get("send_time", 0)) < self._since:
            return  # history from before the bot served this account: not answered days later
        if not await self.state.first_delivery(f"kf:{msgid}"):
            return
        user = str(message.get("external_userid") or message.get("event", {}).get("external_userid") or "")
        if not user:
            return
        self._spawn(self._handle(user, message))

    async def _handle(self, user: str, message: dict[str, Any]) -> None:
        lock = self._locks.setdefault(user, asyncio.Lock())
        async with lock:  # one customer's messages in order; others do not wait
            try:
                await self._handle_one(user, message)
            except Exception:
                log.exception("wecom_kf: handling a message failed")

    async def _handle_one(self, user: str, message: dict[str, Any]) -> None:
        who = Identity(CHANNEL, user)
        origin = int(message.get("origin", 0))
        if origin == CUSTOMER:
            await self.state.window_opened(who, int(message.get("send_time", time.time())))
            event = await self._incoming(user, message)
            await self.core.respond(event, self._single(who), lambda replies: self.send_turn(who, replies))
            return
        if origin != SYSTEM_EVENT or message.get("msgtype") != "event":
            return  # a human agent's own message
        details = message.get("event") or {}
        kind = details.get("event_type")
        if kind == "enter_session":
            scene = str(details.get("scene") or "")
            event = Incoming(CHANNEL, user, display_name="", command="start", args=scene)
            code = str(details.get("welcome_code") or "")
            await self.core.respond(event, self._single(who), lambda replies: self.welcome(who, code, replies))
        elif kind == "msg_send_fail":
            failed = str(details.get("fail_msgid") or "")
            taken_back = await self.state.delivery_failed(CHANNEL, failed) if failed else 0
            log.warning(
                "wecom_kf: WeCom could not deliver message %s (fail_type %s); %d deliveries taken back",
                failed,
                details.get("fail_type"),
                taken_back,
            )

    async def _incoming(self, user: str, message: dict[str, Any]) -> Incoming:
        if message.get("msgtype") != "text":
            return Incoming(CHANNEL, user)  # image, voice…: the core answers politely
        text = message.get("text") or {}
        if text.get("menu_id"):
            return Incoming(CHANNEL, user, button=str(text["menu_id"]))
        content = str(text.get("content", ""))
        menu = await self.state.choices(_menu_key(user))
        number = content.strip()
        if menu and number.isascii() and number.isdigit() and 1 <= int(number) <= len(menu):
            return Incoming(CHANNEL, user, button=menu[int(number) - 1])
        return Incoming.from_text(CHANNEL, user, content)

    # -- sending ---------------------------------------------------------------------------------

    def _single(self, who: Identity) -> Any:
        async def send(reply: Reply) -> SendResult:
            return (await self.send_turn(who, [reply]))[0]

        return send

    async def welcome(self, who: Identity, code: str, replies: list[Reply]) -> list[SendResult]:
        """The welcome turn goes out in one message with the enter_session's code (the window is not open yet)."""
        results = [SendResult(SendStatus.OUT_OF_WINDOW, "welcome holds one message")] * len(replies)
        if not code:
            return results
        turn = await render.render_turn(replies, self._upload)
        if not turn.messages:
            return results
        first = turn.messages[0]
        try:
            msgid = await self.client.welcome(code, first.body)
        except WeComError as exc:
            log.info("wecom_kf: no welcome sent (errcode %s)", exc.errcode)
            return results
        except (aiohttp.ClientError, TimeoutError):
            return [SendResult(SendStatus.TRANSIENT, "network")] * len(replies)
        if turn.choices is not None:
            await self.state.remember_choices(_menu_key(who.external_id), turn.choices)
        sent_with_all = {i for i in first.replies if all(i not in m.replies for m in turn.messages[1:])}
        delivered = SendResult(SendStatus.DELIVERED, receipt=msgid or None)
        return [delivered if i in sent_with_all else results[i] for i in range(len(replies))]

    async def send_turn(self, who: Identity, replies: list[Reply]) -> list[SendResult]:
        """A turn's replies in as few messages as the window allows; one result per reply."""
        now = int(time.time())
        if not await self.state.window_remaining(who, now, WINDOW_MESSAGES, WINDOW_HOURS):
            return [SendResult(SendStatus.OUT_OF_WINDOW, "window closed")] * len(replies)
        try:
            state = await self.client.state(who.external_id)
            if state not in BOT_MAY_SEND:
                # A person is serving this customer (or the session ended): the bot stays out of it.
                log.info("wecom_kf: session state %d, the bot stays silent", state)
                return [SendResult(SendStatus.FAILED, "not the bot's session")] * len(replies)
            turn = await render.render_turn(replies, self._upload)
        except WeComError as exc:
            return [SendResult(SendStatus.FAILED, f"errcode {exc.errcode}")] * len(replies)
        except (aiohttp.ClientError, TimeoutError):
            return [SendResult(SendStatus.TRANSIENT, "network")] * len(replies)
        messages = turn.messages
        granted = await self.state.take_from_window(who, len(messages), now, WINDOW_MESSAGES, WINDOW_HOURS)
        if granted < len(messages) and granted:
            messages = messages[:granted]
            messages[-1] = _with_note(messages[-1], OUT_OF_MESSAGES)
        if turn.choices is not None:
            await self.state.remember_choices(_menu_key(who.external_id), turn.choices)
        sent: dict[int, str] = {}  # positions in turn.messages that went out, and their msgids
        failure: SendResult | None = None if granted else SendResult(SendStatus.OUT_OF_WINDOW, "window closed")
        for number, message in enumerate(messages):
            try:
                sent[number] = await self.client.send(who.external_id, message.body)
            except WeComError as exc:
                await self.state.give_back_to_window(who, len(messages) - number)
                status = SendStatus.OUT_OF_WINDOW if exc.errcode in OUT_OF_WINDOW_ERRORS else SendStatus.FAILED
                failure = SendResult(status, f"errcode {exc.errcode}")
                break
            except (aiohttp.ClientError, TimeoutError):
                await self.state.give_back_to_window(who, len(messages) - number)
                failure = SendResult(SendStatus.TRANSIENT, "network")
                break
        missing = failure or SendResult(SendStatus.OUT_OF_WINDOW, "over the window's five messages")
        if failure is not None:
            log.info("wecom_kf: %d of %d messages sent (%s)", len(sent), len(turn.messages), failure.reason)
        results = []
        for index in range(len(replies)):
            carried = [number for number, m in enumerate(turn.messages) if index in m.replies]
            delivered = bool(carried) and all(number in sent for number in carried)
            # errcode 0 is not delivery: the msgid lets a later msg_send_fail take the count back.
            receipt = sent[carried[-1]] if delivered else None
            results.append(SendResult(SendStatus.DELIVERED, receipt=receipt or None) if delivered else missing)
        return results

    async def _upload(self, kind: str, filename: str, data: bytes) -> str:
        key = (kind, hashlib.sha256(data).hexdigest())
        cached = self._media.get(key)
        if cached is not None and time.time() - cached[1] < MEDIA_REUSE:
            return cached[0]
        media_id = await self.client.client.upload(kind, filename, data)
        self._media[key] = (media_id, time.time())
        return media_id

    # -- deliveries outside a conversation (the channel contract) ------------------------------

    async def deliver(self, to: Identity, replies: Sequence[Reply]) -> SendResult:
        results = await self.send_turn(to, list(replies))
        if not results:
            return DELIVERED
        return next((r for r in results if not r.delivered), results[-1])  # delivered: the last one's receipt

    async def deliver_many(self, to: Sequence[Identity], replies: Sequence[Reply]) -> dict[Identity, SendResult]:
        return {who: await self.deliver(who, replies) for who in to}


def _with_note(message: render.Message, note: str) -> render.Message:
    body = dict(message.body)
    if body.get("msgtype") == "text":
        body["text"] = {"content": render.cut(f"{body['text']['content']}\n\n{note}", 2048)}
    elif body.get("msgtype") == "msgmenu":
        menu = dict(body["msgmenu"])
        menu["tail_content"] = note
        body["msgmenu"] = menu
    return render.Message(body, message.replies)


def _menu_key(user: str) -> str:
    return f"menu:{CHANNEL}:{user}"
