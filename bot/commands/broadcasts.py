"""`broadcast send|list|status|cancel` and `campaigns`: queue and follow broadcasts; the running bot sends."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import time
from typing import TYPE_CHECKING

from bot.commands.common import (
    EXIT_OK,
    Failure,
    Subparsers,
    UsageError,
    actions,
    add_arguments,
    arg,
    command,
    with_storage,
)
from bot.config import Settings

if TYPE_CHECKING:
    from bot.content.model import Catalog
    from bot.storage import Storage


def register(commands: Subparsers) -> None:
    broadcast = command(
        commands,
        "broadcast",
        "queue, list, follow and cancel broadcasts (the running bot sends)",
        "python -m bot broadcast send --item xf-xianfari --to place:hexi-village",
    )
    broadcast_actions = actions(broadcast, "broadcast_command", "choose an action: send, list, status, cancel")
    send = command(
        broadcast_actions,
        "send",
        "queue a broadcast; prints its id",
        'python -m bot broadcast send --text "今晚村部放法治电影" --to place:hexi-village --at "2026-12-04 09:00"',
        handler=_send,
    )
    add_arguments(
        send.add_mutually_exclusive_group(required=True),
        arg("--item", help="a tip id from content/topics/ (sent with its citation)"),
        arg("--text", help="your own words"),
    )
    add_arguments(
        send,
        arg(
            "--to",
            action="append",
            default=[],
            metavar="AUDIENCE",
            help="all | topic:ID | place:ID | lang:zh-CN|en; repeat to combine (default: all)",
        ),
        arg("--at", help='start time "YYYY-MM-DD HH:MM" in BOT_TIMEZONE (default: now)'),
        arg("--image", help="an image file under the content directory to send first"),
        arg("--topic", help="the topic this text belongs to (its unsubscribers are skipped)"),
        arg(
            "--town",
            metavar="ID",
            help="send for one township only (a county deployment): 'all' means its places, other places refused",
        ),
    )
    command(broadcast_actions, "list", "recent broadcasts", "python -m bot broadcast list", handler=_list)
    command(
        broadcast_actions,
        "status",
        "targeted, delivered, pending, blocked, failed of one broadcast",
        "python -m bot broadcast status 3 --follow",
        arg("id", type=int),
        arg("--json", action="store_true", help="machine-readable counts"),
        arg("--follow", action="store_true", help="a progress bar until it is done"),
        handler=_status,
    )
    command(
        broadcast_actions,
        "cancel",
        "stop a broadcast; recipients not yet sent to are cancelled",
        "python -m bot broadcast cancel 3",
        arg("id", type=int),
        handler=_cancel,
    )

    command(
        commands,
        "campaigns",
        "upcoming occurrences of the publicity calendar",
        "python -m bot campaigns --days 60",
        arg("--days", type=int, default=60, help="how far ahead (default 60)"),
        handler=_campaigns,
    )


def _send(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core import broadcast_requests as requests
    from bot.storage import Audience

    try:
        audience = Audience.parse(args.to or ["all"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        send_at = requests.local_timestamp(args.at, settings.zone) if args.at else int(time.time())
    except ValueError:
        raise UsageError(f"--at {args.at!r} is not YYYY-MM-DD HH:MM") from None
    draft = requests.Draft(args.item, args.text, audience, args.image, args.topic)

    async def work(storage: Storage, catalog: Catalog) -> int:
        if args.town and catalog.township(args.town) is None:
            known = ", ".join(t.id for t in catalog.townships)
            raise UsageError(f"--town {args.town!r} is not a township of places.yaml ({known})")
        try:
            broadcast_id = await requests.create(
                storage, catalog, draft, "cli", send_at, int(time.time()), township=args.town
            )
        except requests.BroadcastError as exc:
            raise UsageError(str(exc)) from None
        print(broadcast_id)
        return EXIT_OK

    return with_storage(settings, work)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.broadcast_requests import describe

    async def work(storage: Storage, catalog: Catalog) -> int:
        broadcasts = await storage.broadcasts.recent(50)
        if not broadcasts:
            print("no broadcasts yet")
        for broadcast in broadcasts:
            counts = (await storage.broadcasts.progress(broadcast.id)).as_dict()
            print(f"{describe(broadcast, settings.zone)}  delivered {counts['delivered']}/{counts['targeted']}")
        return EXIT_OK

    return with_storage(settings, work)


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.broadcast_requests import describe, eta_seconds

    async def work(storage: Storage, catalog: Catalog) -> int:
        while True:
            broadcast = await storage.broadcasts.get(args.id)
            if broadcast is None:
                raise Failure(f"no broadcast #{args.id} (see: python -m bot broadcast list)")
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

    return with_storage(settings, work)


def _cancel(args: argparse.Namespace, settings: Settings) -> int:
    async def work(storage: Storage, catalog: Catalog) -> int:
        if await storage.broadcasts.get(args.id) is None:
            raise Failure(f"no broadcast #{args.id}")
        if not await storage.broadcasts.cancel(args.id, int(time.time())):
            raise Failure(f"broadcast #{args.id} is already finished or cancelled")
        print(f"cancelled #{args.id}")
        return EXIT_OK

    return with_storage(settings, work)


def _campaigns(args: argparse.Namespace, settings: Settings) -> int:
    from bot.broadcasting.calendar import content_problem, occurrences

    async def work(storage: Storage, catalog: Catalog) -> int:
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

    return with_storage(settings, work)
