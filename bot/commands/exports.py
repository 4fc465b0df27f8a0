"""`export`, `chart` and `questions`: files and lists for the office."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.commands.common import EXIT_OK, Subparsers, UsageError, arg, command, period, period_arguments, with_storage
from bot.commands.statistics import town_argument, town_places
from bot.config import Settings

if TYPE_CHECKING:
    from bot.content.model import Catalog
    from bot.storage import Storage


def register(commands: Subparsers) -> None:
    command(
        commands,
        "export",
        "the statistics table to hand in, as .xlsx (or a .zip of CSVs); no personal data",
        "python -m bot export --from 2026-01-01 --to 2026-12-31 --out 普法台账2026.xlsx",
        *period_arguments(required=True),
        arg("--out", type=Path, required=True, help="FILE.xlsx, or FILE.csv for a zip of CSV files"),
        arg(
            "--personal",
            action="store_true",
            help="add personal data: the phone numbers and words of legal-service requests and, with --topic, "
            "residents per place who have not finished that topic's quiz (names, accounts)",
        ),
        arg("--topic", help="with --personal: the topic whose quiz to follow up"),
        town_argument("the workbook of this township alone"),
        handler=_export,
    )
    command(
        commands,
        "chart",
        "PNG charts of reach by month, topic and place (人次 and 人 each on its own scale)",
        "python -m bot chart --out charts/ --from 2026-01-01 --to 2026-12-31",
        arg("--out", type=Path, required=True, help="a folder"),
        *period_arguments(),
        town_argument("the charts of this township alone"),
        handler=_chart,
    )
    command(
        commands,
        "questions",
        "what residents asked that no tip answered, most frequent first",
        "python -m bot questions --limit 30",
        arg("--limit", type=int, default=50),
        handler=_questions,
    )


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.export import sheets, write_csv_zip, write_xlsx
    from bot.reporting.figures import CHANNELS, UNSET_PLACE
    from bot.reporting.statistics import collect

    days = period(settings, args.first, args.last)
    suffix = args.out.suffix.lower()
    if suffix not in (".xlsx", ".csv", ".zip"):
        raise UsageError("--out must end in .xlsx, or .csv for a zip of CSV files")

    async def work(storage: Storage, catalog: Catalog) -> int:
        if args.topic and catalog.topic(args.topic) is None:
            raise UsageError(f"no topic {args.topic!r}")
        places = town_places(catalog, args.town)
        statistics = await collect(storage, catalog, days, township=args.town)
        ledger = await storage.ledger.between(days.first.isoformat(), days.last.isoformat())
        followups: list[list[Any]] | None = None
        if args.personal and args.topic:
            names = {p.id: p.name for p in catalog.places}
            followups = [
                [names.get(place or "", place or UNSET_PLACE), name, CHANNELS.get(channel, channel), account]
                for place, name, channel, account in await storage.stats.not_finished(args.topic, places)
            ]
        requests = await storage.requests.between(days.start, days.end)
        if places is not None:  # the township's rows only: a row without a place is the county's
            ledger = [entry for entry in ledger if entry.place_id in places]
            requests = [request for request in requests if request.place_id in places]
        today = dt.datetime.now(settings.zone).date()
        book = sheets(statistics, catalog, ledger, followups, requests, personal=args.personal, today=today)
        if suffix == ".xlsx":
            print(write_xlsx(args.out, book))
        else:
            print(write_csv_zip(args.out.with_suffix(".zip"), book))
        return EXIT_OK

    return with_storage(settings, work)


def _chart(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.charts import write_charts
    from bot.reporting.statistics import collect

    days = period(settings, args.first, args.last)

    async def work(storage: Storage, catalog: Catalog) -> int:
        town_places(catalog, args.town)
        for path in write_charts(args.out, await collect(storage, catalog, days, township=args.town), catalog):
            print(path)
        return EXIT_OK

    return with_storage(settings, work)


def _questions(args: argparse.Namespace, settings: Settings) -> int:
    async def work(storage: Storage, catalog: Catalog) -> int:
        rows = await storage.questions.unanswered(args.limit)
        if not rows:
            print("no unanswered questions yet")
        for question, asked, last in rows:
            print(f"{asked:>5}  {dt.datetime.fromtimestamp(last, settings.zone):%Y-%m-%d}  {question}")
        return EXIT_OK

    return with_storage(settings, work)
