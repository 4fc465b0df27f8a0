"""Admins' /stats, /export and /ledger in chat: the same figures as the command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import time
from pathlib import Path

from bot.config import Settings
from bot.content.model import Catalog
from bot.core.events import Document, Image, Reply, Text
from bot.i18n import Translator
from bot.reporting.activities import ACTIVITY_TYPES
from bot.reporting.ledger_io import parse_entry
from bot.reporting.statistics import Period, collect, report_paragraph
from bot.storage import Resident, Storage


class StatsFlow:
    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings

    def _year(self) -> Period:
        today = dt.datetime.now(self.settings.zone).date()
        return Period(today.replace(month=1, day=1), today, self.settings.zone)

    async def stats(self, t: Translator, catalog: Catalog) -> list[Reply]:
        from bot.reporting.export import write_charts

        period = self._year()
        statistics = await collect(self.storage, catalog, period)
        body = t(
            "stats.summary",
            first=period.first,
            last=period.last,
            deliveries=statistics.reach.deliveries,
            reached=statistics.reach.reached,
            answers=statistics.quiz.answers,
            participants=statistics.quiz.participants,
            broadcasts=statistics.broadcasts.count,
            delivered=statistics.broadcasts.delivered,
            offline=statistics.offline_activities,
        )
        folder = self.settings.db_path.parent / "charts"
        charts = await asyncio.to_thread(write_charts, folder, statistics, catalog)
        paragraph = report_paragraph(statistics, period.first.year)
        return [Text(f"{body}\n\n{paragraph}", title=t("stats.title")), Image(charts[0])]

    async def export(self, t: Translator, catalog: Catalog) -> list[Reply]:
        from bot.reporting.export import sheets, write_xlsx

        period = self._year()
        statistics = await collect(self.storage, catalog, period)
        ledger = await self.storage.ledger.between(period.first.isoformat(), period.last.isoformat())
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "export.xlsx"
            await asyncio.to_thread(write_xlsx, path, sheets(statistics, catalog, ledger))
            data = path.read_bytes()
        name = f"普法统计{period.first:%Y%m%d}-{period.last:%Y%m%d}.xlsx"
        return [Document(name, data, caption=t("stats.export_caption"))]

    async def ledger(self, resident: Resident, t: Translator, catalog: Catalog, args: str) -> list[Reply]:
        """/ledger 2026-12-04 进村宣传 河西村 80 备注…"""
        words = args.split()
        if len(words) < 3:
            return [Text(t("stats.ledger_usage", types="、".join(ACTIVITY_TYPES)))]
        day, kind, *rest = words
        place = rest.pop(0) if rest and not rest[0].isdigit() else None
        count = rest.pop(0) if rest else None
        entry, problems = parse_entry(
            catalog, {"day": day, "type": kind, "place": place, "count": count, "note": " ".join(rest)}
        )
        if entry is None:
            return [Text(t("stats.ledger_invalid", problems="；".join(problems)))]
        await self.storage.ledger.add([entry], f"{resident.channel}:{resident.external_id}", int(time.time()))
        return [
            Text(
                t(
                    "stats.ledger_added",
                    day=entry.day,
                    type=entry.type,
                    count=entry.count,
                    unit=ACTIVITY_TYPES[entry.type],
                )
            )
        ]
