"""`web`: the office's web console (serve it alone, or mint a one-time sign-in link).

WEB_LISTEN (host:port, default 127.0.0.1:8080), WEB_BASE_URL (the address admins open, default
http://127.0.0.1:8080; behind a reverse proxy its https address, with the path prefix the proxy strips) and
WEB_SECRET (optional: otherwise a secret kept beside the database) are read here; docs/web.md.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.commands.common import EXIT_OK, Failure, Subparsers, UsageError, actions, arg, command, run_async, with_storage
from bot.config import ConfigError, Identity, Settings

if TYPE_CHECKING:
    from bot.content.model import Catalog
    from bot.storage import Storage

DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_BASE_URL = "http://127.0.0.1:8080"


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


def base_url(settings: Settings) -> str:
    value = settings.web_base_url
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"WEB_BASE_URL={value!r} is not an http(s) address (e.g. https://fazhi.example.cn/console)")
    return value


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.http import parse_listen
    from bot.channels.web import WebConsole
    from bot.content.store import ContentStore
    from bot.core.web_links import link_secret
    from bot.storage import Storage

    host, port = parse_listen(settings.web_listen or DEFAULT_LISTEN, "WEB_LISTEN")
    address = base_url(settings)
    secret = link_secret(settings)

    async def serve() -> None:
        content = ContentStore.load(settings.content_dir)
        storage = await Storage.open(settings.database, zone_offset=settings.zone_offset)
        console = WebConsole(settings, storage, content, secret, root=urlsplit(address).path)
        try:
            await console.start(host, port)
            print(f"web console on http://{host}:{console.port} (admins open {address}/); Ctrl-C stops it", flush=True)
            print(f"sign in: python -m bot web link --admin {_an_admin(settings)}", flush=True)
            await asyncio.Event().wait()
        finally:
            await console.stop()
            await storage.close()

    return run_async(serve)


def _link(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.web_links import LINK_LIFETIME, NotAdmin, mint_link

    channel, sep, external_id = args.admin.partition(":")
    if not sep or not external_id:
        raise UsageError(f"--admin {args.admin!r} is not channel:id (e.g. telegram:123456789)")
    identity = Identity(channel, external_id)
    address = base_url(settings)

    async def work(storage: Storage, catalog: Catalog) -> int:
        try:
            link = await mint_link(settings, storage, identity, address)
        except NotAdmin:
            raise Failure(f"{identity} is not in BOT_ADMINS: only admins get a sign-in link") from None
        print(link)
        print(f"(works once, for {LINK_LIFETIME // 60} minutes)")
        return EXIT_OK

    return with_storage(settings, work)


def _an_admin(settings: Settings) -> str:
    return str(min(settings.admins, key=str)) if settings.admins else "telegram:123456789"
