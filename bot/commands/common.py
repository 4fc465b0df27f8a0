"""What every command module shares: exit codes, the two user-facing errors, declaring a command, opening
storage, running a session until a signal, and reading a period from --from/--to."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

from bot.config import Settings

if TYPE_CHECKING:
    from bot.content.model import Catalog
    from bot.reporting.statistics import Period
    from bot.storage import Storage

log = logging.getLogger("bot")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

Handler: TypeAlias = Callable[[argparse.Namespace, Settings], int]
Work: TypeAlias = "Callable[[Storage, Catalog], Awaitable[int]]"
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Argument: TypeAlias = tuple[tuple[str, ...], dict[str, Any]]


class UsageError(Exception):
    """A mistake in how the command was called (exit 2)."""


class Failure(Exception):
    """The command was right but could not be carried out (exit 1)."""


class CommandParser(argparse.ArgumentParser):
    """Reports a mistake as a UsageError, which `main` prints as one line, instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


# -- declaring commands --------------------------------------------------------------------------


def arg(*flags: str, **options: Any) -> Argument:
    """One `add_argument` call as data, so a command's options can be listed where it is declared."""
    return flags, options


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *arguments: Argument) -> None:
    for flags, options in arguments:
        parser.add_argument(*flags, **options)


def period_arguments(required: bool = False, described: bool = False) -> tuple[Argument, Argument]:
    """--from and --to (into `first` and `last`), as read by `period`."""
    first_help = "first day YYYY-MM-DD (default: 1 January this year)" if described else None
    last_help = "last day YYYY-MM-DD, included (default: today)" if described else None
    return (
        arg("--from", dest="first", required=required, help=first_help),
        arg("--to", dest="last", required=required, help=last_help),
    )


def command(
    subparsers: Subparsers,
    name: str,
    help_text: str,
    example: str,
    *arguments: Argument,
    handler: Handler | None = None,
) -> argparse.ArgumentParser:
    """A sub-command whose --help shows what it does and an example."""
    parser = subparsers.add_parser(
        name,
        help=help_text,
        description=f"{help_text}\n\nexample:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser, *arguments)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def actions(parser: argparse.ArgumentParser, dest: str, choose: str) -> Subparsers:
    """The ACTION sub-commands of a command; `choose` is the error when none is given."""
    parser.set_defaults(choose=choose)
    return parser.add_subparsers(dest=dest, metavar="ACTION", parser_class=CommandParser)


# -- running commands ----------------------------------------------------------------------------


def with_storage(settings: Settings, work: Work) -> int:
    """Open content and database, run `work(storage, catalog)`, close again."""
    from bot.content.store import ContentStore
    from bot.storage import Storage

    async def main() -> int:
        content = ContentStore.load(settings.content_dir)
        storage = await Storage.open(settings.database, zone_offset=settings.zone_offset, data_dir=settings.data_dir)
        try:
            return await work(storage, content.catalog)
        finally:
            await storage.close()

    return asyncio.run(main())


def run_async(factory: Callable[[], Coroutine[Any, Any, Any]]) -> int:
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


def period(settings: Settings, first: str | None, last: str | None) -> Period:
    """The days from `first` (default: 1 January this year) to `last` (default: today), both included."""
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


def login_name() -> str:
    """Who runs the command: the console user's name, and the author of CLI changes."""
    try:
        return getpass.getuser()
    except Exception:
        return "guest"
