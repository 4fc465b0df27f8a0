"""`chat` in the terminal and `content check`."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.commands.common import EXIT_FAILURE, EXIT_OK, Subparsers, actions, arg, command, login_name, run_async
from bot.config import Settings


def register(commands: Subparsers) -> None:
    command(
        commands,
        "chat",
        "chat with the bot in this terminal (no token needed)",
        "printf '/start\\n1\\n' | python -m bot chat --user alice",
        arg("--user", help="who you are in the chat (default: your login name)"),
        arg("--lang", choices=["zh", "en"], help="the language your client reports (default: zh)"),
        handler=_chat,
    )

    content = command(commands, "content", "work with the content directory", "python -m bot content check content")
    command(
        actions(content, "content_command", "choose an action: python -m bot content check [DIR]"),
        "check",
        "validate every content file; list all problems as file:line: message (in Chinese unless --lang en)",
        "python -m bot content check content",
        arg("directory", nargs="?", type=Path, help="content directory (default: BOT_CONTENT_DIR or ./content)"),
        arg("--lang", choices=["zh", "en"], help="the language of the messages (default: zh, Simplified Chinese)"),
        handler=_content_check,
    )


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app
    from bot.channels.console import chat

    user = args.user or login_name()
    language = "en" if args.lang == "en" else "zh-CN"

    async def session() -> None:
        async with open_app(settings) as app:
            await chat(app.core, user, language, downloads=settings.data_dir / "downloads")

    return run_async(session)


def _content_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.content.checker import check_directory
    from bot.i18n import normalize_language

    directory = args.directory or settings.content_dir
    report = check_directory(directory)
    for line in report.render(normalize_language(args.lang)):
        print(line)
    return EXIT_FAILURE if report.failed else EXIT_OK
