"""`python -m bot run`: every configured channel in one event loop, stopped gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from urllib.parse import urlsplit

from bot.app import App, open_app
from bot.broadcasting.calendar import CampaignScheduler
from bot.broadcasting.worker import BroadcastSettings, BroadcastWorker
from bot.channels.http import WebServer, parse_listen, telegram_webhook_handler
from bot.config import ConfigError, Settings
from bot.core.events import Text
from bot.core.sending import Channel

log = logging.getLogger(__name__)


class ChannelsMissing(Exception):
    """No channel is configured."""


def check_channels(settings: Settings) -> None:
    if not settings.telegram_token and not settings.wecom_configured:
        raise ChannelsMissing(
            "no channel configured: set TELEGRAM_BOT_TOKEN to serve Telegram, or WECOM_CORP_ID, WECOM_AGENT_ID, "
            "WECOM_SECRET, WECOM_TOKEN and WECOM_AES_KEY to serve WeCom "
            "(to try the bot without any token: python -m bot chat)"
        )
    if settings.telegram_webhook_url and not urlsplit(settings.telegram_webhook_url).scheme.startswith("http"):
        raise ConfigError(f"TELEGRAM_WEBHOOK_URL={settings.telegram_webhook_url!r} is not an http(s) URL")


async def serve(settings: Settings, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set, SIGTERM/SIGINT arrive, or the task is cancelled."""
    check_channels(settings)
    stop = stop or asyncio.Event()
    async with open_app(settings) as app:
        app.storage.claim_serving()  # a second bot on the same database would answer every update twice
        started: list[Channel] = []
        servers: list[WebServer] = []
        worker = None
        try:
            await _start_channels(app, settings, started, servers)
            worker = _start_broadcasts(app, settings, started)
            _install_signals(app, stop)
            if ready is not None:
                ready.set()
            await stop.wait()
        finally:
            if worker is not None:
                await worker.stop()  # the batch in hand is finished and recorded first
            for channel in reversed(started):
                await channel.stop()
            for server in servers:
                await server.stop()
            log.info("stopped; flushing reach events")


async def _start_channels(app: App, settings: Settings, started: list[Channel], servers: list[WebServer]) -> None:
    if settings.telegram_token:
        await _start_telegram(app, settings, started, servers)
    if settings.wecom_configured:
        from bot.channels.wecom.adapter import WeComChannel

        wecom = WeComChannel(app.core, settings)
        host, port = parse_listen(settings.wecom_listen, "WECOM_LISTEN")
        server = WebServer(host, port)
        wecom.routes(server)
        await wecom.start()
        await server.start()
        servers.append(server)
        started.append(wecom)
        log.info("wecom: callbacks on %s:%d%s", host, server.port, settings.wecom_callback_path)


async def _start_telegram(app: App, settings: Settings, started: list[Channel], servers: list[WebServer]) -> None:
    from bot.channels.telegram.adapter import TelegramChannel

    telegram = TelegramChannel(app.core, settings)
    if settings.telegram_webhook_url:
        host, port = parse_listen(settings.telegram_listen, "TELEGRAM_LISTEN")
        web = WebServer(host, port)
        secret = settings.telegram_webhook_secret.value or secrets.token_urlsafe(32)
        path = urlsplit(settings.telegram_webhook_url).path or "/"
        web.add_post(path, telegram_webhook_handler(secret, telegram.feed))
        await web.start()
        servers.append(web)
        await telegram.start()
        await telegram.application.bot.set_webhook(
            settings.telegram_webhook_url, secret_token=secret, allowed_updates=_allowed_updates()
        )
    else:
        await telegram.start()
    started.append(telegram)


def _start_broadcasts(app: App, settings: Settings, started: list[Channel]) -> BroadcastWorker:
    channels = {channel.name: channel for channel in started}

    async def notify_admins(text: str) -> None:
        for admin in settings.admins:
            channel = channels.get(admin.channel)
            if channel is not None:
                await channel.deliver(admin, [Text(text)])

    scheduler = CampaignScheduler(app.storage, app.content, settings.zone, notify_admins)
    worker = BroadcastWorker(
        app.storage,
        app.content,
        channels,
        BroadcastSettings(
            rate=settings.broadcast_rate, batch_size=settings.broadcast_batch, lease=settings.broadcast_lease
        ),
        on_tick=scheduler.tick,
    )
    worker.start()
    return worker


def _allowed_updates() -> list[str]:
    from bot.channels.telegram.adapter import ALLOWED_UPDATES

    return ALLOWED_UPDATES


def _install_signals(app: App, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        # SIGHUP: editors changed content/; reload it (a bad reload keeps the old content).
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(app.content.reload()))
