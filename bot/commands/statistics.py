"""`stats` and `report`: the period's figures as a table or JSON, and the annual-report paragraph."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import TYPE_CHECKING

from bot.commands.common import EXIT_OK, Subparsers, arg, command, period, period_arguments, with_storage
from bot.config import Settings

if TYPE_CHECKING:
    from bot.content.model import Catalog
    from bot.storage import Storage


def register(commands: Subparsers) -> None:
    command(
        commands,
        "stats",
        "reach statistics for a period (definitions: docs/statistics.md)",
        "python -m bot stats --from 2026-01-01 --to 2026-12-31 --by topic --json",
        *period_arguments(described=True),
        arg(
            "--by",
            action="append",
            choices=["topic", "place", "channel", "month"],
            help="breakdowns to show in the table (default: all); --json always has all",
        ),
        arg("--json", action="store_true", help="machine-readable figures"),
        handler=_stats,
    )
    command(
        commands,
        "report",
        "the annual-report paragraph, every number from the data",
        "python -m bot report --year 2026",
        arg("--year", type=int, required=True),
        handler=_report,
    )


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.statistics import DIMENSIONS, collect, format_table

    stats_period = period(settings, args.first, args.last)

    async def work(storage: Storage, catalog: Catalog) -> int:
        statistics = await collect(storage, catalog, stats_period)
        if args.json:
            print(json.dumps(statistics.as_dict(), ensure_ascii=False, indent=2))
        else:
            print(format_table(statistics, catalog, args.by or DIMENSIONS))
        return EXIT_OK

    return with_storage(settings, work)


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.statistics import Period, collect, report_paragraph

    year = Period(dt.date(args.year, 1, 1), dt.date(args.year, 12, 31), settings.zone)

    async def work(storage: Storage, catalog: Catalog) -> int:
        print(report_paragraph(await collect(storage, catalog, year), args.year))
        return EXIT_OK

    return with_storage(settings, work)
