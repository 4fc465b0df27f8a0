"""Pages from Jinja2 templates (autoescaped), in the admin's language, with the request's session and CSRF token.

Handlers build plain values; templates only lay them out. Every string a page shows comes from the UI catalog
(`web:` in bot/locales/*.yaml) or from the content and the data, never from a template literal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.config import Identity, Settings
from bot.content.store import ContentStore
from bot.core.townships import Scope
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, Translator, translator
from bot.storage import Storage

PACKAGE = Path(__file__).parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
LANG_COOKIE = "console_lang"


@dataclass(frozen=True)
class Visitor:
    """Who is asking: the signed-in admin (None on the sign-in pages), their CSRF token and language; the township
    an admin of one acts for (None: a county admin, or the one town), and what the header says of it."""

    admin: Identity | None
    csrf: str
    language: str
    township: str | None = None
    area: str = ""  # the township's name, 全县 for a county admin of several townships; "" for one town

    @property
    def scope(self) -> Scope:
        return Scope(self.township)


VISITOR = web.RequestKey("visitor", Visitor)


def visitor(request: web.Request) -> Visitor:
    return request.get(VISITOR) or Visitor(None, "", language_of(request))


def language_of(request: web.Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt value fails the test, not silently renders empty
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def static_version(name: str) -> str:
    """A short hash of a static file, in its URL: browsers may keep it for long, and never keep an old one."""
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]


class Pages:
    """Renders templates under the console's root path (`/console` behind a proxy that strips it, or '')."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    def url(self, path: str) -> str:
        return f"{self.root}{path}"

    @property
    def cookie_path(self) -> str:
        return f"{self.root}/"

    def redirect(self, path: str) -> web.Response:
        """303 See Other to a page of the console: after a form, the browser asks for the page with GET."""
        return web.Response(status=303, headers={"Location": self.url(path)})

    def render(self, request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
        who = visitor(request)
        t: Translator = translator(who.language)
        html = (
            environment()
            .get_template(template)
            .render(
                t=t,
                lang=who.language,
                admin=str(who.admin) if who.admin else None,
                area=who.area,
                csrf=who.csrf,
                url=self.url,
                static=lambda name: self.url(f"/static/{name}?v={static_version(name)}"),
                here=request.path_qs,
                **context,
            )
        )
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")

    def problem(self, request: web.Request, status: int, message_key: str, **values: Any) -> web.Response:
        """An error page (403, 404, 400) that says what happened and what to do, in the admin's language."""
        t = translator(visitor(request).language)
        return self.render(
            request,
            "problem.html",
            status=status,
            title_key=f"web.problem.title_{status}",
            message=t(message_key, **values),
        )


def download(data: bytes, filename: str, content_type: str) -> web.Response:
    """A file to save, under its (Chinese) name: RFC 6266's filename* for browsers, an ASCII one for the rest."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    response = web.Response(body=data, content_type=content_type)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    return response


class Section:
    """A group of console pages over the same storage, content and clock (broadcasts, ledger, exports)."""

    def __init__(
        self, settings: Settings, storage: Storage, content: ContentStore, pages: Pages, today: Callable[[], dt.date]
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.content = content
        self.pages = pages
        self.today = today

    def scope(self, request: web.Request) -> Scope:
        """The township the signed-in admin acts for (Scope(None): everything)."""
        return visitor(request).scope

    def not_yours(self, request: web.Request, key: str, **values: Any) -> web.Response:
        """403: an admin of one township asked for another's broadcast, ledger row or request."""
        township = self.scope(request).name(self.content.catalog)
        return self.pages.problem(request, 403, key, township=township, **values)
