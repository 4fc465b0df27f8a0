"""`requests list|done`: legal-service requests (群众诉求) — residents who asked the judicial office to contact them."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING

from bot.commands.common import EXIT_OK, Failure, Subparsers, actions, arg, command, login_name, with_storage
from bot.commands.statistics import town_argument, town_places
from bot.config import Settings

LISTED = 100  # requests listed at most (the store's default)
SCAN = 10_000  # requests read before keeping one township's: far more than a county has open

if TYPE_CHECKING:
    from bot.content.model import Catalog
    from bot.storage import Storage


def register(commands: Subparsers) -> None:
    requests = command(
        commands,
        "requests",
        "legal-service requests (群众诉求): residents who asked the office to contact them",
        "python -m bot requests list",
    )
    request_actions = actions(requests, "requests_command", "choose an action: list, done")
    command(
        request_actions,
        "list",
        "the open requests (with --all, the done ones too), newest first; phone numbers are shown",
        "python -m bot requests list --all",
        arg("--all", action="store_true", help="include requests already marked done"),
        town_argument("only the requests of this township's places"),
        handler=_list,
    )
    command(
        request_actions,
        "done",
        "mark a request as dealt with",
        "python -m bot requests done 12",
        arg("id", type=int),
        handler=_done,
    )


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(storage: Storage, catalog: Catalog) -> int:
        places = town_places(catalog, args.town)
        if places is None:
            requests = await storage.requests.listing(include_done=args.all)
        else:  # a request without a place is the county's
            everything = await storage.requests.listing(include_done=args.all, limit=SCAN)
            requests = [r for r in everything if r.place_id in places][:LISTED]
        if not requests:
            print("no open requests" if not args.all else "no requests yet")
            return EXIT_OK
        kinds = {k.id: k.name for k in catalog.office.disputes} if catalog.office else {}
        places = {p.id: p.name for p in catalog.places}
        print("编号  日期        状态    地点        纠纷类型    电话          诉求")
        for r in requests:
            day = dt.datetime.fromtimestamp(r.created_at, settings.zone).date().isoformat()
            status = "已处理" if r.status == "done" else "待处理"
            print(
                f"#{r.id:<4} {day}  {status}  {places.get(r.place_id or '', '未设置'):<8}  "
                f"{kinds.get(r.dispute_id or '', r.dispute_id or '其他'):<8}  {r.phone or '未留电话':<12}  "
                f"{' '.join(r.question.split())[:40]}"
            )
        return EXIT_OK

    return with_storage(settings, work)


def _done(args: argparse.Namespace, settings: Settings) -> int:
    async def work(storage: Storage, catalog: Catalog) -> int:
        if not await storage.requests.mark_done(args.id, f"cli:{login_name()}"):
            raise Failure(f"no open request #{args.id} (python -m bot requests list)")
        print(f"#{args.id} marked done")
        return EXIT_OK

    return with_storage(settings, work)
