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

    stats = _command(
        commands,
        "stats",
        "reach statistics for a period (definitions: docs/statistics.md)",
        "python -m bot stats --from 2026-01-01 --to 2026-12-31 --by topic --json",
    )
    stats.add_argument("--from", dest="first", help="first day YYYY-MM-DD (default: 1 January this year)")
    stats.add_argument("--to", dest="last", help="last day YYYY-MM-DD, included (default: today)")
    stats.add_argument(
        "--by",
        action="append",
        choices=["topic", "place", "channel", "month"],
        help="breakdowns to show in the table (default: all); --json always has all",
    )
    stats.add_argument("--json", action="store_true", help="machine-readable figures")
    stats.set_defaults(handler=_stats)

    report = _command(
        commands,
        "report",
        "the annual-report paragraph, every number from the data",
        "python -m bot report --year 2026",
    )
    report.add_argument("--year", type=int, required=True)
    report.set_defaults(handler=_report)

    ledger = _command(
        commands,
        "ledger",
        "the publicity ledger (普法台账) of offline activities",
        "python -m bot ledger add --date 2026-12-04 --type 进村宣传 --place hexi-village --count 80",
    )
    ledger_actions = ledger.add_subparsers(dest="ledger_command", metavar="ACTION", parser_class=_Parser)
    add = _command(
        ledger_actions,
        "add",
        "record one activity",
        "python -m bot ledger add --date 2026-12-04 --type 发放资料 --count 300 --topic constitution",
    )
    add.add_argument("--date", required=True, help="YYYY-MM-DD")
    add.add_argument("--type", required=True, help="进村宣传, 进校园, 法治讲座, 悬挂横幅, 发放资料, 村村响广播, 其他")
    add.add_argument("--count", required=True, help="attendees, leaflets, banners or plays")
    add.add_argument("--place", help="place id or name")
    add.add_argument("--topic", help="topic id or title")
    add.add_argument("--note", default="")
    add.set_defaults(handler=_ledger_add)
    imported = _command(
        ledger_actions,
        "import",
        "import rows from .csv or .xlsx (all or nothing)",
        "python -m bot ledger import 台账2026.xlsx",
    )
    imported.add_argument("file", type=Path)
    imported.set_defaults(handler=_ledger_import)
    ledger_list = _command(
        ledger_actions,
        "list",
        "the activities of a period",
        "python -m bot ledger list --from 2026-01-01 --to 2026-12-31",
    )
    ledger_list.add_argument("--from", dest="first")
    ledger_list.add_argument("--to", dest="last")
    ledger_list.set_defaults(handler=_ledger_list)

    export = _command(
        commands,
        "export",
        "the statistics and ledger as .xlsx (or a .zip of CSVs); no personal data",
        "python -m bot export --from 2026-01-01 --to 2026-12-31 --out 普法台账2026.xlsx",
    )
    export.add_argument("--from", dest="first", required=True)
    export.add_argument("--to", dest="last", required=True)
    export.add_argument("--out", type=Path, required=True, help="FILE.xlsx, or FILE.csv for a zip of CSV files")
    export.add_argument(
        "--personal",
        action="store_true",
        help="add, per place, residents who have not finished --topic's quiz (names, accounts)",
    )
    export.add_argument("--topic", help="with --personal: the topic whose quiz to follow up")
    export.set_defaults(handler=_export)

    chart = _command(
        commands,
        "chart",
        "PNG charts of reach by month, topic and place",
        "python -m bot chart --out charts/ --from 2026-01-01 --to 2026-12-31",
    )
    chart.add_argument("--out", type=Path, required=True, help="a folder")
    chart.add_argument("--from", dest="first")
    chart.add_argument("--to", dest="last")
    chart.set_defaults(handler=_chart)

    questions = _command(
        commands,
        "questions",
        "what residents asked that no tip answered, most frequent first",
        "python -m bot questions --limit 30",
    )
    questions.add_argument("--limit", type=int, default=50)
    questions.set_defaults(handler=_questions)

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
        storage = await Storage.open(settings.db_path, zone_offset=settings.zone_offset)
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


def _period(settings: Settings, first: str | None, last: str | None) -> Any:
    import datetime as dt

    from bot.reporting.statistics import Period

    today = dt.datetime.now(settings.zone).date()
    try:
        start = dt.date.fromisoformat(first) if first else today.replace(month=1, day=1)
        end = dt.date.fromisoformat(last) if last else today
    except ValueError:
        raise UsageError(f"dates must be YYYY-MM-DD, got {first or last!r}") from None
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    return Period(start, end, settings.zone)


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from bot.reporting.statistics import collect, format_table

    period = _period(settings, args.first, args.last)

    async def work(storage: Any, catalog: Any) -> int:
        statistics = await collect(storage, catalog, period)
        if args.json:
            print(json.dumps(statistics.as_json(), ensure_ascii=False, indent=2))
        else:
            print(format_table(statistics, catalog, args.by or ["topic", "place", "channel", "month"]))
        return EXIT_OK

    return _with_storage(settings, work)


def _report(args: argparse.Namespace, settings: Settings) -> int:
    import datetime as dt

    from bot.reporting.statistics import Period, collect, report_paragraph

    period = Period(dt.date(args.year, 1, 1), dt.date(args.year, 12, 31), settings.zone)

    async def work(storage: Any, catalog: Any) -> int:
        print(report_paragraph(await collect(storage, catalog, period), args.year))
        return EXIT_OK

    return _with_storage(settings, work)


def _ledger_add(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from bot.reporting.ledger_io import parse_entry

    async def work(storage: Any, catalog: Any) -> int:
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

    return _with_storage(settings, work)


def _ledger_import(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from bot.reporting.ledger_io import LedgerImportError, parse_file

    async def work(storage: Any, catalog: Any) -> int:
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

    return _with_storage(settings, work)


def _ledger_list(args: argparse.Namespace, settings: Settings) -> int:
    period = _period(settings, args.first, args.last)

    async def work(storage: Any, catalog: Any) -> int:
        entries = await storage.ledger.between(period.first.isoformat(), period.last.isoformat())
        for e in entries:
            place = catalog.place(e.place_id).name if e.place_id and catalog.place(e.place_id) else ""
            print(f"{e.day}  {e.type}  {e.count}  {place}  {e.topic_id or ''}  {e.note}".rstrip())
        if not entries:
            print("no activities in that period")
        return EXIT_OK

    return _with_storage(settings, work)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.export import sheets, write_csv_zip, write_xlsx
    from bot.reporting.statistics import collect

    period = _period(settings, args.first, args.last)
    suffix = args.out.suffix.lower()
    if suffix not in (".xlsx", ".csv", ".zip"):
        raise UsageError("--out must end in .xlsx, or .csv for a zip of CSV files")
    if args.personal and not args.topic:
        raise UsageError("--personal needs --topic ID: whose quiz to follow up")

    async def work(storage: Any, catalog: Any) -> int:
        if args.topic and catalog.topic(args.topic) is None:
            raise UsageError(f"no topic {args.topic!r}")
        statistics = await collect(storage, catalog, period)
        ledger = await storage.ledger.between(period.first.isoformat(), period.last.isoformat())
        followups = None
        if args.personal:
            names = {p.id: p.name for p in catalog.places}
            followups = [
                [names.get(place or "", place or "未设置"), name, channel, account]
                for place, name, channel, account in await storage.stats.not_finished(args.topic)
            ]
        book = sheets(statistics, catalog, ledger, followups)
        writer = write_xlsx if suffix == ".xlsx" else write_csv_zip
        print(writer(args.out if suffix == ".xlsx" else args.out.with_suffix(".zip"), book))
        return EXIT_OK

    return _with_storage(settings, work)


def _chart(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reporting.export import write_charts
    from bot.reporting.statistics import collect

    period = _period(settings, args.first, args.last)

    async def work(storage: Any, catalog: Any) -> int:
        for path in write_charts(args.out, await collect(storage, catalog, period), catalog):
            print(path)
        return EXIT_OK

    return _with_storage(settings, work)


def _questions(args: argparse.Namespace, settings: Settings) -> int:
    import datetime as dt

    async def work(storage: Any, catalog: Any) -> int:
        rows = await storage.unanswered(args.limit)
        if not rows:
            print("no unanswered questions yet")
        for question, asked, last in rows:
            print(f"{asked:>5}  {dt.datetime.fromtimestamp(last, settings.zone):%Y-%m-%d}  {question}")
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
            if args.command == "ledger":
                raise UsageError("choose an action: add, import, list")
            parser.print_help()
            return EXIT_USAGE
        settings = Settings.from_env()
        default_level = "INFO" if args.command == "run" else "WARNING"
        log_handler = logging.StreamHandler(sys.stderr)
        log_handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.basicConfig(level=settings.log_level or default_level, handlers=[log_handler])
        for secret in (
            settings.telegram_token.value,
            settings.telegram_webhook_secret.value,
            settings.wecom_secret.value,
            settings.wecom_token.value,
            settings.wecom_aes_key.value,
        ):
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
