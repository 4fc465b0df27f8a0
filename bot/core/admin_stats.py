"""Admins' /stats, /export and /ledger in chat: the same figures as the command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import time
from pathlib import Path

from bot.config import Identity, Settings
from bot.content.model import Catalog
from bot.core.events import Document, Image, Reply, Text
from bot.core.townships import Scope
from bot.i18n import Translator
from bot.reporting.activities import ACTIVITY_TYPES
from bot.reporting.ledger_io import implausible, render
from bot.reporting.statistics import Period, report_paragraph
from bot.storage import Resident, Storage


class StatsFlow:
    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings

    def _today(self) -> dt.date:
        return dt.datetime.now(self.settings.zone).date()

    def _year(self) -> Period:
        today = self._today()
        return Period(today.replace(month=1, day=1), today, self.settings.zone)

    def scope(self, resident: Resident) -> Scope:
        return Scope.of(self.settings, Identity(resident.channel, resident.external_id))

    async def stats(self, resident: Resident, t: Translator, catalog: Catalog) -> list[Reply]:
        """This year's figures, the chart and the report paragraph; an admin of one township gets that township's."""
        from bot.reporting.charts import write_charts

        period = self._year()
        scope = self.scope(resident)
        statistics, catalog = await scope.collect(self.storage, catalog, period)
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
        folder = self.settings.data_dir / "charts"
        if not scope.county:  # a township's charts beside, never over, the county's (same file names)
            folder = folder / f"township-{scope.township}"
        charts = await asyncio.to_thread(write_charts, folder, statistics, catalog)
        paragraph = report_paragraph(statistics, catalog, self._today())
        title = t("stats.title") if scope.county else t("township.stats_title", township=catalog.town)
        return [Text(f"{body}\n\n{paragraph}", title=title), Image(charts[0])]

    async def export(self, resident: Resident, t: Translator, catalog: Catalog) -> list[Reply]:
        """This year's workbook (no personal data); an admin of one township gets that township's figures and rows."""
        from bot.reporting.export import sheets, write_xlsx

        period = self._year()
        scope = self.scope(resident)
        everything = catalog
        statistics, catalog = await scope.collect(self.storage, catalog, period)
        ledger = await self.storage.ledger.between(period.first.isoformat(), period.last.isoformat())
        ledger = scope.entries(everything, ledger)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "export.xlsx"
            book = sheets(statistics, catalog, ledger, today=self._today())
            await asyncio.to_thread(write_xlsx, path, book)
            data = path.read_bytes()
        prefix = "" if scope.county else catalog.town
        name = f"{prefix}普法统计{period.first:%Y%m%d}-{period.last:%Y%m%d}.xlsx"
        caption = t("stats.export_caption") if scope.county else t("township.export_caption", township=catalog.town)
        return [Document(name, data, caption=caption)]

    async def ledger(self, resident: Resident, t: Translator, catalog: Catalog, args: str) -> list[Reply]:
        """/ledger 2026-12-04 进村宣传 河西村 80 备注… [确认]; /ledger 删除 12; /ledger 恢复 12"""
        words = args.split()
        actor = f"{resident.channel}:{resident.external_id}"
        scope = self.scope(resident)
        if len(words) == 2 and words[0] in _LEDGER_UNDO and words[1].isdigit():
            return [await self._ledger_delete(t, catalog, scope, int(words[1]), _LEDGER_UNDO[words[0]], actor)]
        force = bool(words) and words[-1] in _LEDGER_CONFIRM
        words = words[:-1] if force else words
        if len(words) < 3:
            return [Text(t("stats.ledger_usage", types="、".join(ACTIVITY_TYPES)))]
        day, kind, *rest = words
        place = rest.pop(0) if rest and not rest[0].isdigit() else None
        count = rest.pop(0) if rest else None
        entry, problems = scope.parse_entry(
            catalog, {"day": day, "type": kind, "place": place, "count": count, "note": " ".join(rest)}
        )
        if entry is None:
            return [Text(t("stats.ledger_invalid", problems=render(problems, t.language)))]
        doubts = implausible(entry, catalog, self._today(), self.settings.ledger_max_count)
        if doubts and not force:
            return [Text(t("ledger.chat_refused", problems=render(doubts, t.language)))]
        added = await self.storage.ledger.add([entry], actor, int(time.time()))
        if added.duplicates:
            return [Text(t("ledger.already", id=added.duplicates[0][1]))]
        unit = ACTIVITY_TYPES[entry.type]
        return [
            Text(t("stats.ledger_added", day=entry.day, type=entry.type, count=entry.count, unit=unit, id=added.ids[0]))
        ]

    async def _ledger_delete(
        self, t: Translator, catalog: Catalog, scope: Scope, entry_id: int, delete: bool, actor: str
    ) -> Reply:
        """Admins correct a row they recorded by deleting it (kept, no longer counted) or restoring it; an admin of
        one township only a row of one of its places."""
        entry = await self.storage.ledger.get(entry_id)
        if entry is None:
            return Text(t("ledger.chat_not_found", id=entry_id))
        if not scope.covers(catalog, entry.place_id):
            return Text(t("township.ledger_not_yours", id=entry_id, township=scope.name(catalog)))
        if await self.storage.ledger.set_deleted(entry_id, delete, actor, int(time.time())) is None:
            return Text(t("ledger.already_deleted" if delete else "ledger.not_deleted", id=entry_id))
        return Text(t("ledger.chat_deleted" if delete else "ledger.chat_restored", id=entry_id))


_LEDGER_UNDO = {"删除": True, "delete": True, "恢复": False, "restore": False}  # word -> delete (or restore)
_LEDGER_CONFIRM = ("确认", "--force")  # the last word that records a row that looks wrong
