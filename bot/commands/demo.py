"""`demo`: a separate database filled with a plausible year, to try every report before residents arrive."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.commands.common import Failure, Subparsers, arg, command
from bot.config import Settings


def register(commands: Subparsers) -> None:
    command(
        commands,
        "demo",
        "fill a separate database with a plausible year of residents, reading, quizzes, broadcasts and ledger rows",
        "python -m bot demo --db demo.sqlite3 --year 2026",
        arg("--db", type=Path, required=True, help="the demo database to create (never the real one)"),
        arg("--year", type=int, default=None, help="the year to simulate (default: this year)"),
        handler=_demo,
    )


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    raise Failure("not built yet")
