"""`web`: the office's web console (serve it alone, or mint a one-time sign-in link)."""

from __future__ import annotations

import argparse

from bot.commands.common import Failure, Subparsers, actions, arg, command
from bot.config import Settings


def register(commands: Subparsers) -> None:
    web = command(commands, "web", "the office's web console in a browser", "python -m bot web serve")
    web_actions = actions(web, "web_command", "choose an action: serve, link")
    command(web_actions, "serve", "serve the web console alone (WEB_LISTEN)", "python -m bot web serve", handler=_serve)
    command(
        web_actions,
        "link",
        "a one-time sign-in link for an admin (valid 10 minutes)",
        "python -m bot web link --admin telegram:123456789",
        arg("--admin", required=True, help="an identity from BOT_ADMINS"),
        handler=_link,
    )


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    raise Failure("not built yet")


def _link(args: argparse.Namespace, settings: Settings) -> int:
    raise Failure("not built yet")
