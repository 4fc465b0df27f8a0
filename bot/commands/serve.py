"""`run`: serve every configured channel until stopped."""

from __future__ import annotations

import argparse

from bot.commands.common import Subparsers, UsageError, command, run_async
from bot.config import Settings


def register(commands: Subparsers) -> None:
    run = command(
        commands,
        "run",
        "serve every configured channel (Telegram) until stopped",
        "TELEGRAM_BOT_TOKEN=123:ABC python -m bot run",
        handler=_run,
    )
    run.set_defaults(log_level="INFO")  # a server logs what it does; other commands only warnings


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runner import ChannelsMissing, check_channels, serve

    try:
        check_channels(settings)
    except ChannelsMissing as exc:
        raise UsageError(str(exc)) from None
    return run_async(lambda: serve(settings))
