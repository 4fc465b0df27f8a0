"""One turn's replies to one Telegram chat: text (split to Telegram's limits), buttons, quiz polls, images,
documents; the pressed message is edited in place where the core allows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from telegram import CallbackQuery, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application

from bot.channels.telegram import render
from bot.channels.telegram.budget import Priority, SendBudget
from bot.config import Settings
from bot.core.events import Document, Image, Question, Reply, Text, Toast
from bot.core.sending import DELIVERED, SendResult, SendStatus

log = logging.getLogger(__name__)


class _State(Protocol):
    async def remember_choices(self, key: str, payloads: Sequence[str]) -> None: ...


class Sender(Protocol):
    """What a conversation needs of the channel."""

    application: Application
    settings: Settings
    state: _State
    budget: SendBudget

    async def with_retries(self, call: Any, chat_id: int, edit: bool = False) -> Message | SendResult: ...


@dataclass
class Conversation:
    """Sends one turn's replies to one chat; edits the pressed message where the core allows."""

    channel: Sender
    chat_id: int | None
    user_id: int
    query: CallbackQuery | None = None
    toast: str | None = None
    edited: bool = field(default=False)
    bulk: bool = False  # a broadcast: low priority, no retries here (errors propagate to the broadcast worker)
    failure: SendResult | None = None  # why the last reply was not delivered

    async def deliver(self, call: Any, edit: bool = False) -> Message | bool:
        """One Bot API call in a slot of the channel's budget; remembers why it failed, for `send` to report."""
        chat_id = self.chat_id if self.chat_id is not None else self.user_id
        if self.bulk:
            slot = await self.channel.budget.acquire(chat_id, Priority.BROADCAST, edit=edit)
            with self.channel.budget.sending(slot):
                result = await call()
            return result if isinstance(result, Message) else True
        result = await self.channel.with_retries(call, chat_id, edit)
        if isinstance(result, SendResult) and not result.delivered:
            self.failure = result
            return False
        return result if isinstance(result, Message) else True

    async def send(self, reply: Reply) -> SendResult:
        self.failure = None
        delivered = await self._send(reply)
        if delivered:
            return DELIVERED
        return self.failure if self.failure is not None else SendResult(SendStatus.FAILED, "not delivered")

    async def _send(self, reply: Reply) -> bool:
        bot = self.channel.application.bot
        deliver = self.deliver
        chat_id = self.chat_id if self.chat_id is not None else self.user_id
        if isinstance(reply, Toast):
            if self.query is not None:
                self.toast = reply.text
                return True
            return bool(
                await deliver(
                    lambda: bot.send_message(chat_id, render.html_message(reply.text), parse_mode=ParseMode.HTML)
                )
            )
        if isinstance(reply, Text):
            return await self._send_text(reply, chat_id)
        if isinstance(reply, Question):
            if self.channel.settings.telegram_quiz_polls and _fits_poll(reply):
                return await self._send_poll(reply, chat_id)
            return await self._send_text(Text(reply.body, title=reply.title, buttons=reply.buttons), chat_id)
        if isinstance(reply, Image):
            return await self._send_image(reply, chat_id)
        if isinstance(reply, Document):
            return bool(
                await deliver(
                    lambda: bot.send_document(
                        chat_id,
                        document=reply.data,
                        filename=reply.filename,
                        caption=render.html_message(reply.caption)[: render.MAX_CAPTION] or None,
                        parse_mode=ParseMode.HTML,
                    )
                )
            )
        raise TypeError(f"unknown reply {type(reply).__name__}")

    async def _send_text(self, reply: Text, chat_id: int) -> bool:
        bot, deliver = self.channel.application.bot, self.deliver
        parts = render.message_parts(reply.body, reply.title)
        markup = render.keyboard(reply.buttons)
        message = self.query.message if self.query is not None else None
        if reply.replace and not self.edited and len(parts) == 1 and isinstance(message, Message) and message.text:
            self.edited = True
            try:
                return bool(
                    await deliver(
                        lambda: bot.edit_message_text(
                            parts[0],
                            chat_id=chat_id,
                            message_id=message.message_id,
                            parse_mode=ParseMode.HTML,
                            reply_markup=markup,
                        ),
                        edit=True,
                    )
                )
            except BadRequest as exc:
                if self.bulk:
                    raise
                log.debug("telegram: edit failed (%s); sending a new message", exc.message)
        delivered = True
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            result = await deliver(
                lambda part=part, last=last: bot.send_message(
                    chat_id, part, parse_mode=ParseMode.HTML, reply_markup=markup if last else None
                )
            )
            delivered = delivered and bool(result)
            if not result:
                break
        return delivered

    async def _send_poll(self, reply: Question, chat_id: int) -> bool:
        """A native quiz poll; non-anonymous, so each vote is attributable to its resident."""
        bot, deliver = self.channel.application.bot, self.deliver
        question = f"{reply.title}\n{reply.text}" if reply.title else reply.text
        message = await deliver(
            lambda: bot.send_poll(
                chat_id,
                question=question[:300],
                options=list(reply.options),
                type="quiz",
                is_anonymous=False,
                correct_option_ids=[reply.correct],
                explanation=reply.explanation[:200],
            )
        )
        if not isinstance(message, Message) or message.poll is None:
            return False
        await self.channel.state.remember_choices(message.poll.id, reply.payloads)
        return True

    async def _send_image(self, reply: Image, chat_id: int) -> bool:
        bot, deliver = self.channel.application.bot, self.deliver
        caption = render.html_message(reply.caption, reply.title)
        markup = render.keyboard(reply.buttons)
        fits = len(caption) <= render.MAX_CAPTION

        async def send_photo() -> Message:
            with reply.path.open("rb") as photo:
                return await bot.send_photo(
                    chat_id,
                    photo=photo,
                    caption=caption if fits else None,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup if fits else None,
                )

        if not await deliver(send_photo):
            return False
        if fits:
            return True
        return await self._send_text(Text(reply.caption, title=reply.title, buttons=reply.buttons), chat_id)


def _fits_poll(reply: Question) -> bool:
    """Telegram's quiz limits: question ≤ 300, options ≤ 100 each, explanation ≤ 200 characters."""
    question = len(reply.text) + (len(reply.title) + 1 if reply.title else 0)
    return question <= 300 and all(len(o) <= 100 for o in reply.options) and len(reply.explanation) <= 200
