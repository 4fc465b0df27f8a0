"""The channel contract: the one page a new chat channel implements.

A channel (Telegram, WeCom, the console, …) does two jobs:
- **Conversations.** It turns what a resident sent into an `Incoming` event and calls
  `Core.respond(event, send)`; `send` delivers one reply to that resident and returns a `SendResult`.
  The core records a reach event for every delivered reply and marks a resident who blocked the bot.
- **Deliveries outside a conversation** (broadcasts, campaign days, notices to admins): `deliver` sends
  replies to one person, `deliver_many` to many in one call where the platform allows it. Each makes one
  attempt and classifies the outcome; the broadcast worker decides about pacing and retries, once for
  every channel — unless the channel is **self-paced** (`self_paced = True`, read with `is_self_paced`):
  then each delivery waits for a low-priority slot of the channel's own send budget, the one its
  conversations' replies use first, and the channel pauses that budget on a rate limit itself. The worker
  adds no pacing of its own there (beyond an optional ceiling) and still decides about retries.

Channels report outcomes and never write storage themselves; the state they need across restarts
(numbered-menu choices, poll options, callbacks already seen) goes through `ChannelState`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.config import Identity
from bot.core.events import Reply
from bot.storage import Storage

TURN_POLL = 0.02  # seconds between looks at whether an earlier update of the same resident was answered
TURN_STALE = 10.0  # an earlier update still unanswered after this long (its process died) is passed over


class SendStatus(StrEnum):
    DELIVERED = "delivered"
    BLOCKED = "blocked"  # the resident blocked the bot or left: stop sending to them
    RETRY_AFTER = "retry_after"  # rate limited: wait `retry_after`, then try again
    TRANSIENT = "transient"  # network error or 5xx: back off and try again
    FAILED = "failed"  # will not work however often we try (bad request, chat not found)
    # The channel may write to this resident only within a while after they wrote (微信客服: 48 hours, 5 messages);
    # now it may not. Never counted as delivered; a broadcast may wait for their next message.
    OUT_OF_WINDOW = "out_of_window"


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    reason: str | None = None
    retry_after: float = 0.0
    receipt: str | None = None  # the platform's id of the message, where a failure may be reported later

    @property
    def delivered(self) -> bool:
        return self.status is SendStatus.DELIVERED

    def __bool__(self) -> bool:
        return self.delivered

    @classmethod
    def of(cls, value: SendResult | bool) -> SendResult:
        """A plain True/False from a simple sender (the console, a test) as a result."""
        if isinstance(value, SendResult):
            return value
        return DELIVERED if value else cls(SendStatus.FAILED, "not delivered")


DELIVERED = SendResult(SendStatus.DELIVERED)

# One reply of a turn to the resident who wrote; a bool is read as delivered / not delivered.
Send = Callable[[Reply], Awaitable[SendResult | bool]]
SendTurn = Callable[[list[Reply]], Awaitable[list[SendResult]]]  # a turn's replies at once, a result per reply


class Channel(Protocol):
    """What the runner starts and stops, and what the broadcast worker sends through."""

    name: str  # "telegram", "wecom": the channel part of a resident's identity
    bulk_size: int  # recipients one `deliver_many` call takes; 1 = the worker sends one by one
    # Optional, read with `is_self_paced`: `self_paced = True` when deliveries share the channel's send budget
    # with its replies (see the module docstring); a channel without the attribute is paced by the worker.

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def deliver(self, to: Identity, replies: Sequence[Reply]) -> SendResult:
        """Send `replies` to one person, one attempt, no retries of its own."""
        ...

    async def deliver_many(self, to: Sequence[Identity], replies: Sequence[Reply]) -> dict[Identity, SendResult]:
        """Send the same `replies` to up to `bulk_size` people; one result per person."""
        ...


def is_self_paced(channel: object) -> bool:
    """Does this channel pace its deliveries itself, in one budget with its replies (`Channel.self_paced`)?"""
    return getattr(channel, "self_paced", False) is True


class ChannelState:
    """The state channels keep across restarts, without reaching into storage themselves."""

    def __init__(self, storage: Storage, owner: str = "", ordered: bool | None = None) -> None:
        self._conversations = storage.conversations
        self._residents = storage.residents
        self._windows = storage.windows
        self._receipts = storage.receipts
        self._turns = storage.turns
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        # Several processes may serve this database: a resident's updates are then answered in the order they
        # arrived, whichever process they reached (turn tickets); one process keeps that order in memory.
        self.ordered_across_processes = storage.shared if ordered is None else ordered

    async def arrived(self, channel: str, update_key: str, resident_key: str) -> bool:
        """An update reached this process (before it is acknowledged); False when it arrived before (a repeated
        delivery): it is answered once, by whichever process took it first."""
        if not self.ordered_across_processes:
            return True
        return await self._turns.take(channel, update_key, resident_key, self.owner)

    @contextlib.asynccontextmanager
    async def in_turn(self, channel: str, update_key: str) -> AsyncIterator[None]:
        """Wait until the resident's earlier updates (on any process) were answered, then answer this one."""
        if not self.ordered_across_processes:
            yield
            return
        waited = 0.0
        while waited < TURN_STALE and not await self._turns.my_turn(channel, update_key, int(TURN_STALE)):
            await asyncio.sleep(TURN_POLL)
            waited += TURN_POLL
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # an unmarked ticket only delays the next one, up to TURN_STALE
                await self._turns.done(channel, update_key)

    async def first_delivery(self, key: str) -> bool:
        """True the first time a platform delivers this message or event (retries return False)."""
        return await self._conversations.first_callback(key)

    async def remember_choices(self, key: str, payloads: Sequence[str]) -> None:
        """Which button each numbered choice or poll option stands for."""
        await self._conversations.save_choices(key, list(payloads))

    async def choices(self, key: str) -> list[str] | None:
        return await self._conversations.choices(key)

    async def delivery_failed(self, channel: str, receipt: str) -> int:
        """The platform reports, after the fact, that a message it accepted was not delivered: its counts are
        taken back. How many deliveries that was (0 when the receipt is unknown)."""
        return await self._receipts.reverse(channel, receipt)

    async def window_opened(self, who: Identity, at: int) -> None:
        """The resident wrote at `at`: their conversation window opens afresh."""
        await self._windows.opened(who.channel, who.external_id, at)

    async def take_from_window(self, who: Identity, count: int, now: int, limit: int, hours: int) -> int:
        """Reserve up to `count` messages of the resident's window; how many may be sent."""
        return await self._windows.take(who.channel, who.external_id, count, now, limit, hours)

    async def window_remaining(self, who: Identity, now: int, limit: int, hours: int) -> int:
        return (await self._windows.get(who.channel, who.external_id)).remaining(now, limit, hours)

    async def give_back_to_window(self, who: Identity, count: int) -> None:
        await self._windows.give_back(who.channel, who.external_id, count)

    async def cursor(self, key: str) -> str | None:
        """Where a channel's pull of messages stopped."""
        return await self._windows.cursor(key)

    async def save_cursor(self, key: str, cursor: str) -> None:
        await self._windows.save_cursor(key, cursor)

    async def set_blocked(self, who: Identity, blocked: bool) -> None:
        """The platform told us (outside any send) that a resident blocked or unblocked the bot."""
        await self._residents.set_blocked(who.channel, who.external_id, blocked)
