"""`ledger add|import|list`: the publicity ledger (普法台账) of offline activities."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands.common import (
    EXIT_FAILURE,
    EXIT_OK,
    Subparsers,
    UsageError,
    actions,
    arg,
    command,
    period,
    period_arguments,
    with_storage,
)
from bot.config import Settings

if TYPE_CHECKING:
    from bot.content.model import Catalog
    from bot.storage import Storage


def register(commands: Subparsers) -> None:
    ledger = command(
        commands,
        "ledger",
        "the publicity ledger (普法台账) of offline activities",
        "python -m bot ledger add --date 2026-12-04 --type 进村宣传 --place hexi-village --count 80",
    )
    ledger_actions = actions(ledger, "ledger_command", "choose an action: add, import, list")
    command(
        ledger_actions,
        "add",
        "record one activity",
        "python -m bot ledger add --date 2026-12-04 --type 发放资料 --count 300 --topic constitution",
        arg("--date", required=True, help="YYYY-MM-DD"),
        arg("--type", required=True, help="进村宣传, 进校园, 法治讲座, 悬挂横幅, 发放资料, 村村响广播, 其他"),
        arg("--count", required=True, help="attendees, leaflets, banners or plays"),
        arg("--place", help="place id or name"),
        arg("--topic", help="topic id or title"),
        arg("--note", default=""),
        handler=_add,
    )
    command(
        ledger_actions,
        "import",
        "import rows from .csv or .xlsx (all or nothing)",
        "python -m bot ledger import 台账2026.xlsx",
        arg("file", type=Path),
        handler=_import,
    )
    command(
        ledger_actions,
        "list",
        "the activities of a period",
        "python -m bot ledger list --from 2026-01-01 --to 2026-12-31",
        *period_arguments(),
        handler=_list,
    )


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.ledger_io import parse_entry

    async def work(storage: Storage, catalog: Catalog) -> int:
        entry, problems = parse_entry(
            catalog,
            {
                "day": args.date,
                "type": args.type,
                "count": args.count,
                "place": args.place,
                "topic": args.topic,
                "note": args.note,
            },
        )
        if entry is None:
            raise UsageError("; ".join(problems))
        (entry_id,) = await storage.ledger.add([entry], "cli", int(time.time()))
        print(entry_id)
        return EXIT_OK

    return with_storage(settings, work)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.ledger_io import LedgerImportError, parse_file

    async def work(storage: Storage, catalog: Catalog) -> int:
        try:
            entries = parse_file(args.file, catalog)
        except LedgerImportError as exc:
            for problem in exc.problems:
                print(f"{args.file}: {problem}", file=sys.stderr)
            print(f"nothing imported: {len(exc.problems)} problem(s)", file=sys.stderr)
            return EXIT_FAILURE
        await storage.ledger.add(entries, "cli", int(time.time()))
        print(f"imported {len(entries)} activities")
        return EXIT_OK

    return with_storage(settings, work)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    days = period(settings, args.first, args.last)

    async def work(storage: Storage, catalog: Catalog) -> int:
        entries = await storage.ledger.between(days.first.isoformat(), days.last.isoformat())
        for e in entries:
            place = catalog.place(e.place_id) if e.place_id else None
            print(f"{e.day}  {e.type}  {e.count}  {place.name if place else ''}  {e.topic_id or ''}  {e.note}".rstrip())
        if not entries:
            print("no activities in that period")
        return EXIT_OK

    return with_storage(settings, work)
