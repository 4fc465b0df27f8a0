"""`python -m bot …`: a thin command line over the library.

Every command has --help with an example. A user mistake prints one line on
stderr and exits 2; a failure prints one line and exits 1; never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import signal
import sqlite3
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

from bot import __version__
from bot.config import ConfigError, Settings
from bot.logs import RedactingFormatter, protect, redact

log = logging.getLogger("bot")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in how the command was called (exit 2)."""


class Failure(Exception):
    """The command was right but could not be carried out (exit 1)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _command(subparsers: Any, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name,
        help=help_text,
        description=f"{help_text}\n\nexample:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m bot",
        description="普法宣传机器人 — legal-publicity chatbot for township judicial offices.",
        epilog="examples:\n  python -m bot chat --user alice\n  python -m bot content check content",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    chat = _command(
        commands,
        "chat",
        "chat with the bot in this terminal (no token needed)",
        "printf '/start\\n1\\n' | python -m bot chat --user alice",
    )
    chat.add_argument("--user", help="who you are in the chat (default: your login name)")
    chat.add_argument("--lang", choices=["zh", "en"], help="the language your client reports (default: zh)")
    chat.set_defaults(handler=_chat)

    content = _command(commands, "content", "work with the content directory", "python -m bot content check content")
    content_commands = content.add_subparsers(dest="content_command", metavar="ACTION", parser_class=_Parser)
    check = _command(
        content_commands,
        "check",
        "validate every content file; list all problems as file:line: message",
        "python -m bot content check content",
    )
    check.add_argument(
        "directory", nargs="?", type=Path, help="content directory (default: BOT_CONTENT_DIR or ./content)"
    )
    check.set_defaults(handler=_content_check)

    run = _command(
        commands,
        "run",
        "serve every configured channel (Telegram) until stopped",
        "TELEGRAM_BOT_TOKEN=123:ABC python -m bot run",
    )
    run.set_defaults(handler=_run)
    return parser


# -- commands --------------------------------------------------------------------------------


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_app
    from bot.channels.console import chat

    user = args.user or _login_name()
    language = "en" if args.lang == "en" else "zh-CN"

    async def session() -> None:
        async with open_app(settings) as app:
            await chat(app.core, user, language, downloads=settings.db_path.parent / "downloads")

    return _run_async(session)


def _content_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.content.checker import check_directory

    directory = args.directory or settings.content_dir
    report = check_directory(directory)
    for line in report.lines:
        print(line)
    return EXIT_FAILURE if report.failed else EXIT_OK


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runner import ChannelsMissing, check_channels, serve

    try:
        check_channels(settings)
    except ChannelsMissing as exc:
        raise UsageError(str(exc)) from None
    return _run_async(lambda: serve(settings))


# -- plumbing --------------------------------------------------------------------------------


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "guest"


def _run_async(factory: Callable[[], Coroutine[Any, Any, Any]]) -> int:
    """Run until done, Ctrl-C or SIGTERM; either signal ends the session gracefully."""

    async def main() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows has no add_signal_handler
                loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            await factory()
        except asyncio.CancelledError:
            log.info("stopped by signal")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler = getattr(args, "handler", None)
        if handler is None:
            if args.command == "content":
                raise UsageError("choose an action: python -m bot content check [DIR]")
            parser.print_help()
            return EXIT_USAGE
        settings = Settings.from_env()
        default_level = "INFO" if args.command == "run" else "WARNING"
        log_handler = logging.StreamHandler(sys.stderr)
        log_handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.basicConfig(level=settings.log_level or default_level, handlers=[log_handler])
        for secret in (settings.telegram_token.value, settings.telegram_webhook_secret.value):
            if secret:
                protect(secret)
        # httpx logs every request URL at INFO, and Telegram URLs contain the bot token.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        return int(handler(args, settings))
    except UsageError as exc:
        print(f"python -m bot: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"python -m bot: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Failure as exc:
        print(f"python -m bot: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except _known_failures() as exc:
        print(f"python -m bot: {_describe_failure(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # a bug: still one line for the user, the details in the debug log
        log.debug("unexpected failure", exc_info=True)
        print(
            f"python -m bot: unexpected {type(exc).__name__}: {redact(str(exc))} "
            "(run with BOT_LOG_LEVEL=DEBUG for details)",
            file=sys.stderr,
        )
        return EXIT_FAILURE


def _known_failures() -> tuple[type[BaseException], ...]:
    from bot.content.store import ContentError

    return (ContentError, sqlite3.Error, OSError)


def _describe_failure(exc: BaseException) -> str:
    from bot.content.store import ContentError

    if isinstance(exc, ContentError):
        first = next((str(p) for p in exc.result.problems if p.severity == "error"), "")
        return f"{exc} — first: {first}"
    if isinstance(exc, sqlite3.Error):
        return f"database error: {exc}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    return str(exc)
