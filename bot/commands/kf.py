"""`kf poster|stats`: the 微信客服 channel's QR posters for villages and schools, and WeCom's own daily figures."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands.common import EXIT_OK, Failure, Subparsers, actions, arg, command, with_storage
from bot.config import Settings

if TYPE_CHECKING:
    from bot.channels.wecom_kf.api import KfClient
    from bot.content.model import Catalog, Place
    from bot.storage import Storage

MAX_SCENE = 32  # add_contact_way's scene: at most 32 bytes of [A-Za-z0-9_-], our place ids fit


def register(commands: Subparsers) -> None:
    kf = command(
        commands, "kf", "微信客服: QR posters per village and WeCom's own figures", "python -m bot kf poster --all"
    )
    kf_actions = actions(kf, "kf_command", "choose an action: poster, stats")
    command(
        kf_actions,
        "poster",
        "print-ready A4 posters (PNG and PDF) whose QR code opens the bot in WeChat, registered to the place",
        "python -m bot kf poster --all --out posters/",
        arg("--place", help="a place id from content/places.yaml (python -m bot chat → /place lists them)"),
        arg("--all", action="store_true", help="one poster per village, community and school"),
        arg("--out", type=Path, default=Path("posters"), help="directory to write to (default posters/)"),
        handler=_poster,
    )
    command(
        kf_actions,
        "stats",
        "WeCom's daily figures for the kf account beside the bot's own deliveries on the channel",
        "python -m bot kf stats --from 2026-11-01 --to 2026-11-28",
        arg("--from", dest="start", type=dt.date.fromisoformat, required=True, help="first day, YYYY-MM-DD"),
        arg("--to", dest="end", type=dt.date.fromisoformat, required=True, help="last day, YYYY-MM-DD"),
        handler=_stats,
    )


def _client(settings: Settings) -> KfClient:
    from bot.channels.wecom.api import WeComClient
    from bot.channels.wecom_kf.api import KfClient

    if not settings.wecom_kf_configured:
        raise Failure(
            "微信客服 is not configured: set WECOM_CORP_ID, WECOM_SECRET, WECOM_KF_OPEN_KFID, WECOM_KF_TOKEN and "
            "WECOM_KF_AES_KEY (README: 微信客服)"
        )
    api = WeComClient(settings.wecom_api_base_url, settings.wecom_corp_id, settings.wecom_secret.value, 0)
    return KfClient(api, settings.wecom_kf_open_kfid)


def _poster(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.wecom.api import WeComError
    from bot.i18n import translator
    from bot.reporting.poster import render_poster

    t = translator("zh-CN")  # posters go up in Chinese villages

    if bool(args.place) == bool(args.all):
        raise Failure("give --place ID or --all")
    client = _client(settings)

    async def work(storage: Storage, catalog: Catalog) -> int:
        places: list[Place] = list(catalog.places) if args.all else []
        if args.place:
            place = catalog.place(args.place)
            if place is None:
                known = ", ".join(p.id for p in catalog.places)
                raise Failure(f"no place '{args.place}' in content/places.yaml (known: {known})")
            places = [place]
        town = settings.town or catalog.town
        args.out.mkdir(parents=True, exist_ok=True)
        await client.start()
        try:
            for place in places:
                if len(place.id.encode()) > MAX_SCENE:
                    raise Failure(f"place id '{place.id}' is longer than WeCom's 32-byte scene")
                try:
                    url = await client.contact_link(place.id)
                except WeComError as exc:
                    raise Failure(f"WeCom refused the entry link for {place.id}: {exc}") from exc
                poster = render_poster(
                    url,
                    town,
                    place.name,
                    title=t("poster.title"),
                    tagline=t("poster.tagline"),
                    footer=t("poster.footer", town=town),
                )
                (args.out / f"{place.id}.png").write_bytes(poster.png)
                (args.out / f"{place.id}.pdf").write_bytes(poster.pdf)
                print(f"{place.id}: {args.out / place.id}.png, .pdf  ({url})")
        finally:
            await client.close()
        return EXIT_OK

    return with_storage(settings, work)


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    if args.end < args.start:
        raise Failure("--to is before --from")
    if (args.end - args.start).days > 30:
        raise Failure("WeCom gives at most 31 days per query: shorten the range")
    client = _client(settings)

    async def work(storage: Storage, catalog: Catalog) -> int:
        zone = settings.zone
        start = int(dt.datetime.combine(args.start, dt.time(), zone).timestamp())
        end = int(dt.datetime.combine(args.end, dt.time(), zone).timestamp())
        await client.start()
        try:
            days = await client.statistics(start, end)
        finally:
            await client.close()
        ours = await storage.stats.daily_channel_deliveries("wecom_kf", start, end + 86400)
        print("日期        会话数  客户数  客户消息数  本机器人送达（人次）")
        for day in days:
            when = dt.datetime.fromtimestamp(int(day.get("stat_time", 0)), zone).date()
            figures = day.get("statistic") or {}
            print(
                f"{when}  {figures.get('session_cnt', 0):>6}  {figures.get('customer_cnt', 0):>6}  "
                f"{figures.get('customer_msg_cnt', 0):>10}  {ours.get(when.isoformat(), 0):>8}"
            )
        return EXIT_OK

    return with_storage(settings, work)
