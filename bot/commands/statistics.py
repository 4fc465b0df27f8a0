"""`stats` and `report`: the period's figures as a table or JSON; the annual-report paragraph, its sources, Word.

`--town ID` (here, and on `export`, `chart`, `requests list`, `ledger list`) narrows them to one township of a
county deployment (places.yaml's `townships:`); `town_places` reads it for every command."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands.common import (
    EXIT_OK,
    Argument,
    Subparsers,
    UsageError,
    arg,
    command,
    period,
    period_arguments,
    with_storage,
)
from bot.config import Settings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.content.model import Catalog
    from bot.reporting.statistics import Period
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
        town_argument(),
        handler=_stats,
    )
    command(
        commands,
        "report",
        "the annual-report paragraph (法治政府建设报告), every number from the data; --docx for Word",
        "python -m bot report --year 2026 --docx 报告.docx --explain",
        arg("--year", type=int, required=True),
        arg(
            "--to",
            dest="last",
            help="last day YYYY-MM-DD (default: 31 December, or today while the year is not over: 「截至…」)",
        ),
        arg("--docx", type=Path, help="also write the paragraph, the summary table and charts to this Word file"),
        arg("--explain", action="store_true", help="after the paragraph, the query or rows behind every number"),
        town_argument("the report of this township alone (「我镇」); without it a county's report is 「全县」's"),
        handler=_report,
    )


def town_argument(help_text: str = "only this township's figures") -> Argument:
    """--town ID: a township id of places.yaml's `townships:` (into `town`)."""
    return arg(
        "--town",
        metavar="ID",
        help=f"{help_text}: a township id of places.yaml (residents without a place belong to none)",
    )


def town_places(catalog: Catalog, town: str | None) -> Sequence[str] | None:
    """The place ids of --town's township; None without --town; a usage error (exit 2) naming the townships
    there are for an unknown id."""
    from bot.reporting.statistics import township_places

    if town is None:
        return None
    try:
        return township_places(catalog, town)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.statistics import DIMENSIONS, collect, format_table

    stats_period = period(settings, args.first, args.last)

    async def work(storage: Storage, catalog: Catalog) -> int:
        town_places(catalog, args.town)
        statistics = await collect(storage, catalog, stats_period, township=args.town)
        if args.json:
            print(json.dumps(statistics.as_dict(), ensure_ascii=False, indent=2))
        else:
            print(format_table(statistics, catalog, args.by or DIMENSIONS))
        return EXIT_OK

    return with_storage(settings, work)


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.paragraph import township_lines
    from bot.reporting.statistics import collect, explain, report_paragraph

    today = dt.datetime.now(settings.zone).date()
    year = report_period(args.year, args.last, today, settings.zone)
    if args.docx is not None and args.docx.suffix.lower() != ".docx":
        raise UsageError("--docx must end in .docx")

    async def work(storage: Storage, catalog: Catalog) -> int:
        places = town_places(catalog, args.town)
        statistics = await collect(storage, catalog, year, township=args.town)
        if args.explain:
            ledger = await storage.ledger.between(year.first.isoformat(), year.last.isoformat())
            requests = await storage.requests.between(year.start, year.end)
            if places is not None:
                ledger = [entry for entry in ledger if entry.place_id in places]
                requests = [request for request in requests if request.place_id in places]
            print(explain(statistics, catalog, today, ledger, requests))
        else:
            print(report_paragraph(statistics, catalog, today))
            if statistics.by_township:  # a county: 「全县」, then its townships
                print()
                print("\n".join(township_lines(statistics)))
        if args.docx is not None:
            from bot.reporting.word import write_docx

            print(write_docx(args.docx, statistics, catalog, today))
        return EXIT_OK

    return with_storage(settings, work)


def report_period(year: int, last: str | None, today: dt.date, zone: dt.tzinfo) -> Period:
    """1 January to `last`; by default 31 December, or today while the year is not over: the report never counts
    a day that has not happened (a ledger row dated ahead, say)."""
    from bot.reporting.statistics import Period

    first, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    try:
        chosen = dt.date.fromisoformat(last) if last else end
    except ValueError:
        raise UsageError(f"--to must be YYYY-MM-DD, got {last!r}") from None
    if not first <= chosen <= end:
        raise UsageError(f"--to {chosen} is not in {year}")
    if first <= today < chosen:
        chosen = today
    return Period(first, chosen, zone)
