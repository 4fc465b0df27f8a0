"""The broadcast worker: claims due broadcasts and sends them, paced, batch by batch.

Channels implement `Channel.deliver` / `deliver_many` (`bot/core/sending.py`: one attempt, no retries of
their own); retries, backoff and pacing are decided here, once for every channel:
- 429 (`retry_after`): the pacer pauses everyone, then the same recipient is tried again;
- blocked: the resident is marked blocked, no retry;
- network errors and 5xx: retried with backoff, `max_attempts` in all, then failed with the reason.
Nothing ambiguous ever marks a resident blocked, so an outage cannot wipe the audience.

Pacing: the worker's own pacer (`rate`) for channels without a send budget (WeCom's calls). A self-paced
channel (Telegram) gives each delivery a low-priority slot of the budget its replies use first, and pauses that
budget itself on a 429; the worker only keeps an optional ceiling there (`budget_ceiling`) and the same retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.broadcasting.pacing import Pacer
from bot.config import Identity
from bot.content.model import Catalog
from bot.content.store import ContentStore
from bot.core.events import Delivery, Reply
from bot.core.screens import BroadcastContent, broadcast_message
from bot.core.sending import Channel, SendResult, SendStatus, is_self_paced
from bot.storage import Broadcast, Outcome, ReachEvent, Recipient, Storage

log = logging.getLogger(__name__)


@dataclass
class _Lease:
    lost: bool = False  # cancelled by an admin, or taken over after this process fell silent


_OUTCOME = {  # anything else: failed
    SendStatus.DELIVERED: "delivered",
    SendStatus.BLOCKED: "blocked",
    SendStatus.OUT_OF_WINDOW: "out_of_window",
}


@dataclass(frozen=True)
class BroadcastSettings:
    rate: float = 25.0  # sends per second on channels without a send budget of their own (WeCom's calls)
    # Self-paced channels (Telegram): at most this many per second on top of the channel's own budget;
    # None = `rate`, math.inf = the channel's budget alone (what `bot run` uses: broadcasts fill what replies leave).
    budget_ceiling: float | None = None
    per_chat_interval: float = 1.0  # seconds between two messages to one chat
    batch_size: int = 25  # outcomes written per batch: also the most that a kill -9 can send twice
    max_attempts: int = 5
    backoff: float = 1.0
    lease: int = 30  # seconds another process waits before taking over a silent sender's broadcast
    poll_interval: float = 1.0
    # A broadcast that missed a resident's conversation window (微信客服) goes out with the reply to their next
    # message within this many days; 0 = never.
    defer_days: int = 7


def broadcast_replies(
    broadcast: Broadcast, catalog: Catalog, language: str | None, content_dir: Path
) -> list[Reply] | None:
    """What each recipient of this broadcast gets, or None when the content no longer exists."""
    return broadcast_message(BroadcastContent.of(broadcast), catalog, language, content_dir)


class BroadcastWorker:
    def __init__(
        self,
        storage: Storage,
        content: ContentStore,
        channels: Mapping[str, Channel],
        settings: BroadcastSettings | None = None,
        clock: Callable[[], float] = time.time,
        on_tick: Callable[[], object] | None = None,
    ) -> None:
        self.storage = storage
        self.store = storage.broadcasts
        self.content = content
        self.channels = channels
        self.settings = settings or BroadcastSettings()
        self.pacer = Pacer(self.settings.rate)
        ceiling = self.settings.rate if self.settings.budget_ceiling is None else self.settings.budget_ceiling
        self.ceiling = Pacer(ceiling) if math.isfinite(ceiling) else None  # for self-paced channels
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.on_tick = on_tick  # e.g. the publicity calendar, run before each look for due broadcasts
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def share_limits(self, share: float) -> None:
        """Pace at `share` of BROADCAST_RATE (the channels without a budget of their own: WeCom)."""
        self.pacer.set_rate(self.settings.rate * share)
        if self.ceiling is not None:
            self.ceiling.set_rate(self.settings.rate * share)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="broadcast-worker")

    async def stop(self) -> None:
        """Finish the batch in hand (its outcomes are written), then stop."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        failures = RoundFailures()
        while not self._stopping.is_set():
            try:
                if self.on_tick is not None:
                    result = self.on_tick()
                    if asyncio.iscoroutine(result):
                        await result
                sent = await self.run_once()
                failures.succeeded()
            except Exception as exc:
                failures.failed(exc)
                sent = False
            if not sent:
                wait = max(self.settings.poll_interval, failures.backoff(self.settings.poll_interval))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), wait)

    async def run_once(self) -> bool:
        """Send batches of one broadcast with work until none is left for this process (or it is stopped); False
        when nothing was due. Several processes on one database send the same broadcast side by side: each
        batch is claimed (`claim_batch`) and held while it is sent; a batch whose process went silent longer
        than the lease is claimed again by another, so a killed process costs at most one batch sent twice."""
        now = int(self.clock())
        broadcast = await self.store.claim_due(self.owner, now, self.settings.lease, list(self.channels))
        if broadcast is None:
            return False
        log.info("broadcast %d: sending (%d recipients)", broadcast.id, broadcast.targeted)
        while not self._stopping.is_set():
            recipients = await self.store.claim_batch(
                broadcast.id, self.owner, int(self.clock()), self.settings.lease, self.settings.batch_size
            )
            if not recipients:
                break
            # The claim is renewed while the batch is in flight, however long the pacer makes it wait
            # (a 429's retry_after, WeCom's 60 s pause): only a silent process loses its batch.
            async with self._holding_claim(broadcast.id) as claim:
                outcomes, events = await self._send_batch(broadcast, recipients)
            await self.store.record(broadcast.id, outcomes, events, int(self.clock()))
            await self._remember_receipts(outcomes, events)
            if claim.lost:
                log.warning("broadcast %d: cancelled or taken over; stopping", broadcast.id)
                return True
        if await self.store.finish_if_done(broadcast.id, int(self.clock())):
            progress = await self.store.progress(broadcast.id)
            log.info("broadcast %d: done %s", broadcast.id, progress.as_dict())
        return True

    @contextlib.asynccontextmanager
    async def _holding_claim(self, broadcast_id: int) -> AsyncIterator[_Lease]:
        lease = _Lease()

        async def keep_renewing() -> None:
            while True:
                await asyncio.sleep(max(0.5, self.settings.lease / 3))
                try:
                    until = int(self.clock()) + self.settings.lease
                    if not await self.store.renew_claims(broadcast_id, self.owner, until):
                        lease.lost = True
                        return
                except Exception:  # a busy database now and then: the next renewal comes well before expiry
                    log.warning("broadcast %d: renewing the claim failed; trying again", broadcast_id)

        task = asyncio.get_running_loop().create_task(keep_renewing())
        try:
            yield lease
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _send_batch(
        self, broadcast: Broadcast, recipients: list[Recipient]
    ) -> tuple[list[Outcome], list[ReachEvent]]:
        catalog = self.content.catalog
        by_bulk = [r for r in recipients if self._bulk_size(r.channel) > 1]
        one_by_one = [r for r in recipients if self._bulk_size(r.channel) <= 1]
        results = dict(await self._send_many(broadcast, catalog, by_bulk))
        singles = await asyncio.gather(*(self._send_one(broadcast, catalog, r) for r in one_by_one))
        results.update(zip((r.resident_id for r in one_by_one), singles, strict=True))
        now = int(self.clock())
        outcomes, events = [], []
        for recipient in recipients:
            outcome, delivery = results[recipient.resident_id]
            outcomes.append(outcome)
            if outcome.status == "delivered" and delivery is not None:
                ts = now if outcome.receipt else None  # a receipt names its event by time
                events.append(
                    delivery.event(
                        recipient.resident_id, recipient.channel, recipient.place_id, ts=ts, broadcast_id=broadcast.id
                    )
                )
        return outcomes, events

    async def _remember_receipts(self, outcomes: list[Outcome], events: list[ReachEvent]) -> None:
        by_resident = {event.resident_id: event for event in events}
        for outcome in outcomes:
            event = by_resident.get(outcome.resident_id)
            if outcome.receipt and event is not None and event.ts is not None:
                try:
                    await self.storage.receipts.remember(outcome.receipt, event)
                except Exception:  # best effort: the delivery is counted either way
                    log.exception("broadcast: could not keep a delivery receipt")

    def _bulk_size(self, channel_name: str) -> int:
        channel = self.channels.get(channel_name)
        return channel.bulk_size if channel is not None else 1

    async def _send_many(
        self, broadcast: Broadcast, catalog: Catalog, recipients: list[Recipient]
    ) -> list[tuple[int, tuple[Outcome, Delivery | None]]]:
        """Channels that take many recipients per call (WeCom's touser): one call per language group."""
        done: list[tuple[int, tuple[Outcome, Delivery | None]]] = []
        groups: dict[tuple[str, str | None], list[Recipient]] = {}
        for recipient in recipients:
            groups.setdefault((recipient.channel, recipient.language), []).append(recipient)
        for (channel_name, language), group in groups.items():
            channel = self.channels[channel_name]
            replies = broadcast_replies(broadcast, catalog, language, self.content.directory)
            if replies is None:
                done += [
                    (r.resident_id, (Outcome(r.resident_id, "failed", "content no longer exists", 0), None))
                    for r in group
                ]
                continue
            delivery = next((r.delivery for r in replies if r.delivery is not None), None)
            for start in range(0, len(group), channel.bulk_size):
                chunk = group[start : start + channel.bulk_size]
                for recipient, (result, attempts) in zip(
                    chunk, await self._deliver_many_with_retries(channel, chunk, replies), strict=True
                ):
                    status = _OUTCOME.get(result.status, "failed")
                    outcome = self._outcome(recipient, status, result.reason, attempts, result.receipt)
                    done.append((recipient.resident_id, (outcome, delivery)))
        return done

    async def _deliver_many_with_retries(
        self, channel: Channel, recipients: list[Recipient], replies: list[Reply]
    ) -> list[tuple[SendResult, int]]:
        final: dict[int, tuple[SendResult, int]] = {}
        pending, attempt = list(recipients), 0
        self_paced = is_self_paced(channel)
        pacer = self.ceiling if self_paced else self.pacer
        while pending:
            attempt += 1
            if pacer is not None:
                await pacer.acquire()
            try:
                results = await channel.deliver_many([_identity(r) for r in pending], replies)
            except Exception as exc:  # a bug in a channel must not stop the broadcast
                log.exception("broadcast: channel %s raised", channel.name)
                results = {_identity(r): SendResult(SendStatus.TRANSIENT, type(exc).__name__) for r in pending}
            retry = []
            for recipient in pending:
                result = results.get(_identity(recipient), SendResult(SendStatus.FAILED, "no result"))
                if result.status is SendStatus.RETRY_AFTER and attempt < self.settings.max_attempts:
                    if not self_paced:  # a self-paced channel has paused its own budget
                        self.pacer.pause(result.retry_after)
                    retry.append(recipient)
                elif result.status is SendStatus.TRANSIENT and attempt < self.settings.max_attempts:
                    retry.append(recipient)
                else:
                    final[recipient.resident_id] = (result, attempt)
            if retry:
                await asyncio.sleep(self.settings.backoff * 2 ** (attempt - 1))
            pending = retry
        return [final[r.resident_id] for r in recipients]

    async def _send_one(
        self, broadcast: Broadcast, catalog: Catalog, recipient: Recipient
    ) -> tuple[Outcome, Delivery | None]:
        channel = self.channels.get(recipient.channel)
        if channel is None:
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
            result, used = await self._deliver_with_retries(channel, recipient, part)
            attempts += used
            if result.status is not SendStatus.DELIVERED:
                break
        status = _OUTCOME.get(result.status, "failed")
        return self._outcome(recipient, status, result.reason, attempts, result.receipt), delivery

    def _outcome(
        self, recipient: Recipient, status: str, reason: str | None, attempts: int, receipt: str | None = None
    ) -> Outcome:
        deferred = None
        if status == "out_of_window" and self.settings.defer_days > 0:
            deferred = int(self.clock()) + self.settings.defer_days * 86400
        return Outcome(recipient.resident_id, status, reason, attempts, deferred, receipt)

    async def _deliver_with_retries(
        self, channel: Channel, recipient: Recipient, reply: Reply
    ) -> tuple[SendResult, int]:
        attempt, rate_limited = 0, 0
        self_paced = is_self_paced(channel)
        pacer = self.ceiling if self_paced else self.pacer
        while True:
            if pacer is not None:
                await pacer.acquire()
            attempt += 1
            try:
                result = await channel.deliver(_identity(recipient), [reply])
            except Exception as exc:  # a bug in a channel must not stop the broadcast
                log.exception("broadcast: channel %s raised", channel.name)
                result = SendResult(SendStatus.TRANSIENT, f"{type(exc).__name__}")
            if result.status is SendStatus.RETRY_AFTER and rate_limited < 10:
                rate_limited += 1
                attempt -= 1  # waiting out a rate limit is not a failed attempt
                if not self_paced:  # a self-paced channel has paused its own budget: the next slot comes after it
                    self.pacer.pause(result.retry_after + 0.1)
                continue
            if result.status is SendStatus.TRANSIENT and attempt < self.settings.max_attempts:
                await asyncio.sleep(self.settings.backoff * 2 ** (attempt - 1))
                continue
            if result.status in (SendStatus.TRANSIENT, SendStatus.RETRY_AFTER):
                return SendResult(SendStatus.FAILED, result.reason or "gave up after retries"), attempt
            return result, attempt


def _identity(recipient: Recipient) -> Identity:
    return Identity(recipient.channel, recipient.external_id)


class RoundFailures:
    """Rounds failing in a row (say, the database refuses writes): the first is logged with its traceback,
    then one line a minute with the count; the wait between rounds doubles up to a minute."""

    REPORT_EVERY = 60.0
    MAX_WAIT = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.count = 0
        self._since = self._reported_at = 0.0

    def failed(self, exc: BaseException) -> None:
        now = self.clock()
        self.count += 1
        if self.count == 1:
            self._since = self._reported_at = now
            log.exception("broadcast worker: a round failed; retrying with backoff (reported once a minute)")
        elif now - self._reported_at >= self.REPORT_EVERY:
            self._reported_at = now
            log.error(
                "broadcast worker: still failing after %.0f s, %d rounds (%s: %s)",
                now - self._since,
                self.count,
                type(exc).__name__,
                exc,
            )

    def succeeded(self) -> None:
        if self.count:
            log.warning("broadcast worker: working again after %d failed rounds", self.count)
        self.count = 0

    def backoff(self, base: float) -> float:
        return 0.0 if not self.count else min(base * 2 ** min(self.count - 1, 16), self.MAX_WAIT)
