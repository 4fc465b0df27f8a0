"""`python -m bot …`: a thin command line over the library.

The commands live in `bot.commands`, one module per family; this module assembles them, sets up logging
and turns every failure into one line. Every command has --help with an example. A user mistake prints
one line on stderr and exits 2; a failure prints one line and exits 1; never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from urllib.parse import urlsplit

from bot import __version__
from bot.commands import broadcasts, chat, database, demo, exports, kf, ledger, requests, serve, statistics, web
from bot.commands.common import EXIT_FAILURE, EXIT_USAGE, CommandParser, Failure, Handler, UsageError
from bot.config import ConfigError, Settings
from bot.logs import RedactingFormatter, protect, redact

log = logging.getLogger("bot")

# In the order `python -m bot --help` lists them.
FAMILIES = (chat, broadcasts, statistics, ledger, exports, requests, kf, demo, web, database, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="python -m bot",
        description="普法宣传机器人 — legal-publicity chatbot for township judicial offices.",
        epilog="examples:\n  python -m bot chat --user alice\n  python -m bot content check content",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for family in FAMILIES:
        family.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            choose = getattr(args, "choose", None)  # a command with actions, called without one
            if choose:
                raise UsageError(choose)
            parser.print_help()
            return EXIT_USAGE
        settings = Settings.from_env()
        _configure_logging(settings, default_level=getattr(args, "log_level", "WARNING"))
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


def _configure_logging(settings: Settings, default_level: str) -> None:
    log_handler = logging.StreamHandler(sys.stderr)
    log_handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level or default_level, handlers=[log_handler])
    for secret in (
        settings.telegram_token.value,
        settings.telegram_webhook_secret.value,
        settings.wecom_secret.value,
        settings.wecom_token.value,
        settings.wecom_aes_key.value,
        settings.wecom_kf_token.value,
        settings.wecom_kf_aes_key.value,
        urlsplit(settings.db_url.value).password or "",  # BOT_DB=postgresql://user:password@host/db
    ):
        if secret:
            protect(secret)
    # httpx logs every request URL at INFO, and Telegram URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _known_failures() -> tuple[type[BaseException], ...]:
    from bot.content.store import ContentError
    from bot.storage import DatabaseBusy

    return (ContentError, DatabaseBusy, sqlite3.Error, OSError)


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
