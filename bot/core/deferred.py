"""Broadcasts that missed a resident's conversation window, sent with the reply to their next message.

微信客服 lets the bot write only within 48 hours of the resident's last message. A broadcast that found the window
closed is recorded `out_of_window` (never as delivered) with a date until which it may wait; when the resident
writes again before then, it goes out after the reply, and only then counts as delivered, with its reach event.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.content.model import Catalog
from bot.core.events import Reply
from bot.core.screens import BroadcastContent, broadcast_message
from bot.storage import Broadcast, Outcome, Resident, Storage


@dataclass(frozen=True)
class Waiting:
    broadcast: Broadcast
    replies: list[Reply]


class DeferredBroadcasts:
    def __init__(self, storage: Storage, content_dir: Path) -> None:
        self.storage = storage
        self.content_dir = content_dir
        self.channels: set[str] = set()  # channels with conversation windows (set by the app that starts them)

    async def waiting(self, resident: Resident, catalog: Catalog, now: int) -> list[Waiting]:
        if resident.channel not in self.channels:
            return []
        found = []
        for broadcast in await self.storage.broadcasts.deferred_for(resident.id, now):
            replies = broadcast_message(BroadcastContent.of(broadcast), catalog, resident.language, self.content_dir)
            if replies:
                found.append(Waiting(broadcast, replies))
        return found

    async def delivered(self, waiting: Waiting, resident: Resident, now: int, receipt: str | None = None) -> None:
        """Counted now that it was sent: the recipient's row and its reach event, together."""
        delivery = next((r.delivery for r in waiting.replies if r.delivery is not None), None)
        events = [] if delivery is None else [delivery.event(resident.id, resident.channel, resident.place_id, ts=now)]
        outcome = Outcome(resident.id, "delivered", "deferred", 0)
        await self.storage.broadcasts.record(waiting.broadcast.id, [outcome], events, now)
        if receipt and events:
            await self.storage.receipts.remember(receipt, events[0])
