"""The Telegram adapter: updates in, the core's replies out, nothing decided here.

Composition (see `build_application`): one handler per kind of update, an error
handler that logs first and apologises second, and a request backend over aiohttp.

Every message goes through one send budget (`budget.py`: Telegram's overall, per-chat and per-group limits),
replies before broadcasts. Failures of the Bot API in a conversation are handled in `with_retries`: a 429
pauses the whole budget for `retry_after` and the reply is tried again, until the reply horizon
(`TELEGRAM_REPLY_HORIZON`) has passed; network errors and 5xx retry with backoff (bounded); 403 is reported as
blocked (the core marks the resident). Broadcasts use `deliver` (the channel contract, `bot/core/sending.py`):
a low-priority slot, one attempt, the outcome classified for the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telegram import BotCommand, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from bot import logs
from bot.channels.telegram.budget import Limits, Priority, SendBudget
from bot.channels.telegram.conversation import Conversation
from bot.channels.telegram.ordering import PerResidentUpdateProcessor
from bot.channels.telegram.request import AiohttpRequest
from bot.config import Identity, Settings
from bot.core.engine import Core
from bot.core.events import Incoming, Reply
from bot.core.sending import DELIVERED, SendResult, SendStatus
from bot.i18n import LANGUAGES, normalize_language, translator

log = logging.getLogger(__name__)

CHANNEL = "telegram"
COMMANDS = (
    "start",
    "menu",
    "topics",
    "tip",
    "quiz",
    "daily",
    "review",
    "rank",
    "certificate",
    "nickname",
    "place",
    "language",
    "unsubscribe",
    "subscribe",
    "help",
)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "poll_answer"]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # network errors and 5xx, per reply
    backoff: float = 0.5
    horizon: float = 60.0  # seconds a reply may wait for its slot and out 429s; after that it is given up


def file_base_url(base_url: str) -> str:
    """https://api.telegram.org/bot -> https://api.telegram.org/file/bot (same for a proxy or fake)."""
    head, sep, _ = base_url.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot" if sep else base_url.rstrip("/") + "/file/bot"


class TelegramChannel:
    name = CHANNEL
    bulk_size = 1  # one chat per sendMessage
    self_paced = True  # `deliver` takes low-priority slots of the budget the replies use (bot/core/sending.py)

    def __init__(
        self,
        core: Core,
        settings: Settings,
        retry: RetryPolicy | None = None,
        webhook: bool | None = None,
        budget: SendBudget | None = None,
    ) -> None:
        self.core = core
        self.state = core.channel_state
        self.settings = settings
        self.retry = retry or RetryPolicy(horizon=settings.telegram_reply_horizon)
        self.budget = budget or SendBudget(Limits(rate=settings.telegram_rate))
        self.replies_given_up = 0  # replies dropped after the horizon (or a flood wait beyond it)
        self.webhook = bool(settings.telegram_webhook_url) if webhook is None else webhook
        self.application = self.build_application()

    # -- composition -------------------------------------------------------------------------

    def build_application(self) -> Application:
        logs.protect(self.settings.telegram_token.value)
        proxy, backend = self.settings.telegram_proxy, self.settings.telegram_http_backend
        self._requests = (
            _request(backend, proxy, connections=256),
            _request(backend, proxy, connections=1, read_timeout=30.0),
        )
        builder = (
            ApplicationBuilder()
            .token(self.settings.telegram_token.value)
            .base_url(self.settings.telegram_api_base_url)
            .base_file_url(file_base_url(self.settings.telegram_api_base_url))
            .request(self._requests[0])
            .get_updates_request(self._requests[1])
            .concurrent_updates(PerResidentUpdateProcessor(256, self._turn))
        )
        if self.webhook:
            builder = builder.updater(None)  # our aiohttp server feeds update_queue
        application = builder.build()
        # Order matters only between the two message handlers: text (commands included) first.
        application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, self.on_text))
        application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & ~filters.TEXT, self.on_other_message))
        application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, self.on_edited))
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(ChatMemberHandler(self.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
        application.add_handler(PollAnswerHandler(self.on_poll_answer))
        application.add_error_handler(self.on_error)
        return application

    async def _register_commands(self, application: Application) -> None:
        """Register the command menu in Chinese (default) and English."""
        for language in LANGUAGES:
            t = translator(language)
            commands = [BotCommand(name, t(f"commands.{name}")) for name in COMMANDS]
            code = None if language == "zh-CN" else language  # Telegram takes two-letter codes only
            try:
                await application.bot.set_my_commands(commands, language_code=code)
            except TelegramError as exc:
                log.warning("setMyCommands (%s) failed: %s", language, type(exc).__name__)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.application.initialize()
        # We drive the lifecycle ourselves (several channels share one loop), so PTB's post_init
        # hook, which only run_polling/run_webhook call, is not used.
        await self._register_commands(self.application)
        await self.application.start()
        if not self.webhook and self.application.updater is not None:
            await self.application.updater.start_polling(
                poll_interval=0.0, timeout=10, allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1
            )
        log.info("telegram: serving @%s by %s", self.application.bot.username, "webhook" if self.webhook else "polling")

    async def stop(self) -> None:
        """Stop taking updates, finish the ones in hand, then close the HTTP clients."""
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        for request in self._requests:  # also after a start that failed half-way (PTB skips those)
            await request.shutdown()

    async def feed(self, data: dict[str, Any]) -> None:
        """Webhook path: one update as Telegram posted it, parsed here, inside the request.

        Raises ValueError when PTB cannot make an Update of it (wrong types, missing fields, nesting too deep),
        so the webhook answers 400 instead of 500.
        """
        try:
            update = Update.de_json(data, self.application.bot)
        except Exception as exc:  # de_json raises TypeError, KeyError, AttributeError, OverflowError, RecursionError...
            raise ValueError("not a Telegram update") from exc
        # Several processes behind one load balancer: a ticket now, before Telegram hears back, keeps the
        # resident's order (and answers a repeated delivery once).
        resident = PerResidentUpdateProcessor._key(update)
        if not await self.state.arrived(CHANNEL, str(update.update_id), str(resident)):
            return
        await self.application.update_queue.put(update)

    def share_limits(self, share: float) -> None:
        """Send at `share` of TELEGRAM_RATE: the other bot processes on this database send for the same bot."""
        self.budget.set_share(share)

    def _turn(self, update_key: str) -> contextlib.AbstractAsyncContextManager[None]:
        if not self.webhook:  # long polling: one process gets the updates, in order
            return contextlib.nullcontext()
        return self.state.in_turn(CHANNEL, update_key)

    # -- handlers ----------------------------------------------------------------------------

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or message.text is None:
            return
        private = chat.type == ChatType.PRIVATE
        if not private and not self._addressed_to_us(message.text):
            return  # group chatter that is not a command for this bot
        event = Incoming.from_text(
            CHANNEL,
            str(user.id),
            message.text,
            display_name=user.first_name or "",
            language=user.language_code,
            private_chat=private,
        )
        await self.core.respond(event, Conversation(self, chat.id, user.id).send)

    async def on_other_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or chat.type != ChatType.PRIVATE:
            return
        if message.new_chat_members or message.left_chat_member or message.pinned_message:
            return  # service messages are not residents talking
        event = Incoming(CHANNEL, str(user.id), display_name=user.first_name or "", language=user.language_code)
        await self.core.respond(event, Conversation(self, chat.id, user.id).send)

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An edited message was already answered in its first form; answering again would confuse."""
        log.debug("ignored an edited message")

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        conversation = Conversation(self, None, user.id, query)
        try:
            message = query.message
            chat_id = message.chat.id if message is not None else user.id
            conversation.chat_id = chat_id
            private = message is None or message.chat.type == ChatType.PRIVATE
            event = Incoming(
                CHANNEL,
                str(user.id),
                display_name=user.first_name or "",
                language=user.language_code,
                button=query.data or "",
                private_chat=private,
            )
            await self.core.respond(event, conversation.send)
        finally:
            # Always answer, or the resident's button keeps spinning.
            with contextlib.suppress(TelegramError):
                await query.answer(text=conversation.toast[:200] if conversation.toast else None)

    async def on_poll_answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A vote in a native quiz poll is the same as pressing that option's button."""
        answer = update.poll_answer
        if answer is None or answer.user is None or not answer.option_ids:
            return
        payloads = await self.state.choices(answer.poll_id)
        if payloads is None or not 0 <= answer.option_ids[0] < len(payloads):
            return
        user = answer.user
        event = Incoming(
            CHANNEL,
            str(user.id),
            display_name=user.first_name or "",
            language=user.language_code,
            button=payloads[answer.option_ids[0]],
        )
        await self.core.respond(event, Conversation(self, user.id, user.id).send)

    async def on_my_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        member = update.my_chat_member
        if member is None or member.chat.type != ChatType.PRIVATE:
            return
        status = member.new_chat_member.status
        blocked = status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
        await self.state.set_blocked(Identity(CHANNEL, str(member.from_user.id)), blocked)
        log.info("telegram: a resident %s the bot", "blocked" if blocked else "unblocked")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log first (no token: PTB's errors carry no URLs), then apologise to the resident."""
        error = context.error
        log.error("telegram: update failed: %s", type(error).__name__, exc_info=error)
        if isinstance(update, Update) and update.effective_chat is not None and update.effective_user is not None:
            t = translator(normalize_language(update.effective_user.language_code))
            with contextlib.suppress(TelegramError):
                await self.application.bot.send_message(update.effective_chat.id, t("fallback.error"))

    # -- sending -----------------------------------------------------------------------------

    def _addressed_to_us(self, text: str) -> bool:
        if not text.startswith("/"):
            return False
        head = text.split(maxsplit=1)[0]
        _, at, mention = head.partition("@")
        return not at or mention.lower() == (self.application.bot.username or "").lower()

    async def with_retries(self, call: Any, chat_id: int, edit: bool = False) -> Message | SendResult:
        """Run one Bot API call of a conversation: a reply slot of the budget, retries; the outcome if not delivered.

        A 429 pauses the whole budget (broadcasts too) and the reply waits its turn again: it is given up only when
        the reply horizon has passed, or when Telegram's wait would end beyond it.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.retry.horizon
        failures = 0
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    slot = await self.budget.acquire(chat_id, Priority.REPLY, edit=edit)
            except TimeoutError:
                return self._give_up("no slot within the reply horizon", started)
            try:
                with self.budget.sending(slot):
                    result = await call()
                return result if isinstance(result, Message) else DELIVERED
            except RetryAfter as exc:
                wait = seconds(exc.retry_after)
                self.budget.pause(wait)
                if loop.time() + wait > deadline:
                    return self._give_up(f"flood wait {wait:.0f} s beyond the reply horizon", started, wait)
            except Forbidden as exc:
                return SendResult(SendStatus.BLOCKED, exc.message[:200])
            except ChatMigrated:
                return SendResult(SendStatus.FAILED, "chat migrated")
            except BadRequest as exc:
                if "not modified" in exc.message.lower():
                    return DELIVERED  # the screen already shows exactly this
                raise
            except NetworkError as exc:  # includes 5xx and timeouts
                failures += 1
                if failures == self.retry.attempts:
                    log.warning("telegram: giving up after %d attempts: %s", failures, type(exc).__name__)
                    return SendResult(SendStatus.TRANSIENT, type(exc).__name__)
                await asyncio.sleep(self.retry.backoff * 2 ** (failures - 1))

    def _give_up(self, why: str, started: float, retry_after: float = 0.0) -> SendResult:
        self.replies_given_up += 1
        log.warning(
            "telegram: gave up a reply after %.1f s: %s (%d replies given up so far)",
            asyncio.get_running_loop().time() - started,
            why,
            self.replies_given_up,
        )
        return SendResult(SendStatus.RETRY_AFTER, why, retry_after)

    # -- deliveries outside a conversation (the channel contract) ------------------------------

    async def deliver(self, to: Identity, replies: Sequence[Reply]) -> SendResult:
        """One attempt per reply, each in a low-priority slot of the budget; the outcome classified for the worker.

        A 429 pauses the budget (replies wait too) before the worker hears of it and tries again.
        """
        chat_id = int(to.external_id)
        conversation = Conversation(self, chat_id, chat_id, bulk=True)
        try:
            for reply in replies:
                await conversation.send(reply)
        except RetryAfter as exc:
            self.budget.pause(seconds(exc.retry_after))
            return SendResult(SendStatus.RETRY_AFTER, "rate limited", seconds(exc.retry_after))
        except Forbidden as exc:
            if any(word in exc.message.lower() for word in ("blocked", "deactivated")):
                return SendResult(SendStatus.BLOCKED, exc.message[:200])
            return SendResult(SendStatus.FAILED, exc.message[:200])
        except BadRequest as exc:
            return SendResult(SendStatus.FAILED, exc.message[:200])
        except (NetworkError, ChatMigrated) as exc:  # 5xx, timeouts, connection errors
            return SendResult(SendStatus.TRANSIENT, f"{type(exc).__name__}: {exc.message[:150]}")
        return DELIVERED

    async def deliver_many(self, to: Sequence[Identity], replies: Sequence[Reply]) -> dict[Identity, SendResult]:
        return {who: await self.deliver(who, replies) for who in to}


def _request(backend: str, proxy: str | None, connections: int, read_timeout: float = 5.0) -> Any:
    if backend == "httpx" or (proxy and proxy.startswith("socks")):
        # aiohttp has no SOCKS support of its own; PTB's httpx backend has it with the [socks] extra.
        from telegram.request import HTTPXRequest

        # A small pool: httpcore's per-request cost grows with the connections in flight.
        return HTTPXRequest(
            connection_pool_size=min(connections, 8), proxy=proxy, read_timeout=read_timeout, pool_timeout=None
        )
    return AiohttpRequest(connection_limit=connections, read_timeout=read_timeout, proxy=proxy)


def seconds(value: Any) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
