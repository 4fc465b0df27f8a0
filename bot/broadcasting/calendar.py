"""The publicity calendar runs itself: due campaign occurrences become broadcasts, once each.

"Once" is the database's job: a broadcast row carries its occurrence key
("constitution-day@2026-12-04") under a UNIQUE constraint, so restarts, a clock set
back, or two bot processes on one database can only ever create it once. An occurrence
still fires if the bot was down at its time and starts within `window` afterwards.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

from bot.content.store import ContentStore
from bot.core.campaign_days import Occurrence, content_problem, occurrences
from bot.storage import Audience, Storage

log = logging.getLogger(__name__)


class CampaignScheduler:
    def __init__(
        self,
        storage: Storage,
        content: ContentStore,
        zone: dt.tzinfo,
        notify_admins: Callable[[str], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
        window: dt.timedelta = dt.timedelta(hours=12),
        warn_ahead: dt.timedelta = dt.timedelta(days=3),
    ) -> None:
        self.storage = storage
        self.content = content
        self.zone = zone
        self.notify_admins = notify_admins
        self.clock = clock
        self.window = window
        self.warn_ahead = warn_ahead

    async def tick(self) -> list[int]:
        """Create the broadcasts of occurrences that are due now; returns their ids."""
        now = dt.datetime.fromtimestamp(self.clock(), self.zone)
        catalog = self.content.catalog
        created = []
        horizon = (now - self.window).date()
        for occurrence in occurrences(catalog, horizon, now.date(), self.zone):
            if not occurrence.at <= now < occurrence.at + self.window:
                continue
            problem = content_problem(catalog, occurrence)
            if problem is not None:
                await self._warn(f"missing:{occurrence.key}", occurrence, problem)
                continue
            campaign = occurrence.campaign
            broadcast_id = await self.storage.broadcasts.create(
                "calendar",
                Audience.parse(campaign.audience),
                int(occurrence.at.timestamp()),
                int(self.clock()),
                item_id=campaign.item_id,
                text=campaign.text,
                topic_id=campaign.topic_id,
                campaign_id=campaign.id,
                occurrence=occurrence.key,
            )
            if broadcast_id is not None:
                log.info("campaign %s: broadcast %d created", occurrence.key, broadcast_id)
                created.append(broadcast_id)
        for occurrence in occurrences(catalog, now.date(), (now + self.warn_ahead).date(), self.zone):
            problem = content_problem(catalog, occurrence)
            if problem is not None and occurrence.at > now:
                await self._warn(f"ahead:{occurrence.key}", occurrence, problem)
        return created

    async def _warn(self, key: str, occurrence: Occurrence, problem: str) -> None:
        if self.notify_admins is None or not await self.storage.broadcasts.notice_once(key, int(self.clock())):
            return
        when = occurrence.at.strftime("%Y-%m-%d %H:%M")
        await self.notify_admins(f"⚠️ {occurrence.campaign.name}（{when}）：{problem}")
