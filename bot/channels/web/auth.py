"""Signing in with a one-time link, sessions, CSRF, signing out; the guard every request passes.

- A link (bot/core/web_links.py) opens a page that asks to confirm; only the confirming POST spends it, so a chat
  app's link preview, which fetches the URL, cannot use the link up.
- The session cookie is random, HttpOnly, SameSite=Strict, and Secure when the request came over HTTPS (directly,
  or through a proxy saying X-Forwarded-Proto: https); the database keeps only its SHA-256. A session ends on
  sign-out or after IDLE seconds without a page view, and the moment its identity leaves BOT_ADMINS.
- Every POST carries a CSRF token: an HMAC of the session with the console's secret, checked before the handler.
- Refused links, missing sessions and bad CSRF tokens are logged with their reason and address, never a token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from bot.channels.web.render import LANG_COOKIE, VISITOR, Pages, Visitor, language_of, visitor
from bot.config import Identity, Settings
from bot.content.store import ContentStore
from bot.core.townships import Scope
from bot.core.web_links import LinkRefused, check_link, redeem
from bot.i18n import LANGUAGES, translator
from bot.storage import Storage

log = logging.getLogger(__name__)

COOKIE = "console_session"
IDLE = 30 * 60  # seconds without a page view that end a session
PUBLIC = frozenset({"signin", "signin_confirm", "static", "language"})  # routes open without a session
QUIET = frozenset({"progress"})  # background polls: checked, but not counted as activity

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def csrf_token(secret: bytes, hashed_session: str) -> str:
    return hmac.new(secret, b"csrf\0" + hashed_session.encode(), hashlib.sha256).hexdigest()[:40]


def is_https(request: web.Request) -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.scheme == "https" or forwarded == "https"


def split_identity(text: str) -> Identity:
    channel, _, external_id = text.partition(":")
    return Identity(channel, external_id)


class Auth:
    def __init__(
        self, settings: Settings, storage: Storage, secret: bytes, pages: Pages, content: ContentStore | None = None
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.secret = secret
        self.pages = pages
        self.content = content

    # -- the guard ---------------------------------------------------------------------------------------

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.name
        who = await self._visitor(request, touch=route not in QUIET)
        if who is not None:
            request[VISITOR] = who
        if route in PUBLIC:
            return await handler(request)
        if who is None:
            log.info("web console: no session for %s %s from %s", request.method, request.path, request.remote)
            if route in QUIET:
                return web.json_response({"error": "signed_out"}, status=401)
            if request.method == "GET":
                return self.pages.redirect("/signin")
            return self.pages.problem(request, 403, "web.problem.signed_out")
        if request.method == "POST":
            form = await request.post()
            if not hmac.compare_digest(str(form.get("csrf", "")), who.csrf):
                log.warning(
                    "web console: refused a form without its CSRF token from %s (%s)", request.remote, who.admin
                )
                return self.pages.problem(request, 403, "web.problem.csrf")
        return await handler(request)

    async def _visitor(self, request: web.Request, touch: bool) -> Visitor | None:
        cookie = request.cookies.get(COOKIE, "")
        if not cookie:
            return None
        hashed = session_hash(cookie)
        session = await self.storage.web.session(hashed, IDLE, touch=touch)
        if session is None:
            return None
        admin = split_identity(session.identity)
        if not self.settings.is_admin(admin.channel, admin.external_id):
            return None  # removed from BOT_ADMINS since signing in
        language = language_of(request)
        scope = Scope.of(self.settings, admin)  # read at every request: BOT_ADMINS decides, not the session
        return Visitor(admin, csrf_token(self.secret, hashed), language, scope.township, self._area(scope, language))

    def _area(self, scope: Scope, language: str) -> str:
        """What the header says of the admin's reach: their township, or the whole county (nothing for one town)."""
        catalog = self.content.catalog if self.content is not None else None
        if catalog is None:
            return scope.township or ""
        if not scope.county:
            return translator(language)("township.header", township=scope.name(catalog))
        return translator(language)("township.header_county", county=catalog.town) if catalog.multi_township else ""

    # -- handlers --------------------------------------------------------------------------------------------

    async def signin_page(self, request: web.Request) -> web.StreamResponse:
        """Without a token: how to get a link. With one: who it signs in, and a button to confirm."""
        token = request.query.get("token", "")
        if not token:
            if visitor(request).admin is not None:
                return self.pages.redirect("/")
            return self.pages.render(
                request, "signin.html", title_key="web.signin.title", token="", signed_out="bye" in request.query
            )
        try:
            claim = await check_link(self.settings, self.storage, token, self.secret)
        except LinkRefused as refused:
            return await self._refused(request, refused.reason)
        return self.pages.render(
            request,
            "signin.html",
            title_key="web.signin.title",
            token=token,
            identity=str(claim.identity),
            signed_out=False,
        )

    async def signin(self, request: web.Request) -> web.StreamResponse:
        token = str((await request.post()).get("token", ""))
        cookie = secrets.token_urlsafe(32)
        try:
            identity = await redeem(self.settings, self.storage, token, self.secret, session_hash(cookie))
        except LinkRefused as refused:
            return await self._refused(request, refused.reason)
        log.info("web console: %s signed in from %s", identity, request.remote)
        response = self.pages.redirect("/")
        response.set_cookie(
            COOKIE,
            cookie,
            path=self.pages.cookie_path,
            httponly=True,
            samesite="Strict",
            secure=is_https(request),
        )
        return response

    async def signout(self, request: web.Request) -> web.StreamResponse:
        who = await self.storage.web.sign_out(session_hash(request.cookies.get(COOKIE, "")))
        log.info("web console: %s signed out", who)
        response = self.pages.redirect("/signin?bye=1")
        response.del_cookie(COOKIE, path=self.pages.cookie_path)
        return response

    async def language(self, request: web.Request) -> web.StreamResponse:
        """Switch the console's language (a preference, not an admin action) and go back where the admin was."""
        chosen = request.match_info["language"]
        back = request.query.get("next", "/")
        if not back.startswith("/") or back.startswith("//") or "\\" in back:
            back = "/"  # only a path of this console: never an open redirect
        response = self.pages.redirect(quote(back, safe="/?=&%-_.~#"))
        if chosen in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE,
                chosen,
                max_age=365 * 86400,
                path=self.pages.cookie_path,
                samesite="Lax",
                secure=is_https(request),
            )
        return response

    async def _refused(self, request: web.Request, reason: str) -> web.Response:
        log.warning("web console: refused a sign-in link (%s) from %s", reason, request.remote)
        await self.storage.web.audit("-", "link_refused", reason)  # the 操作记录 page shows attempts too
        return self.pages.problem(request, 403, f"web.signin.refused_{reason}")
