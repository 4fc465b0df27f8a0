"""The days of the publicity calendar: which campaign occurs when, and whether it can send its content.

Shared by the scheduler that sends them (bot/broadcasting/calendar.py), `python -m bot broadcast calendar`, the
demo, and the console's 宣传日历 page, so that what they show is what will happen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.content.model import Campaign, Catalog


@dataclass(frozen=True)
class Occurrence:
    campaign: Campaign
    day: dt.date
    at: dt.datetime  # aware, in the town's time zone

    @property
    def key(self) -> str:
        return f"{self.campaign.id}@{self.day.isoformat()}"


def occurrences(catalog: Catalog, start: dt.date, end: dt.date, zone: dt.tzinfo) -> list[Occurrence]:
    found = [
        Occurrence(c, day, dt.datetime.combine(day, c.time, tzinfo=zone))
        for c in catalog.campaigns
        for day in c.rule.dates(start, end)
    ]
    return sorted(found, key=lambda o: (o.at, o.campaign.id))


def content_problem(catalog: Catalog, occurrence: Occurrence) -> str | None:
    """Why this occurrence could not send its content, or None when it can."""
    item_id = occurrence.campaign.item_id
    if item_id is None:
        return None
    tip = catalog.tip(item_id)
    if tip is None:
        return f"tip {item_id} is missing"
    if not tip.is_served_on(occurrence.day):
        return f"tip {item_id} expires on {tip.valid_until} before the campaign"
    return None
