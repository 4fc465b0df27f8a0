"""The broadcast worker: claims due broadcasts and sends them, paced, batch by batch.

Channels implement `BulkSender.deliver` (one recipient, no retries of its own); retries,
backoff and pacing are decided here, once for every channel:
- 429 (`retry_after`): the pacer pauses everyone, then the same recipient is tried again;
- 403 blocked: the resident is marked blocked, no retry;
- network errors and 5xx: retried with backoff, `max_attempts` in all, then failed with the reason.
Nothing ambiguous ever marks a resident blocked, so an outage cannot wipe the audience.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from bot.broadcasting.pacing import Pacer
from bot.content.model import Catalog
from bot.content.store import ContentStore
from bot.core import screens
from bot.core.events import Button, Delivery, Image, Reply, Text
from bot.core.payloads import Action, encode
from bot.i18n import translator
from bot.storage import Broadcast, Outcome, Recipient, Storage
from bot.storage.sqlite import ReachEvent

log = logging.getLogger(__name__)


class SendStatus(StrEnum):
    DELIVERED = "delivered"
    BLOCKED = "blocked"
    RETRY_AFTER = "retry_after"  # rate limited: wait `retry_after`, then try again
    TRANSIENT = "transient"  # network error or 5xx: back off and try again
    FAILED = "failed"  # will not work however often we try (bad request, chat not found)


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    reason: str | None = None
    retry_after: float = 0.0


class BulkSender(Protocol):
    async def deliver(self, recipient: Recipient, replies: list[Reply]) -> SendResult: ...


@dataclass(frozen=True)
class BroadcastSettings:
    rate: float = 25.0  # messages per second overall (Telegram allows ~30)
    per_chat_interval: float = 1.0  # seconds between two messages to one chat
    batch_size: int = 25  # outcomes written per batch: also the most that a kill -9 can send twice
    max_attempts: int = 5
    backoff: float = 1.0
    lease: int = 30  # seconds another process waits before taking over a silent sender's broadcast
    poll_interval: float = 1.0


def broadcast_replies(
    broadcast: Broadcast, catalog: Catalog, language: str | None, content_dir: Path
) -> list[Reply] | None:
    """What each recipient gets, or None when the content no longer exists."""
    t = translator(language or "zh-CN")
    delivery = Delivery(
        "broadcast",
        topic_id=broadcast.topic_id,
        item_id=broadcast.item_id,
        campaign_id=broadcast.campaign_id,
        broadcast_id=broadcast.id,
    )
    footer = t("broadcast.footer")
    if broadcast.item_id:
        tip = catalog.tip(broadcast.item_id)
        topic = catalog.topic(tip.topic_id) if tip else None
        if tip is None or topic is None:
            return None
        sources = "；".join(c.render() for c in tip.sources)
        body = f"{tip.body}\n\n{t('tip.source', sources=sources)}\n\n{footer}"
        buttons = ((Button(topic.label(t.language), encode(Action.TOPIC, topic.id)), screens.menu_button(t)),)
        if tip.image:
            return [Image(content_dir / tip.image, caption=body, title=tip.title, buttons=buttons, delivery=delivery)]
        return [Text(body, title=tip.title, buttons=buttons, delivery=delivery)]
    text = Text(
        f"{broadcast.text}\n\n{footer}",
        title=t("broadcast.title"),
        buttons=((screens.menu_button(t),),),
        delivery=delivery,
    )
    if broadcast.image:
        return [Image(content_dir / broadcast.image), text]
    return [text]


class BroadcastWorker:
    def __init__(
        self,
        storage: Storage,
        content: ContentStore,
        senders: dict[str, BulkSender],
        settings: BroadcastSettings | None = None,
        clock: Callable[[], float] = time.time,
        on_tick: Callable[[], object] | None = None,
    ) -> None:
        self.storage = storage
        self.store = storage.broadcasts
        self.content = content
        self.senders = senders
        self.settings = settings or BroadcastSettings()
        self.pacer = Pacer(self.settings.rate)
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.on_tick = on_tick  # e.g. the publicity calendar, run before each look for due broadcasts
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="broadcast-worker")

    async def stop(self) -> None:
        """Finish the batch in hand (its outcomes are written), then stop."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.on_tick is not None:
                    result = self.on_tick()
                    if asyncio.iscoroutine(result):
                        await result
                sent = await self.run_once()
            except Exception:
                log.exception("broadcast worker: a round failed; trying again shortly")
                sent = False
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.settings.poll_interval)

    async def run_once(self) -> bool:
        """Send one due broadcast to completion (or until stopped). False when nothing was due."""
        now = int(self.clock())
        broadcast = await self.store.claim_due(self.owner, now, self.settings.lease, list(self.senders))
        if broadcast is None:
            return False
        log.info("broadcast %d: sending to %d recipients", broadcast.id, broadcast.targeted)
        while not self._stopping.is_set():
            recipients = await self.store.pending(broadcast.id, self.settings.batch_size)
            if not recipients:
                break
            outcomes, events = await self._send_batch(broadcast, recipients)
            await self.store.record(broadcast.id, outcomes, events, int(self.clock()))
            if not await self.store.renew_lease(broadcast.id, self.owner, int(self.clock()) + self.settings.lease):
                log.warning("broadcast %d: cancelled or taken over; stopping", broadcast.id)
                return True
        if await self.store.finish_if_done(broadcast.id, int(self.clock())):
            progress = await self.store.progress(broadcast.id)
            log.info("broadcast %d: done %s", broadcast.id, progress.as_dict())
        return True

    async def _send_batch(
        self, broadcast: Broadcast, recipients: list[Recipient]
    ) -> tuple[list[Outcome], list[ReachEvent]]:
        catalog = self.content.catalog
        bulk = [r for r in recipients if hasattr(self.senders.get(r.channel), "deliver_many")]
        single = [r for r in recipients if r not in bulk]
        results_by_id = {r.resident_id: res for r, res in await self._send_many(broadcast, catalog, bulk)}
        for recipient, result in zip(
            single, await asyncio.gather(*(self._send_one(broadcast, catalog, r) for r in single)), strict=True
        ):
            results_by_id[recipient.resident_id] = result
        results = [results_by_id[r.resident_id] for r in recipients]
        outcomes, events = [], []
        for recipient, (outcome, delivery) in zip(recipients, results, strict=True):
            outcomes.append(outcome)
            if outcome.status == "delivered" and delivery is not None:
                events.append(
                    ReachEvent(
                        resident_id=recipient.resident_id,
                        channel=recipient.channel,
                        kind="broadcast",
                        topic_id=delivery.topic_id,
                        item_id=delivery.item_id,
                        place_id=recipient.place_id,
                        campaign_id=delivery.campaign_id,
                        broadcast_id=broadcast.id,
                    )
                )
        return outcomes, events

    async def _send_many(
        self, broadcast: Broadcast, catalog: Catalog, recipients: list[Recipient]
    ) -> list[tuple[Recipient, tuple[Outcome, Delivery | None]]]:
        """Channels that take many recipients per call (WeCom's touser): one call per language group."""
        done: list[tuple[Recipient, tuple[Outcome, Delivery | None]]] = []
        groups: dict[tuple[str, str | None], list[Recipient]] = {}
        for recipient in recipients:
            groups.setdefault((recipient.channel, recipient.language), []).append(recipient)
        for (channel, language), group in groups.items():
            sender = self.senders[channel]
            replies = broadcast_replies(broadcast, catalog, language, self.content.directory)
            if replies is None:
                done += [(r, (Outcome(r.resident_id, "failed", "content no longer exists", 0), None)) for r in group]
                continue
            delivery = next((r.delivery for r in replies if r.delivery is not None), None)
            pending, attempt = list(group), 0
            while pending:
                attempt += 1
                await self.pacer.acquire()
                results = await sender.deliver_many(pending, replies)  # type: ignore[attr-defined]
                retry = []
                for recipient in pending:
                    result = results[recipient.resident_id]
                    if result.status is SendStatus.RETRY_AFTER and attempt < self.settings.max_attempts:
                        self.pacer.pause(result.retry_after)
                        retry.append(recipient)
                    elif result.status is SendStatus.TRANSIENT and attempt < self.settings.max_attempts:
                        retry.append(recipient)
                    else:
                        status = {SendStatus.DELIVERED: "delivered", SendStatus.BLOCKED: "blocked"}.get(
                            result.status, "failed"
                        )
                        done.append(
                            (recipient, (Outcome(recipient.resident_id, status, result.reason, attempt), delivery))
                        )
                if retry and attempt < self.settings.max_attempts:
                    await asyncio.sleep(self.settings.backoff * 2 ** (attempt - 1))
                pending = retry
        return done

    async def _send_one(
        self, broadcast: Broadcast, catalog: Catalog, recipient: Recipient
    ) -> tuple[Outcome, Delivery | None]:
        sender = self.senders.get(recipient.channel)
        if sender is None:
            return Outcome(recipient.resident_id, "failed", f"channel {recipient.channel} not running", 0), None
        replies = broadcast_replies(broadcast, catalog, recipient.language, self.content.directory)
        if replies is None:
            return Outcome(recipient.resident_id, "failed", "content no longer exists", 0), None
        delivery = next((r.delivery for r in replies if r.delivery is not None), None)
        result = SendResult(SendStatus.FAILED, "not attempted")
        attempts = 0
        for part_number, part in enumerate(replies):
            if part_number:
                await asyncio.sleep(self.settings.per_chat_interval)  # ≤ 1 message/s to one chat
            result, used = await self._deliver_with_retries(sender, recipient, part)
            attempts += used
            if result.status is not SendStatus.DELIVERED:
                break
        status = {SendStatus.DELIVERED: "delivered", SendStatus.BLOCKED: "blocked"}.get(result.status, "failed")
        return Outcome(recipient.resident_id, status, result.reason, attempts), delivery

    async def _deliver_with_retries(
        self, sender: BulkSender, recipient: Recipient, reply: Reply
    ) -> tuple[SendResult, int]:
        attempt, rate_limited = 0, 0
        while True:
            await self.pacer.acquire()
            attempt += 1
            try:
                result = await sender.deliver(recipient, [reply])
            except Exception as exc:  # a bug in a sender must not stop the broadcast
                log.exception("broadcast: sender raised")
                result = SendResult(SendStatus.TRANSIENT, f"{type(exc).__name__}")
            if result.status is SendStatus.RETRY_AFTER and rate_limited < 10:
                rate_limited += 1
                attempt -= 1  # waiting out a rate limit is not a failed attempt
                self.pacer.pause(result.retry_after + 0.1)
                continue
            if result.status is SendStatus.TRANSIENT and attempt < self.settings.max_attempts:
                await asyncio.sleep(self.settings.backoff * 2 ** (attempt - 1))
                continue
            if result.status in (SendStatus.TRANSIENT, SendStatus.RETRY_AFTER):
                return SendResult(SendStatus.FAILED, result.reason or "gave up after retries"), attempt
            return result, attempt


def local_timestamp(text: str, zone: dt.tzinfo) -> int:
    """'YYYY-MM-DD HH:MM' in the town's time zone -> unix seconds."""
    moment = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    return int(moment.timestamp())
