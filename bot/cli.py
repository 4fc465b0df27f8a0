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

    broadcast = _command(
        commands,
        "broadcast",
        "queue, list, follow and cancel broadcasts (the running bot sends)",
        "python -m bot broadcast send --item xf-xianfari --to place:hexi-village",
    )
    actions = broadcast.add_subparsers(dest="broadcast_command", metavar="ACTION", parser_class=_Parser)
    send = _command(
        actions,
        "send",
        "queue a broadcast; prints its id",
        'python -m bot broadcast send --text "今晚村部放法治电影" --to place:hexi-village --at "2026-12-04 09:00"',
    )
    content_choice = send.add_mutually_exclusive_group(required=True)
    content_choice.add_argument("--item", help="a tip id from content/topics/ (sent with its citation)")
    content_choice.add_argument("--text", help="your own words")
    send.add_argument(
        "--to",
        action="append",
        default=[],
        metavar="AUDIENCE",
        help="all | topic:ID | place:ID | lang:zh-CN|en; repeat to combine (default: all)",
    )
    send.add_argument("--at", help='start time "YYYY-MM-DD HH:MM" in BOT_TIMEZONE (default: now)')
    send.add_argument("--image", help="an image file under the content directory to send first")
    send.add_argument("--topic", help="the topic this text belongs to (its unsubscribers are skipped)")
    send.set_defaults(handler=_broadcast_send)
    listing = _command(actions, "list", "recent broadcasts", "python -m bot broadcast list")
    listing.set_defaults(handler=_broadcast_list)
    status = _command(
        actions,
        "status",
        "targeted, delivered, pending, blocked, failed of one broadcast",
        "python -m bot broadcast status 3 --follow",
    )
    status.add_argument("id", type=int)
    status.add_argument("--json", action="store_true", help="machine-readable counts")
    status.add_argument("--follow", action="store_true", help="a progress bar until it is done")
    status.set_defaults(handler=_broadcast_status)
    cancel = _command(
        actions,
        "cancel",
        "stop a broadcast; recipients not yet sent to are cancelled",
        "python -m bot broadcast cancel 3",
    )
    cancel.add_argument("id", type=int)
    cancel.set_defaults(handler=_broadcast_cancel)

    campaigns = _command(
        commands, "campaigns", "upcoming occurrences of the publicity calendar", "python -m bot campaigns --days 60"
    )
    campaigns.add_argument("--days", type=int, default=60, help="how far ahead (default 60)")
    campaigns.set_defaults(handler=_campaigns)

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


def _with_storage(settings: Settings, work: Callable[[Any, Any], Coroutine[Any, Any, int]]) -> int:
    """Open content and database, run `work(storage, catalog)`, close again."""
    from bot.content.store import ContentStore
    from bot.storage import Storage

    async def main() -> int:
        content = ContentStore.load(settings.content_dir)
        storage = await Storage.open(settings.db_path)
        try:
            return await work(storage, content.catalog)
        finally:
            await storage.close()

    return asyncio.run(main())


def _broadcast_send(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from bot.broadcasting import admin
    from bot.broadcasting.worker import local_timestamp
    from bot.storage import Audience

    try:
        audience = Audience.parse(args.to or ["all"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        send_at = local_timestamp(args.at, settings.zone) if args.at else int(time.time())
    except ValueError:
        raise UsageError(f"--at {args.at!r} is not YYYY-MM-DD HH:MM") from None
    draft = admin.Draft(args.item, args.text, audience, args.image, args.topic)

    async def work(storage: Any, catalog: Any) -> int:
        try:
            broadcast_id = await admin.create(storage, catalog, draft, "cli", send_at, int(time.time()))
        except admin.BroadcastError as exc:
            raise UsageError(str(exc)) from None
        print(broadcast_id)
        return EXIT_OK

    return _with_storage(settings, work)


def _broadcast_list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.broadcasting.admin import describe

    async def work(storage: Any, catalog: Any) -> int:
        broadcasts = await storage.broadcasts.recent(50)
        if not broadcasts:
            print("no broadcasts yet")
        for broadcast in broadcasts:
            counts = (await storage.broadcasts.progress(broadcast.id)).as_dict()
            print(f"{describe(broadcast, settings.zone)}  delivered {counts['delivered']}/{counts['targeted']}")
        return EXIT_OK

    return _with_storage(settings, work)


def _broadcast_status(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from bot.broadcasting.admin import describe, eta_seconds

    async def work(storage: Any, catalog: Any) -> int:
        if await storage.broadcasts.get(args.id) is None:
            raise Failure(f"no broadcast #{args.id} (see: python -m bot broadcast list)")
        while True:
            broadcast = await storage.broadcasts.get(args.id)
            progress = await storage.broadcasts.progress(args.id)
            counts = progress.as_dict()
            if args.json:
                print(json.dumps({"id": broadcast.id, "status": broadcast.status, **counts}))
                return EXIT_OK
            done = counts["targeted"] - counts["pending"]
            width = 30
            filled = int(width * done / counts["targeted"]) if counts["targeted"] else 0
            line = (
                f"[{'#' * filled}{'.' * (width - filled)}] {done}/{counts['targeted']}  delivered "
                f"{counts['delivered']}  pending {counts['pending']}  blocked {counts['blocked']}  failed "
                f"{counts['failed']}  cancelled {counts['cancelled']}  "
                f"ETA {eta_seconds(progress, settings.broadcast_rate):.0f}s  ({broadcast.status})"
            )
            if not args.follow:
                print(describe(broadcast, settings.zone))
                print(line)
                return EXIT_OK
            print("\r" + line, end="", flush=True)
            if broadcast.status in ("done", "cancelled"):
                print()
                return EXIT_OK
            await asyncio.sleep(1.0)

    return _with_storage(settings, work)


def _broadcast_cancel(args: argparse.Namespace, settings: Settings) -> int:
    import time

    async def work(storage: Any, catalog: Any) -> int:
        if await storage.broadcasts.get(args.id) is None:
            raise Failure(f"no broadcast #{args.id}")
        if not await storage.broadcasts.cancel(args.id, int(time.time())):
            raise Failure(f"broadcast #{args.id} is already finished or cancelled")
        print(f"cancelled #{args.id}")
        return EXIT_OK

    return _with_storage(settings, work)


def _campaigns(args: argparse.Namespace, settings: Settings) -> int:
    import datetime as dt

    from bot.broadcasting.calendar import content_problem, occurrences

    async def work(storage: Any, catalog: Any) -> int:
        today = dt.datetime.now(settings.zone).date()
        found = occurrences(catalog, today, today + dt.timedelta(days=args.days), settings.zone)
        ids = [c.id for c in catalog.campaigns]
        sent = await storage.broadcasts.occurrences(ids) if ids else set()
        if not found:
            print(f"no campaign in the next {args.days} days")
        for occurrence in found:
            problem = content_problem(catalog, occurrence)
            state = "created" if occurrence.key in sent else (f"PROBLEM: {problem}" if problem else "ok")
            what = f"tip {occurrence.campaign.item_id}" if occurrence.campaign.item_id else "text"
            print(
                f"{occurrence.at:%Y-%m-%d %H:%M}  {occurrence.campaign.name}  ({what}; to "
                f"{' '.join(occurrence.campaign.audience)})  {state}"
            )
        return EXIT_OK

    return _with_storage(settings, work)


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
            if args.command == "broadcast":
                raise UsageError("choose an action: send, list, status, cancel")
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
