"""`python -m bot run`: every configured channel in one event loop, stopped gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from bot.app import App, open_app
from bot.broadcasting.calendar import CampaignScheduler
from bot.broadcasting.worker import BroadcastSettings, BroadcastWorker
from bot.channels.http import WebServer, parse_listen, telegram_webhook_handler
from bot.config import ConfigError, Settings
from bot.core.content_sync import ContentFollower
from bot.core.events import Text
from bot.core.sending import Channel

log = logging.getLogger(__name__)


class ChannelsMissing(Exception):
    """No channel is configured."""


def check_channels(settings: Settings) -> None:
    if not settings.telegram_token and not settings.wecom_configured and not settings.wecom_kf_configured:
        raise ChannelsMissing(
            "no channel configured: set TELEGRAM_BOT_TOKEN to serve Telegram, or WECOM_CORP_ID, WECOM_AGENT_ID, "
            "WECOM_SECRET, WECOM_TOKEN and WECOM_AES_KEY to serve WeCom, or WECOM_CORP_ID, WECOM_SECRET, "
            "WECOM_KF_OPEN_KFID, WECOM_KF_TOKEN and WECOM_KF_AES_KEY to serve 微信客服 "
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
        running = _Running()
        worker = None
        console = None
        sharing: asyncio.Task[None] | None = None
        rolling = asyncio.get_running_loop().create_task(_roll_up(app), name="roll-up")
        try:
            for name, starter in _starters(app, settings):
                await running.start(name, starter)
            worker = _start_broadcasts(app, settings, running.channels)
            if app.storage.shared:  # several processes may serve this database: share the limits among them
                sharing = asyncio.get_running_loop().create_task(
                    _share_limits(app, settings, running, worker), name="share-limits"
                )
            if settings.web_listen:
                console = await _start_console(app, settings)
            _install_signals(app, stop)
            if ready is not None:
                ready.set()
            await stop.wait()
        finally:
            # Docker kills 10 s after SIGTERM: finish what is in hand for a few seconds, then stop anyway, so
            # the reach events are flushed before the kill (the storage closes after this block).
            deadline = asyncio.get_running_loop().time() + settings.shutdown_grace
            rolling.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await rolling
            if sharing is not None:
                sharing.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sharing
            if worker is not None:
                await _until(deadline, worker.stop(), "the broadcast batch in hand")  # recorded, or resent later
            await _until(deadline, running.stop(), "replies in hand")
            if console is not None:
                await _until(deadline, console.stop(), "the web console")
            log.info("stopped; flushing reach events")


Starter = Callable[[], Awaitable[tuple[Channel, list[WebServer]]]]


class _Running:
    """The channels serving now, and the ones that could not start yet and are retried in the background.

    One channel's outage (Telegram unreachable at start, say) must not take the others down: the bot keeps
    serving the rest and starts the missing one when it can.
    """

    RETRY_FIRST, RETRY_MAX = 5.0, 300.0  # seconds between attempts, doubling

    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}  # shared with the broadcast worker: late starts join it
        self.servers: list[WebServer] = []
        self._retries: set[asyncio.Task[None]] = set()

    async def start(self, name: str, starter: Starter) -> None:
        try:
            await self._start(starter)
        except ConfigError:
            raise  # a setting we cannot use: fail fast with its message
        except Exception as exc:
            log.error("%s: could not start (%s); retrying in the background, the others serve", name, _brief(exc))
            task = asyncio.get_running_loop().create_task(self._keep_trying(name, starter), name=f"start-{name}")
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

    async def _start(self, starter: Starter) -> None:
        channel, servers = await starter()
        self.channels[channel.name] = channel
        self.servers += servers

    async def _keep_trying(self, name: str, starter: Starter) -> None:
        wait = self.RETRY_FIRST
        while True:
            await asyncio.sleep(wait)
            try:
                await self._start(starter)
            except Exception as exc:
                wait = min(wait * 2, self.RETRY_MAX)
                log.warning("%s: still cannot start (%s); next try in %.0f s", name, _brief(exc), wait)
                continue
            log.info("%s: started after all", name)
            return

    async def stop(self) -> None:
        for task in list(self._retries):
            task.cancel()
        await asyncio.gather(*self._retries, return_exceptions=True)
        for channel in reversed(list(self.channels.values())):
            await channel.stop()
        for server in self.servers:
            await server.stop()


def _starters(app: App, settings: Settings) -> list[tuple[str, Starter]]:
    starters: list[tuple[str, Starter]] = []
    if settings.telegram_token:
        starters.append(("telegram", lambda: _start_telegram(app, settings)))
    if settings.wecom_configured:
        starters.append(("wecom", lambda: _start_wecom(app, settings)))
    if settings.wecom_kf_configured:
        starters.append(("wecom_kf", lambda: _start_kf(app, settings)))
    return starters


async def _start_kf(app: App, settings: Settings) -> tuple[Channel, list[WebServer]]:
    from bot.channels.wecom_kf.adapter import KfChannel

    host, port = parse_listen(settings.wecom_kf_listen, "WECOM_KF_LISTEN")
    kf = KfChannel(app.core, settings)
    server = WebServer(host, port)
    kf.routes(server)
    try:
        await kf.start()
        await server.start()
    except BaseException:
        await server.stop()
        await kf.stop()
        raise
    log.info("wecom_kf: callbacks on %s:%d%s", host, server.port, settings.wecom_kf_callback_path)
    return kf, [server]


async def _start_console(app: App, settings: Settings) -> Any:
    """The office's web console over the same storage and content (docs/web.md)."""
    from bot.channels.web import WebConsole
    from bot.core.web_links import link_secret

    host, port = parse_listen(settings.web_listen, "WEB_LISTEN")
    console = WebConsole(
        settings,
        app.storage,
        app.content,
        link_secret(settings),
        root=urlsplit(settings.web_base_url).path,
        with_bot=True,
    )
    await console.start(host, port)
    return console


async def _start_wecom(app: App, settings: Settings) -> tuple[Channel, list[WebServer]]:
    from bot.channels.wecom.adapter import WeComChannel

    host, port = parse_listen(settings.wecom_listen, "WECOM_LISTEN")
    wecom = WeComChannel(app.core, settings)
    server = WebServer(host, port)
    wecom.routes(server)
    try:
        await wecom.start()
        await server.start()
    except BaseException:
        await server.stop()
        await wecom.stop()
        raise
    log.info("wecom: callbacks on %s:%d%s", host, server.port, settings.wecom_callback_path)
    return wecom, [server]


async def _start_telegram(app: App, settings: Settings) -> tuple[Channel, list[WebServer]]:
    from bot.channels.telegram.adapter import TelegramChannel

    telegram = TelegramChannel(app.core, settings)
    servers: list[WebServer] = []
    try:
        if settings.telegram_webhook_url:
            host, port = parse_listen(settings.telegram_listen, "TELEGRAM_LISTEN")
            web = WebServer(host, port)
            secret = settings.telegram_webhook_secret.value or secrets.token_urlsafe(32)
            path = urlsplit(settings.telegram_webhook_url).path or "/"
            web.add_post(path, telegram_webhook_handler(secret, telegram.feed))
            servers.append(web)
            await web.start()
            await telegram.start()
            await telegram.application.bot.set_webhook(
                settings.telegram_webhook_url, secret_token=secret, allowed_updates=_allowed_updates()
            )
        else:
            await telegram.start()
    except BaseException:
        for server in servers:
            await server.stop()
        with contextlib.suppress(Exception):  # close PTB's HTTP sessions of the failed start
            await telegram.stop()
        raise
    return telegram, servers


async def _until(deadline: float, step: Awaitable[None], what: str) -> None:
    remaining = max(0.5, deadline - asyncio.get_running_loop().time())
    try:
        await asyncio.wait_for(step, remaining)
    except TimeoutError:
        log.warning("shutdown: gave up waiting for %s after the grace period (BOT_SHUTDOWN_GRACE)", what)


def _brief(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _start_broadcasts(app: App, settings: Settings, channels: dict[str, Channel]) -> BroadcastWorker:

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
            rate=settings.broadcast_rate,
            batch_size=settings.broadcast_batch,
            lease=settings.broadcast_lease,
            defer_days=settings.broadcast_defer_days,
            budget_ceiling=math.inf,  # Telegram: its send budget (TELEGRAM_RATE) paces broadcasts after replies
        ),
        on_tick=scheduler.tick,
    )
    worker.start()
    return worker


ROLL_UP_EVERY = 5.0  # seconds between looks at whether the year's roll-ups are behind the event log
CATCH_UP_STEPS = 100  # short transactions per look at most (each a few thousand events)


async def _roll_up(app: App) -> None:
    """The year's roll-ups and counters follow the event log a step behind, off the path that writes events: every
    few seconds, one short transaction at a time, and only while no reach event waits to be written — a burst's
    events are committed first. Statistics catch up the rest themselves before they read."""
    while True:
        await asyncio.sleep(ROLL_UP_EVERY)
        try:
            for _ in range(CATCH_UP_STEPS):  # a bounded look; the next one goes on
                if app.storage.reach.pending or not await app.storage.stats.catch_up(chunks=1):
                    break
        except Exception as exc:  # the next look tries again; statistics catch up themselves anyway
            log.warning("could not bring the year's roll-ups up to date (%s); trying again later", _brief(exc))


SHARE_EVERY = 2.0  # seconds between heartbeats of a process serving a shared database
PRUNE_EVERY = 150  # heartbeats (5 minutes) between prunings of answered turn tickets
ALIVE_WITHIN = 6  # seconds: a process not seen for this long no longer counts (its share goes to the others)


async def _share_limits(app: App, settings: Settings, running: _Running, worker: BroadcastWorker) -> None:
    """Several processes send for one bot: each takes 1/n of its limits (Telegram's ~30 messages a second, the
    broadcast pace), n being the processes alive — re-read every SHARE_EVERY seconds. A process that starts sends
    at its share from its first heartbeat on; the others learn of it within SHARE_EVERY. The same beat follows a
    content reload made in another process (ContentFollower)."""
    owner = worker.owner
    shown = 0
    beats = 0
    content = ContentFollower(app.content, app.storage.processes, owner)
    try:
        while True:
            beats += 1
            try:
                await content.beat()
            except Exception as exc:  # the next beat looks again
                log.warning("could not compare content reloads with the other processes (%s)", _brief(exc))
            if beats % PRUNE_EVERY == 0:  # answered turn tickets are kept a day (a repeated delivery comes sooner)
                with contextlib.suppress(Exception):
                    await app.storage.turns.prune(int(time.time()) - 86400)
            try:
                alive = await app.storage.processes.heartbeat(owner, ALIVE_WITHIN)
            except Exception as exc:  # keep the last share: a busy database now and then
                log.warning("could not count the bot processes (%s); keeping the last share", _brief(exc))
            else:
                if alive != shown:
                    log.info("%d bot process(es) share this database: each sends 1/%d of the limits", alive, alive)
                    shown = alive
                for channel in list(running.channels.values()):
                    share_limits = getattr(channel, "share_limits", None)
                    if share_limits is not None:
                        share_limits(1.0 / alive)
                worker.share_limits(1.0 / alive)
            await asyncio.sleep(SHARE_EVERY)
    finally:
        with contextlib.suppress(Exception):
            await app.storage.processes.leave(owner)


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
