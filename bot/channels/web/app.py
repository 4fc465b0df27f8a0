"""The console's aiohttp application: routes, the guard, security headers, page timings; started and stopped
like the other servers of the bot, in the same event loop as the channels (or alone: `python -m bot web serve`)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, MutableMapping

from aiohttp import web

from bot.channels.web.audit import Audit
from bot.channels.web.auth import Auth, Handler
from bot.channels.web.broadcasts import Broadcasts
from bot.channels.web.campaigns import Campaigns
from bot.channels.web.charts import ChartCache
from bot.channels.web.content import Content
from bot.channels.web.exports import Exports
from bot.channels.web.inbox import Inbox
from bot.channels.web.ledger import Ledger
from bot.channels.web.overview import Overview
from bot.channels.web.render import STATIC, Pages
from bot.config import Settings
from bot.content.store import ContentStore
from bot.storage import Storage

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024  # the largest form is a ledger file to import
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript"}
# Scripts, styles and images from the console itself only; no frames, no form posts elsewhere, no inline script.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class WebConsole:
    """The office's web console over the bot's storage and content (no second source of truth).

    `root` is the path the console is served under by a reverse proxy that strips it (`/console`), or ''.
    """

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        content: ContentStore,
        secret: bytes,
        root: str = "",
        today: Callable[[], dt.date] | None = None,
        with_bot: bool = False,
    ) -> None:
        zone = settings.zone
        self.today = today or (lambda: dt.datetime.now(zone).date())
        self.pages = Pages(root)
        self.charts = ChartCache()
        self.auth = Auth(settings, storage, secret, self.pages, content)
        self.overview = Overview(storage, content, self.pages, self.charts, zone, self.today)
        self.broadcasts = Broadcasts(settings, storage, content, self.pages, self.today)
        self.ledger = Ledger(settings, storage, content, self.pages, self.today)
        self.exports = Exports(settings, storage, content, self.pages, self.today)
        self.campaigns = Campaigns(settings, storage, content, self.pages, self.today)
        self.inbox = Inbox(settings, storage, content, self.pages, self.today)
        self.content = Content(settings, storage, content, self.pages, self.today)
        self.content.with_bot = with_bot  # a reload here reloads what the bot in this process serves
        self.audit = Audit(settings, storage, content, self.pages, self.today)
        self.app = self._application()
        self.host, self.port = "127.0.0.1", 0
        self._runner: web.AppRunner | None = None

    def _application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._headers, self.auth.guard])
        add = app.router.add_route
        add("GET", "/signin", self.auth.signin_page, name="signin")
        add("POST", "/signin", self.auth.signin, name="signin_confirm")
        add("POST", "/signout", self.auth.signout, name="signout")
        add("GET", "/lang/{language}", self.auth.language, name="language")
        add("GET", "/static/{name}", _static, name="static")
        add("GET", "/", self.overview.page, name="overview")
        add("GET", "/charts/{dimension}.svg", self.overview.chart, name="chart")
        add("GET", "/broadcasts", self.broadcasts.page, name="broadcasts")
        add("POST", "/broadcasts/preview", self.broadcasts.preview, name="broadcast_preview")
        add("POST", "/broadcasts", self.broadcasts.send, name="broadcast_send")
        add("POST", r"/broadcasts/{id:\d+}/cancel", self.broadcasts.cancel, name="broadcast_cancel")
        add("GET", "/broadcasts/progress", self.broadcasts.progress, name="progress")
        add("GET", "/ledger", self.ledger.page, name="ledger")
        add("GET", "/ledger/new", self.ledger.new, name="ledger_new")
        add("POST", "/ledger", self.ledger.add, name="ledger_add")
        add("GET", r"/ledger/{id:\d+}/edit", self.ledger.edit_page, name="ledger_edit_page")
        add("POST", r"/ledger/{id:\d+}", self.ledger.edit, name="ledger_edit")
        add("POST", r"/ledger/{id:\d+}/delete", self.ledger.delete, name="ledger_delete")
        add("POST", r"/ledger/{id:\d+}/restore", self.ledger.restore, name="ledger_restore")
        add("GET", "/ledger/import", self.ledger.import_page, name="ledger_import_page")
        add("POST", "/ledger/import", self.ledger.upload, name="ledger_upload")
        add("POST", "/ledger/import/confirm", self.ledger.confirm, name="ledger_confirm")
        add("GET", "/ledger/template.xlsx", self.ledger.template, name="ledger_template")
        add("GET", "/exports", self.exports.page, name="exports")
        add("GET", "/exports/{kind}", self.exports.download, name="export_download")
        add("GET", "/campaigns", self.campaigns.page, name="campaigns")
        add("GET", "/requests", self.inbox.requests, name="requests")
        add("POST", r"/requests/{id:\d+}/done", self.inbox.mark_done, name="request_done")
        add("GET", "/questions", self.inbox.questions, name="questions")
        add("GET", "/content", self.content.page, name="content")
        add("POST", "/content/reload", self.content.reload, name="content_reload")
        add("GET", "/audit", self.audit.page, name="audit")
        app.on_cleanup.append(self._cleanup)
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Security headers on every answer, and how long it took (Server-Timing; logged at DEBUG)."""
        started = time.perf_counter()
        try:
            response = await handler(request)
        except web.HTTPNotFound:
            response = self.pages.problem(request, 404, "web.problem.not_found")
        except web.HTTPException as exc:  # 405, 413 … from aiohttp itself: the same headers
            _secure(exc.headers, started)
            raise
        _secure(response.headers, started)
        log.debug(
            "web console: %s %s %d %s", request.method, request.path, response.status, response.headers["Server-Timing"]
        )
        return response

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)  # URLs may hold a sign-in token: never logged
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []  # port 0 in tests: report the real one
        self.host, self.port = host, sockets[0].getsockname()[1] if sockets else port
        self.charts.start()
        log.info("web console on http://%s:%d%s/", host, self.port, self.pages.root)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _cleanup(self, app: web.Application) -> None:
        self.charts.close()


def _secure(headers: MutableMapping[str, str], started: float) -> None:
    headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")  # a sign-in link's token never leaves in a Referer
    headers.setdefault("Cache-Control", "no-store")


async def _static(request: web.Request) -> web.StreamResponse:
    """The console's own few files, by name only (no directory, no path outside it)."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    response = web.Response(body=(STATIC / name).read_bytes(), content_type=STATIC_FILES[name], charset="utf-8")
    response.headers["Cache-Control"] = "public, max-age=604800"  # the URL carries the file's hash
    return response
