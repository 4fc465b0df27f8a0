"""The web console over HTTP (aiohttp's test client): sign-in links, sessions, CSRF, and what each page shows.

The same journeys in a real browser, with axe-core and screenshots, are in tests/test_web_browser.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.web import WebConsole
from bot.channels.web.auth import COOKIE, IDLE
from bot.config import ConfigError, Identity, Secret, Settings
from bot.content.store import ContentStore
from bot.core.web_links import LINK_LIFETIME, SECRET_FILE, NotAdmin, link_secret, make_token, mint_link
from bot.reporting.statistics import Period, collect
from bot.storage import Storage

from .conftest import CONTENT, REPO, TODAY, settings_for
from .helpers import SQLITE_ONLY

SECRET = b"a-test-secret-that-is-long-enough-for-hmac"
ADMIN = Identity("telegram", "999")
ZONE = ZoneInfo("Asia/Shanghai")
PAGES = (
    "/",
    "/broadcasts",
    "/charts/month.svg",
    "/?from=2026-01-01&to=2026-06-30",
    "/ledger",
    "/ledger/new",
    "/ledger/1/edit",
    "/ledger/import",
    "/ledger/template.xlsx",
    "/exports",
    "/exports/xlsx",
    "/exports/csv",
    "/exports/docx",
    "/campaigns",
    "/requests",
    "/requests?all=1",
    "/questions",
    "/content",
    "/audit",
)
FORMS = ("/broadcasts", "/broadcasts/preview", "/broadcasts/1/cancel", "/signout")
OFFICE_FORMS = ("/requests/1/done", "/content/reload")
LEDGER_FORMS = (
    "/ledger",
    "/ledger/1",
    "/ledger/1/delete",
    "/ledger/1/restore",
    "/ledger/import",
    "/ledger/import/confirm",
)


class Clock:
    """The database's clock, moved by the tests (link expiry, idle sessions)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Console:
    client: TestClient
    storage: Storage
    settings: Settings
    clock: Clock
    web: WebConsole

    async def link(self, identity: Identity = ADMIN) -> str:
        """A fresh one-time link's token, as `python -m bot web link` prints it."""
        link = await mint_link(self.settings, self.storage, identity, "http://console.test", secret=SECRET)
        return parse_qs(urlsplit(link).query)["token"][0]

    async def sign_in(self, identity: Identity = ADMIN) -> None:
        token = await self.link(identity)
        confirm = await self.client.get("/signin", params={"token": token})
        assert confirm.status == 200 and 'name="token"' in await confirm.text()
        signed_in = await self.client.post("/signin", data={"token": token}, allow_redirects=False)
        assert signed_in.status == 303 and signed_in.headers["Location"] == "/"

    async def csrf(self, path: str = "/broadcasts") -> str:
        page = await self.client.get(path)
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', await page.text())
        assert found, "every page with a form carries the CSRF token"
        return found.group(1)


async def open_console(
    database: str, data_dir: Path, content: ContentStore, admins: frozenset[Identity] = frozenset({ADMIN})
) -> Console:
    """The console on `database` (the `database` fixture's SQLite path or PostgreSQL URL), files in `data_dir`."""
    clock = Clock()
    storage = await Storage.open(database, clock=clock, data_dir=data_dir)
    settings = settings_for(database, data_dir, content_dir=CONTENT, admins=admins, telegram_token=Secret("123:TEST"))
    web = WebConsole(settings, storage, content, SECRET, today=lambda: TODAY)
    client = TestClient(TestServer(web.app), cookie_jar=aiohttp.CookieJar(unsafe=True))
    await client.start_server()
    return Console(client, storage, settings, clock, web)


@pytest.fixture
async def console(database: str, tmp_path: Path, content: ContentStore):
    opened = await open_console(database, tmp_path, content)
    yield opened
    await opened.client.close()
    await opened.storage.close()


# -- security ------------------------------------------------------------------------------------------------


@SQLITE_ONLY  # the redirect comes before any storage
@pytest.mark.parametrize("path", PAGES)
async def test_every_page_without_a_session_goes_to_sign_in(console: Console, path: str) -> None:
    response = await console.client.get(path, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/signin"


@pytest.mark.parametrize("path", FORMS + LEDGER_FORMS)
async def test_every_action_without_a_session_is_refused(console: Console, path: str) -> None:
    response = await console.client.post(path, data={"csrf": "0" * 40, "text": "x"}, allow_redirects=False)
    assert response.status == 403
    assert await console.storage.broadcasts.recent() == []
    assert await console.storage.ledger.audit() == []


async def test_live_progress_without_a_session_is_401(console: Console) -> None:
    response = await console.client.get("/broadcasts/progress?id=1")
    assert response.status == 401 and (await response.json()) == {"error": "signed_out"}


async def test_a_link_signs_in_once(console: Console, caplog: pytest.LogCaptureFixture) -> None:
    token = await console.link()
    assert (await console.client.post("/signin", data={"token": token}, allow_redirects=False)).status == 303
    overview = await console.client.get("/", allow_redirects=False)
    assert overview.status == 200 and "telegram:999" in await overview.text()
    console.client.session.cookie_jar.clear()
    caplog.set_level(logging.INFO)
    again = await console.client.get("/signin", params={"token": token})
    assert again.status == 403 and "已经用过" in await again.text()
    reused = await console.client.post("/signin", data={"token": token}, allow_redirects=False)
    assert reused.status == 403 and COOKIE not in reused.cookies
    assert "refused a sign-in link (used)" in caplog.text
    assert token not in caplog.text and token.split(".")[1] not in caplog.text


async def test_an_expired_link_is_refused(console: Console) -> None:
    token = await console.link()
    console.clock.now += LINK_LIFETIME + 1
    response = await console.client.post("/signin", data={"token": token}, allow_redirects=False)
    assert response.status == 403 and "已过期" in await response.text()


async def test_a_forged_or_damaged_link_is_refused(console: Console) -> None:
    good = await console.link()
    expires = int(console.clock.now) + 60
    for token in (
        make_token(b"another-secret-another-secret-another", ADMIN, expires),  # not signed with our secret
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # the mac changed
        "nonsense",
    ):
        response = await console.client.post("/signin", data={"token": token}, allow_redirects=False)
        assert response.status == 403, token
    assert (await console.client.get("/", allow_redirects=False)).status == 303


async def test_only_admins_get_a_link(console: Console) -> None:
    with pytest.raises(NotAdmin):
        await console.link(Identity("telegram", "12345"))
    # A link written for someone who is no admin (or no longer one) does not sign in either.
    token = make_token(SECRET, Identity("telegram", "12345"), int(console.clock.now) + 60)
    response = await console.client.post("/signin", data={"token": token}, allow_redirects=False)
    assert response.status == 403 and "不是管理员" in await response.text()


async def test_a_form_without_its_csrf_token_is_refused(console: Console) -> None:
    await console.sign_in()
    form = {"content": "text", "text": "今晚放电影", "audience": "all", "when": "now"}
    for token in (None, "", "0" * 40):
        data = form if token is None else {**form, "csrf": token}
        response = await console.client.post("/broadcasts", data=data, allow_redirects=False)
        assert response.status == 403 and "表单已失效" in await response.text()
    assert await console.storage.broadcasts.recent() == []
    signed_out = await console.client.post("/signout", data={}, allow_redirects=False)
    assert signed_out.status == 403  # signing out is an action too
    csrf = await console.csrf()
    assert (await console.client.post("/broadcasts/preview", data={**form, "csrf": csrf})).status == 200


async def test_the_csrf_token_is_bound_to_the_session(console: Console, tmp_path: Path) -> None:
    await console.sign_in()
    first = await console.csrf()
    console.client.session.cookie_jar.clear()
    await console.sign_in()
    assert await console.csrf() != first
    form = {"csrf": first, "content": "text", "text": "x", "audience": "all", "when": "now"}
    assert (await console.client.post("/broadcasts", data=form, allow_redirects=False)).status == 403


async def test_the_session_cookie_is_httponly_strict_and_secure_behind_https(console: Console) -> None:
    token = await console.link()
    plain = await console.client.post("/signin", data={"token": token}, allow_redirects=False)
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    proxied = await console.client.post(
        "/signin", data={"token": await console.link()}, headers={"X-Forwarded-Proto": "https"}, allow_redirects=False
    )
    assert "Secure" in proxied.headers["Set-Cookie"] and "HttpOnly" in proxied.headers["Set-Cookie"]


async def test_a_session_ends_after_thirty_idle_minutes(console: Console) -> None:
    await console.sign_in()
    console.clock.now += IDLE - 60
    assert (await console.client.get("/broadcasts", allow_redirects=False)).status == 200  # activity: counted
    console.clock.now += IDLE - 60
    assert (await console.client.get("/broadcasts/progress?id=1")).status == 200  # a poll: not counted
    console.clock.now += 120
    assert (await console.client.get("/broadcasts/progress?id=1")).status == 401
    assert (await console.client.get("/", allow_redirects=False)).status == 303


async def test_sign_out_ends_the_session(console: Console) -> None:
    await console.sign_in()
    cookie = next(c.value for c in console.client.session.cookie_jar if c.key == COOKIE)
    csrf = await console.csrf()
    out = await console.client.post("/signout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/signin?bye=1"
    console.client.session.cookie_jar.update_cookies({COOKIE: cookie})  # the old cookie, kept by someone
    assert (await console.client.get("/", allow_redirects=False)).status == 303
    log = await console.storage.web.audit_log()
    assert [e.action for e in log if e.actor == "telegram:999"][:3] == ["sign_out", "sign_in", "link"]


async def test_a_session_ends_when_its_admin_is_removed(database: str, tmp_path: Path, content: ContentStore) -> None:
    first = await open_console(database, tmp_path, content)
    await first.sign_in()
    cookie = next(c.value for c in first.client.session.cookie_jar if c.key == COOKIE)
    await first.client.close()
    await first.storage.close()
    later = await open_console(database, tmp_path, content, admins=frozenset({Identity("wecom", "zhangsan")}))
    try:
        later.client.session.cookie_jar.update_cookies({COOKIE: cookie})
        assert (await later.client.get("/", allow_redirects=False)).status == 303
    finally:
        await later.client.close()
        await later.storage.close()


async def test_pages_send_security_headers_and_their_timing(console: Console) -> None:
    await console.sign_in()
    response = await console.client.get("/broadcasts")
    headers = response.headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    assert re.fullmatch(r"app;dur=\d+\.\d", headers["Server-Timing"])
    assert "<script>" not in await response.text()  # no inline script: the policy forbids it


async def test_language_switch_and_no_open_redirect(console: Console) -> None:
    await console.sign_in()
    english = await console.client.get("/lang/en?next=/broadcasts", allow_redirects=False)
    assert english.status == 303 and english.headers["Location"] == "/broadcasts"
    page = await (await console.client.get("/broadcasts")).text()
    assert '<html lang="en">' in page and "New broadcast" in page
    for target in ("//evil.example/", "https://evil.example/", "\\\\evil"):
        response = await console.client.get("/lang/zh-CN", params={"next": target}, allow_redirects=False)
        assert response.headers["Location"] == "/"
    assert '<html lang="zh-CN">' in await (await console.client.get("/")).text()


def test_the_secret_is_kept_beside_the_database_for_its_owner_only(tmp_path: Path) -> None:
    # One backend is enough: about a file beside a SQLite database, never opened
    settings = Settings(db_path=tmp_path / "data" / "bot.sqlite3")
    secret = link_secret(settings)
    path = tmp_path / "data" / SECRET_FILE
    assert len(secret) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert link_secret(settings) == secret  # the CLI and the server agree
    path.chmod(0o644)
    assert link_secret(settings) == secret and stat.S_IMODE(path.stat().st_mode) == 0o600
    given = Settings.from_env({"BOT_DB": str(settings.db_path), "WEB_SECRET": "x" * 40}, dotenv=None)
    assert link_secret(given) == b"x" * 40
    with pytest.raises(ConfigError, match="WEB_SECRET is too short"):
        link_secret(Settings.from_env({"BOT_DB": str(settings.db_path), "WEB_SECRET": "short"}, dotenv=None))


def test_web_link_command_prints_a_link_for_admins_only(database: str, tmp_path: Path, content: ContentStore) -> None:
    env = {
        **os.environ,
        "BOT_DB": database,
        "BOT_DATA_DIR": str(tmp_path),
        "BOT_CONTENT_DIR": str(CONTENT),
        "BOT_ADMINS": "telegram:999",
        "WEB_BASE_URL": "https://fazhi.example.cn/console/",
    }
    env.pop("WEB_SECRET", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bot", "web", "link", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)

    made = run("--admin", "telegram:999")
    assert made.returncode == 0, made.stderr
    link = made.stdout.splitlines()[0]
    assert link.startswith("https://fazhi.example.cn/console/signin?token=")
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600
    refused = run("--admin", "telegram:12345")
    assert refused.returncode == 1 and "not in BOT_ADMINS" in refused.stderr and "http" not in refused.stdout
    assert run("--admin", "nonsense").returncode == 2


# -- 概览 ---------------------------------------------------------------------------------------------------


class Figures(HTMLParser):
    """The overview's figures (data-figure/data-value) and its tables (row data-key → cell data-field → text)."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.tables: dict[str, dict[str, dict[str, str]]] = {}
        self._table = self._row = self._field = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-figure" in a:
            self.figures[a["data-figure"] or ""] = a.get("data-value") or ""
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = {}
        if tag == "tr" and self._table and a.get("data-key"):
            self._row = a["data-key"]
            self.tables[self._table][self._row] = {}
        if self._row and a.get("data-field"):
            self._field = a["data-field"]

    def handle_data(self, data: str) -> None:
        if self._table and self._row and self._field:
            self.tables[self._table][self._row][self._field] = data.strip()
            self._field = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = self._row = None


@dataclass
class Overview:
    figures: dict[str, str]
    tables: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, html: str) -> Overview:
        parser = Figures()
        parser.feed(html)
        return cls(parser.figures, parser.tables)


def lookup(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


def assert_same_figures(page: Overview, expected: dict[str, Any]) -> None:
    """Every figure and every row of the page is the one `stats --json` gives (zeros where it has no key)."""
    assert page.figures, "the overview shows its figures"
    for key, value in page.figures.items():
        wanted = lookup(expected, key)
        assert (value == "" and wanted is None) or float(value) == wanted, key
    for table, dimension in (("by-month", "by_month"), ("by-topic", "by_topic"), ("by-place", "by_place")):
        rows = page.tables[table]
        for key, reach in expected[dimension].items():
            assert rows[key] == {"deliveries": str(reach["deliveries"]), "reached": str(reach["reached"])}, key
        for key in set(rows) - set(expected[dimension]):
            assert rows[key] == {"deliveries": "0", "reached": "0"}, key


async def test_the_overview_shows_exactly_the_figures_of_stats(
    database: str, tmp_path: Path, content: ContentStore
) -> None:
    from .test_statistics import build_history

    await build_history(database, tmp_path)
    console = await open_console(database, tmp_path, content)
    try:
        await console.sign_in()
        response = await console.client.get("/?from=2026-01-01&to=2026-12-31")
        html = await response.text()
        period = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31), ZONE)
        expected = (await collect(console.storage, content.catalog, period)).as_dict()
        page = Overview.parse(html)
        assert_same_figures(page, expected)
        assert page.figures["deliveries"] == "11" and page.figures["quiz.accuracy"] == str(1 / 3)[:6]
        assert set(page.tables["by-place"]) >= {p.id for p in content.catalog.places} | {"unknown"}
        assert "2026年" in html and "我镇" in html  # the report paragraph, to copy
        charts = re.findall(r'<img src="(/charts/(\w+)\.svg\?[^"]+)"', html)
        assert [name for _, name in charts] == ["month", "place", "topic"]
        svg = await console.client.get(charts[0][0].replace("&amp;", "&"))
        assert svg.status == 200 and svg.content_type == "image/svg+xml"
        body = await svg.read()
        assert b"<svg" in body and b"<text" not in body  # glyphs drawn as paths: no font needed to show it
        assert "max-age" in svg.headers["Cache-Control"]
        assert (await console.client.get("/charts/nothing.svg")).status == 404
        # A period that makes no sense: said so, and this year shown instead.
        wrong = await (await console.client.get("/?from=2026-12-31&to=2026-01-01")).text()
        assert "结束日期早于开始日期" in wrong
    finally:
        await console.client.close()
        await console.storage.close()


# -- 群发 ---------------------------------------------------------------------------------------------------


async def residents(storage: Storage, people: list[tuple[str, str, str | None]]) -> dict[str, int]:
    ids = {}
    for channel, external_id, place in people:
        resident, _ = await storage.residents.get_or_create(channel, external_id, external_id, "zh-CN")
        await storage.residents.update(resident.id, place_id=place)
        ids[external_id] = resident.id
    return ids


async def test_compose_preview_send_and_cancel_a_broadcast(console: Console) -> None:
    await residents(
        console.storage,
        [
            ("telegram", "1", "hexi-village"),
            ("telegram", "2", "hexi-village"),
            ("telegram", "3", "qingshi-village"),
            ("console", "4", "hexi-village"),  # trials in the console never receive broadcasts
        ],
    )
    await console.sign_in()
    csrf = await console.csrf()
    form = {
        "csrf": csrf,
        "content": "text",
        "text": "今晚七点村部放法治电影",
        "audience": "places",
        "place": "hexi-village",
        "when": "now",
    }
    preview = await console.client.post("/broadcasts/preview", data=form)
    html = await preview.text()
    assert preview.status == 200 and 'data-recipients="2"' in html and "将发给 2 人" in html
    assert "今晚七点村部放法治电影" in html and "退订" in html  # the message as residents see it, footer too
    assert await console.storage.broadcasts.recent() == []  # a preview sends nothing
    sent = await console.client.post("/broadcasts", data=form, allow_redirects=False)
    assert sent.status == 303 and sent.headers["Location"].startswith("/broadcasts?created=1&count=2")
    (broadcast,) = await console.storage.broadcasts.recent()
    assert broadcast.text == "今晚七点村部放法治电影" and broadcast.audience.places == ("hexi-village",)
    assert broadcast.created_by == "telegram:999" and broadcast.status == "scheduled"
    listing = await (await console.client.get(sent.headers["Location"])).text()
    assert "群发 #1 已创建，发给 2 人" in listing and 'data-broadcast="1" data-active="1"' in listing
    progress = await (await console.client.get("/broadcasts/progress?id=1&id=99")).json()
    assert progress["broadcasts"] == [
        {
            "id": 1,
            "status": "scheduled",
            "status_label": "待发送",
            "active": True,
            "targeted": 0,
            "pending": 0,
            "delivered": 0,
            "blocked": 0,
            "failed": 0,
            "cancelled": 0,
            "out_of_window": 0,
        }
    ]
    cancelled = await console.client.post("/broadcasts/1/cancel", data={"csrf": csrf}, allow_redirects=False)
    assert cancelled.status == 303 and "cancelled=1" in cancelled.headers["Location"]
    assert (await console.storage.broadcasts.get(1)).status == "cancelled"  # type: ignore[union-attr]
    again = await console.client.post("/broadcasts/1/cancel", data={"csrf": csrf}, allow_redirects=False)
    assert "finished=1" in again.headers["Location"]
    actions = [(e.actor, e.action, e.detail) for e in await console.storage.web.audit_log()]
    assert actions[0][:2] == ("telegram:999", "cancel") and actions[1][:2] == ("telegram:999", "broadcast")
    assert "place:hexi-village" in actions[1][2] and actions[1][2].endswith("(2)")


async def test_a_tip_to_topic_subscribers_at_a_time(console: Console, content: ContentStore) -> None:
    ids = await residents(console.storage, [("telegram", "1", None), ("telegram", "2", None)])
    await console.storage.residents.set_topic_subscription(ids["2"], "anti-fraud", False)
    await console.sign_in()
    at = (dt.datetime.now(ZONE) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "csrf": await console.csrf(),
        "content": "tip",
        "item": "fz-shuadan",
        "audience": "topics",
        "topic": "anti-fraud",
        "when": "later",
        "at": at,
    }
    html = await (await console.client.post("/broadcasts/preview", data=form)).text()
    tip = content.catalog.tip("fz-shuadan")
    assert tip is not None and 'data-recipients="1"' in html and tip.title in html and at.replace("T", " ") in html
    assert (await console.client.post("/broadcasts", data=form, allow_redirects=False)).status == 303
    (broadcast,) = await console.storage.broadcasts.recent()
    assert broadcast.item_id == "fz-shuadan" and broadcast.topic_id == "anti-fraud"
    assert broadcast.send_at == int(dt.datetime.strptime(at, "%Y-%m-%dT%H:%M").replace(tzinfo=ZONE).timestamp())


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"content": "text", "text": " "}, "请填写通知内容"),
        ({"content": "tip"}, "请选择一条普法小知识"),
        ({"content": "text", "text": "x" * 1001}, "最多 1000 字"),
        ({"content": "text", "text": "x", "audience": "places"}, "请至少勾选一个村"),
        ({"content": "text", "text": "x", "when": "later", "at": "2020-01-01T09:00"}, "发送时间已经过去了"),
        ({"content": "text", "text": "x", "when": "later", "at": "明天"}, "请填写发送时间"),
        ({"content": "tip", "item": "no-such-tip"}, "no tip with id"),
        ({"content": "text", "text": "x", "audience": "places", "place": "atlantis"}, "no such place"),
        ({"content": "text", "text": "x"}, "没有符合条件的订阅居民"),  # nobody subscribed yet
    ],
)
@SQLITE_ONLY  # the form's checks, not storage
async def test_a_broadcast_that_cannot_be_sent_says_why(console: Console, form: dict[str, str], message: str) -> None:
    await console.sign_in()
    data = {"csrf": await console.csrf(), "audience": "all", "when": "now", **form}
    response = await console.client.post("/broadcasts", data=data, allow_redirects=False)
    assert response.status == 400 and message in await response.text()
    assert await console.storage.broadcasts.recent() == []


async def test_pages_render_in_english_too(console: Console) -> None:
    await console.sign_in()
    await console.client.get("/lang/en")
    overview = await (await console.client.get("/")).text()
    assert "Key figures" in overview and "Annual report paragraph" in overview
    assert ">概览<" not in overview and ">Overview<" in overview  # the navigation too
    assert "web." not in re.sub(r"<[^>]+>", "", overview)  # no catalog key shown instead of its text
    for path, heading in (("/ledger", "Ledger"), ("/ledger/new", "Add a ledger row"), ("/exports", "Exports")):
        page = await (await console.client.get(path)).text()
        assert f"<h1>{heading}</h1>" in page and "web." not in re.sub(r"<[^>]+>", "", page), path


def test_templates_and_static_files_ship_with_the_package() -> None:
    web = REPO / "bot" / "channels" / "web"
    assert sorted(p.name for p in (web / "static").iterdir()) == ["console.css", "console.js"]
    for template in (web / "templates").iterdir():
        assert "style=" not in template.read_text(encoding="utf-8"), template  # the CSP allows no inline style


async def test_web_in_a_chat_gives_admins_a_link_and_nobody_else(
    storage: Storage, content: ContentStore, database: str, tmp_path: Path
) -> None:
    from bot.core.engine import Core

    from .helpers import Chat, texts

    settings = settings_for(
        database,
        tmp_path,
        content_dir=CONTENT,
        admins=frozenset({Identity("console", "boss")}),
        web_listen="127.0.0.1:8080",
        web_base_url="https://fazhi.example.cn/console",
    )
    core = Core(storage, content, settings, lambda: TODAY)
    boss, villager = Chat(core, "boss"), Chat(core, "villager")
    await boss.say("/start")
    await villager.say("/start")
    link = texts(await boss.say("/web"))
    assert "https://fazhi.example.cn/console/signin?token=" in link
    assert "token=" not in texts(await villager.say("/web"))
    off = Core(storage, content, settings_for(database, tmp_path, content_dir=CONTENT, admins=settings.admins))
    assert "WEB_LISTEN" in texts(await Chat(off, "boss").say("/web"))


# -- 普法台账 ---------------------------------------------------------------------------------------------------

ROW = {"day": "2026-11-20", "type": "进村宣传", "count": "80", "place": "河西村", "topic": "", "title": "宪法进村"}


async def offline_activities(console: Console) -> str:
    page = await (await console.client.get("/")).text()
    found = re.search(r'data-figure="offline.activities" data-value="(\d+)"', page)
    assert found
    return found.group(1)


@pytest.mark.parametrize("path", LEDGER_FORMS)
async def test_every_ledger_action_without_its_csrf_token_is_refused(console: Console, path: str) -> None:
    await console.sign_in()
    await console.storage.ledger.add([_entry()], "cli:clerk", 1)
    for token in (None, "0" * 40):
        data = dict(ROW) if token is None else {**ROW, "csrf": token}
        response = await console.client.post(path, data=data, allow_redirects=False)
        assert response.status == 403 and "表单已失效" in await response.text()
    assert [r.action for r in await console.storage.ledger.audit()] == ["add"]  # the row made above, nothing else


def _entry(count: int = 50) -> Any:
    from bot.storage.ledger import LedgerEntry

    return LedgerEntry(day="2026-10-01", type="法治讲座", count=count, place_id="qingshi-village")


async def test_add_edit_delete_and_undo_a_ledger_row(console: Console) -> None:
    await console.sign_in()
    csrf = await console.csrf("/ledger")
    assert await offline_activities(console) == "0"
    added = await console.client.post("/ledger", data={**ROW, "csrf": csrf}, allow_redirects=False)
    assert added.status == 303 and "added=1" in added.headers["Location"]
    entry = await console.storage.ledger.get(1)
    assert entry is not None and entry.place_id == "hexi-village" and entry.count == 80
    assert entry.created_by == "telegram:999"
    listing = await (await console.client.get(added.headers["Location"])).text()
    assert "已记入台账，编号 1" in listing and 'data-entry="1"' in listing and "河西村" in listing
    assert await offline_activities(console) == "1"
    form = await (await console.client.get("/ledger/1/edit")).text()
    assert 'value="河西村"' in form and 'value="80"' in form
    edited = await console.client.post("/ledger/1", data={**ROW, "count": "95", "csrf": csrf}, allow_redirects=False)
    assert edited.status == 303 and "edited=1" in edited.headers["Location"]
    assert (await console.storage.ledger.get(1)).count == 95  # type: ignore[union-attr]
    deleted = await console.client.post("/ledger/1/delete", data={"csrf": csrf}, allow_redirects=False)
    assert "deleted=1" in deleted.headers["Location"]
    page = await (await console.client.get(deleted.headers["Location"])).text()
    assert "已删除第 1 条" in page and 'action="/ledger/1/restore"' in page  # the undo button
    assert await offline_activities(console) == "0"
    restored = await console.client.post("/ledger/1/restore", data={"csrf": csrf}, allow_redirects=False)
    assert "restored=1" in restored.headers["Location"]
    assert await offline_activities(console) == "1"
    ledger_audit = [(r.action, r.actor) for r in await console.storage.ledger.audit()]
    assert sorted(ledger_audit) == sorted([(a, "telegram:999") for a in ("add", "edit", "delete", "restore")])
    web_audit = [(e.actor, e.action) for e in await console.storage.web.audit_log()]
    assert [a for _, a in web_audit[:4]] == ["ledger_restore", "ledger_delete", "ledger_edit", "ledger_add"]
    assert {actor for actor, _ in web_audit} == {"telegram:999"}


async def test_the_ledger_list_filters_by_period_type_and_place(console: Console) -> None:
    from bot.storage.ledger import LedgerEntry

    await console.storage.ledger.add(
        [
            LedgerEntry(day="2026-03-01", type="进村宣传", count=10, place_id="hexi-village"),
            LedgerEntry(day="2026-04-01", type="发放资料", count=300, place_id="qingshi-village"),
            LedgerEntry(day="2025-04-01", type="进村宣传", count=20, place_id="hexi-village"),
        ],
        "cli:clerk",
        1,
    )
    await console.sign_in()

    async def shown(query: str) -> list[str]:
        return re.findall(r'data-entry="(\d+)"', await (await console.client.get(f"/ledger?{query}")).text())

    assert await shown("") == ["1", "2"]  # this year by default
    assert await shown("from=2025-01-01&to=2026-12-31") == ["3", "1", "2"]
    assert await shown("type=发放资料") == ["2"]
    assert await shown("place=hexi-village&from=2025-01-01") == ["3", "1"]


async def test_implausible_values_need_a_confirmation(console: Console) -> None:
    await console.sign_in()
    csrf = await console.csrf("/ledger")
    form = {**ROW, "count": "3000", "csrf": csrf}  # more than 河西村's 1680 residents
    refused = await console.client.post("/ledger", data=form, allow_redirects=False)
    html = await refused.text()
    assert refused.status == 400 and "多于河西村的人口" in html and 'name="force"' in html
    assert await console.storage.ledger.audit() == []
    unreadable = await console.client.post("/ledger", data={**form, "count": "很多"}, allow_redirects=False)
    assert unreadable.status == 400 and "不是整数" in await unreadable.text()
    forced = await console.client.post("/ledger", data={**form, "force": "1"}, allow_redirects=False)
    assert forced.status == 303 and (await console.storage.ledger.get(1)).count == 3000  # type: ignore[union-attr]


CSV = (
    "日期,类型,地点,数量,备注\n"
    "2026-05-01,进村宣传,河西村,60,好\n"
    "2026-05-01,进村宣传,河西村,60,同一次\n"
    "2026-05-02,发放资料,青石村,99999,太多\n"
    "2026-05-03,跳舞,青石村,5,类型不对\n"
)


async def test_import_shows_what_it_will_do_then_imports(console: Console) -> None:
    await console.sign_in()
    csrf = await console.csrf("/ledger/import")
    data = aiohttp.FormData()
    data.add_field("csrf", csrf)
    data.add_field("file", CSV.encode("utf-8"), filename="台账.csv", content_type="text/csv")
    preview = await console.client.post("/ledger/import", data=data)
    html = await preview.text()
    assert preview.status == 200
    assert 'data-import="1" data-duplicate="1" data-refused="2"' in html
    assert "与本文件第 2 行重复" in html and "超过上限" in html and "类型「跳舞」不认识" in html
    assert await console.storage.ledger.audit() == []  # a preview writes nothing
    upload = re.search(r'name="upload" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    forced = await console.client.post(
        "/ledger/import/confirm", data={"csrf": csrf, "upload": upload, "force": "1", "apply": "0"}
    )
    assert 'data-import="2" data-duplicate="1" data-refused="1"' in await forced.text()
    # the box ticked after the preview without checking again: the preview is shown again, nothing written
    changed = await console.client.post(
        "/ledger/import/confirm", data={"csrf": csrf, "upload": upload, "force": "1", "shown_force": "0", "apply": "1"}
    )
    assert changed.status == 200 and await console.storage.ledger.audit() == []
    done = await console.client.post(
        "/ledger/import/confirm",
        data={"csrf": csrf, "upload": upload, "force": "1", "shown_force": "1", "apply": "1"},
        allow_redirects=False,
    )
    assert done.status == 303 and "imported=2" in done.headers["Location"]
    records = await console.storage.ledger.audit()
    assert [(r.action, r.actor) for r in records] == [("import", "telegram:999")] * 2
    again = await console.client.post(
        "/ledger/import/confirm", data={"csrf": csrf, "upload": upload, "shown_force": "0", "apply": "1"}
    )
    assert again.status == 400 and "已失效" in await again.text()  # one upload imports once
    (logged, *_) = await console.storage.web.audit_log()
    assert logged.action == "ledger_import" and "台账.csv" in logged.detail


async def test_import_refuses_files_it_cannot_read(console: Console) -> None:
    await console.sign_in()
    csrf = await console.csrf("/ledger/import")
    for name, body, message in (("a.xls", b"x", "旧版 .xls"), ("a.csv", b"hello,world\n", "找不到表头")):
        data = aiohttp.FormData()
        data.add_field("csrf", csrf)
        data.add_field("file", body, filename=name)
        response = await console.client.post("/ledger/import", data=data)
        assert response.status == 400 and message in await response.text()


async def test_the_ledger_template_downloads_as_xlsx(console: Console) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    await console.sign_in()
    response = await console.client.get("/ledger/template.xlsx")
    assert response.status == 200 and "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(BytesIO(await response.read()))
    assert "台账" in book.sheetnames


# -- 导出 -------------------------------------------------------------------------------------------------------


async def test_exports_download_excel_csv_and_word_without_personal_data(console: Console) -> None:
    import zipfile
    from io import BytesIO

    from openpyxl import load_workbook

    await console.storage.ledger.add([_entry()], "cli:clerk", 1)
    await console.sign_in()
    page = await (await console.client.get("/exports?from=2026-01-01&to=2026-11-29")).text()
    assert 'href="/exports/xlsx?from=2026-01-01&amp;to=2026-11-29"' in page
    xlsx = await console.client.get("/exports/xlsx?from=2026-01-01&to=2026-11-29")
    assert xlsx.status == 200 and "2026-01-01_2026-11-29.xlsx" in xlsx.headers["Content-Disposition"]
    book = load_workbook(BytesIO(await xlsx.read()))
    cells = {str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c}
    assert any(c.startswith("统计期间：") for c in cells) and any(c.startswith("填报单位：") for c in cells)  # cover
    assert not any("电话" in c for c in cells)  # no personal data without --personal, as the CLI
    archive = zipfile.ZipFile(BytesIO(await (await console.client.get("/exports/csv?from=2026-01-01")).read()))
    assert archive.namelist() and all(n.endswith(".csv") for n in archive.namelist())
    word = await console.client.get("/exports/docx")
    assert word.status == 200 and (await word.read())[:2] == b"PK"
    bad = await console.client.get("/exports/xlsx?from=2026-12-01&to=2026-01-01")
    assert bad.status == 400
    assert (await console.client.get("/exports/pdf")).status == 404
    actions = [e.action for e in await console.storage.web.audit_log()]
    assert actions[:3] == ["export_docx", "export_csv", "export_xlsx"]


# -- 宣传日历, 群众诉求, 未答问题, 内容, 操作记录 ----------------------------------------------------------------


def at(day: str, time_of_day: str) -> float:
    return dt.datetime.fromisoformat(f"{day}T{time_of_day}").replace(tzinfo=ZONE).timestamp()


async def open_request(storage: Storage, external_id: str, question: str, phone: str | None) -> int:
    resident, _ = await storage.residents.get_or_create("telegram", external_id, external_id, "zh-CN")
    request_id = await storage.requests.offer(resident.id, "telegram", "hexi-village", None, question)
    assert await storage.requests.submit(request_id, resident.id, phone)
    return request_id


@pytest.mark.parametrize("path", OFFICE_FORMS)
async def test_office_actions_without_a_session_or_csrf_token_change_nothing(console: Console, path: str) -> None:
    request_id = await open_request(console.storage, "1", "邻居占了我家宅基地", "13800000000")
    loaded_at = console.web.content.content.loaded_at
    refused = await console.client.post(path, data={"csrf": "0" * 40}, allow_redirects=False)
    assert refused.status == 403
    await console.sign_in()
    for token in (None, "0" * 40):
        data = {} if token is None else {"csrf": token}
        response = await console.client.post(path, data=data, allow_redirects=False)
        assert response.status == 403 and "表单已失效" in await response.text()
    (still_open,) = await console.storage.requests.listing()
    assert still_open.id == request_id and still_open.status == "open"
    assert console.web.content.content.loaded_at == loaded_at
    assert [e.action for e in await console.storage.web.audit_log()] == ["sign_in", "link"]


async def test_requests_are_listed_with_their_phone_and_marked_done(console: Console) -> None:
    first = await open_request(console.storage, "1", "邻居占了我家宅基地，调解不成", "13800000000")
    second = await open_request(console.storage, "2", "工钱被拖欠半年", None)
    await console.sign_in()
    page = await (await console.client.get("/requests")).text()
    assert f'data-request="{first}"' in page and f'data-request="{second}"' in page
    assert "13800000000" in page and "未留电话" in page and "河西村" in page and "邻居占了我家宅基地" in page
    csrf = await console.csrf("/requests")
    done = await console.client.post(f"/requests/{first}/done", data={"csrf": csrf}, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == f"/requests?done={first}"
    listing = await (await console.client.get(done.headers["Location"])).text()
    assert f"第 {first} 条已标为已处理" in listing and f'data-request="{first}"' not in listing
    with_done = await (await console.client.get("/requests?all=1")).text()
    assert f'data-request="{first}" class="deleted"' in with_done and "web:telegram:999" in with_done
    again = await console.client.post(f"/requests/{first}/done", data={"csrf": csrf}, allow_redirects=False)
    assert again.status == 404 and "不存在或已经处理过了" in await again.text()
    (marked,) = [r for r in await console.storage.requests.listing(include_done=True) if r.id == first]
    assert marked.status == "done" and marked.done_by == "web:telegram:999"
    newest = (await console.storage.web.audit_log())[0]
    assert (newest.action, newest.actor, newest.detail) == (
        "request_done",
        "telegram:999",
        f"#{first}",
    )


async def test_unanswered_questions_most_asked_first(console: Console) -> None:
    for question in ("低保怎么申请", "宅基地能卖吗", "低保怎么申请", "低保怎么申请", "宅基地能卖吗", "狗咬人谁赔"):
        await console.storage.questions.log_unanswered(question)
    await console.sign_in()
    page = await (await console.client.get("/questions")).text()
    rows = re.findall(r'<td class="text" lang="zh-CN">([^<]+)</td>\s*<td>(\d+)</td>', page)
    assert rows == [("低保怎么申请", "3"), ("宅基地能卖吗", "2"), ("狗咬人谁赔", "1")]
    assert "共 3 个问题" in page


async def test_the_calendar_shows_the_coming_days_what_they_send_and_to_how_many(console: Console) -> None:
    from bot.broadcasting.calendar import CampaignScheduler

    await residents(console.storage, [("telegram", "1", "hexi-village"), ("telegram", "2", "qingshi-village")])
    console.clock.now = at("2026-12-01", "10:00")
    await console.sign_in()
    page = await (await console.client.get("/campaigns")).text()
    keys = re.findall(r'data-occurrence="([^"]+)"', page)
    assert keys[0] == "constitution-day@2026-12-04", keys[:3]
    assert keys == sorted(keys, key=lambda k: k.split("@")[1])  # in date order
    first = page[page.index('data-occurrence="constitution-day@2026-12-04"') :].split("</tr>")[0]
    assert "2026-12-04 09:00" in first and "3 天后" in first and "国家宪法日" in first
    tip = console.web.content.content.catalog.tip("xf-xianfari")
    assert tip is not None and tip.title in first and "全体订阅居民" in first
    assert '<td data-field="recipients">2</td>' in first and "到时自动发送" in first
    assert "national-security-day@2027-04-15" in keys and "anti-drug-day@2027-06-26" in keys  # a year ahead
    # On the day, once the scheduler has made its broadcast, the page says so.
    console.clock.now = at("2026-12-04", "09:30")
    scheduler = CampaignScheduler(console.storage, console.web.content.content, ZONE, clock=console.clock)
    assert await scheduler.tick()
    await console.sign_in()  # three days later: the session has ended long ago
    today = await (await console.client.get("/campaigns")).text()
    row = today[today.index('data-occurrence="constitution-day@2026-12-04"') :].split("</tr>")[0]
    assert "今天" in row and "已生成群发" in row


async def test_the_calendar_warns_of_a_tip_that_expires_before_its_day(database: str, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "content"
    shutil.copytree(CONTENT, copy)
    topic = copy / "topics" / "constitution.yaml"
    text = topic.read_text(encoding="utf-8")
    head, tip = text.split("  - id: xf-xianfari\n", 1)
    tip = tip.replace("    keywords:", "    valid_until: 2026-12-01\n    keywords:", 1)
    topic.write_text(head + "  - id: xf-xianfari\n" + tip, encoding="utf-8")
    opened = await open_console(database, tmp_path, ContentStore.load(copy, lambda: TODAY))
    try:
        opened.clock.now = at("2026-11-30", "10:00")
        await opened.sign_in()
        page = await (await opened.client.get("/campaigns")).text()
        row = page[page.index('data-occurrence="constitution-day@2026-12-04"') :].split("</tr>")[0]
        assert "要发的小知识 xf-xianfari 在 2026-12-01 就过期了" in row and "<details>" not in row
    finally:
        await opened.client.close()
        await opened.storage.close()


async def test_the_content_page_shows_the_check_and_reloads(database: str, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "content"
    shutil.copytree(CONTENT, copy)
    content = ContentStore.load(copy, lambda: TODAY)
    opened = await open_console(database, tmp_path, content)
    try:
        await opened.sign_in()
        page = await (await opened.client.get("/content")).text()
        tips = sum(len(topic.tips) for topic in content.catalog.topics)
        assert f'<dd data-count="tips">{tips}</dd>' in page and 'id="check-summary"' in page
        assert 'class="error"' not in page  # the shipped content has no errors
        csrf = await opened.csrf("/content")
        before = content.catalog
        # An editor breaks a file: the check shows it by file and line, a reload is refused, the old content serves.
        fraud = copy / "topics" / "anti-fraud.yaml"
        good = fraud.read_text(encoding="utf-8")
        fraud.write_text(good.replace("reviewed_on: ", "reviewed_on: 2026-02-30 #", 1), encoding="utf-8")
        checked = await (await opened.client.get("/content")).text()
        assert re.search(r"<code>[^<]*topics/anti-fraud\.yaml:\d+</code>", checked)
        assert "2026-02-30" in checked and 'class="error"' in checked
        refused = await opened.client.post("/content/reload", data={"csrf": csrf}, allow_redirects=False)
        assert refused.headers["Location"] == "/content?reloaded=refused"
        shown = await (await opened.client.get(refused.headers["Location"])).text()
        assert "没有重新加载，仍在使用原来的内容" in shown and content.catalog is before
        # Fixed and reloaded: the new content serves and the audit says who reloaded.
        fraud.write_text(good, encoding="utf-8")
        reloaded = await opened.client.post("/content/reload", data={"csrf": csrf}, allow_redirects=False)
        assert reloaded.headers["Location"] == "/content?reloaded=ok" and content.catalog is not before
        assert [(e.action, e.actor) for e in await opened.storage.web.audit_log()][:2] == [
            ("content_reload", "telegram:999"),
            ("content_reload", "telegram:999"),
        ]
    finally:
        await opened.client.close()
        await opened.storage.close()


async def test_the_audit_page_lists_console_actions_and_every_ledger_change(console: Console) -> None:
    await console.storage.ledger.add([_entry(40)], "cli:clerk", int(console.clock.now))  # from the command line
    refused = await console.client.get("/signin", params={"token": "not-a-token"})
    assert refused.status == 403
    await console.sign_in()
    csrf = await console.csrf("/ledger")
    edited = await console.client.post(
        "/ledger/1",
        data={**ROW, "csrf": csrf, "count": "45"},
        allow_redirects=False,
    )
    assert edited.status == 303
    page = await (await console.client.get("/audit")).text()
    console_part, ledger_part = page.split('id="ledger-audit"')
    assert "登录链接被拒绝" in console_part and "签名不对（伪造或被改动）" in console_part
    assert "登录" in console_part and "台账：修改" in console_part and "telegram:999" in console_part
    assert "新增第 1 条" in ledger_part and "cli:clerk" in ledger_part
    assert "修改第 1 条" in ledger_part and "数量：40 → 45" in ledger_part
    assert ledger_part.index("修改第 1 条") < ledger_part.index("新增第 1 条")  # newest first


async def test_the_new_pages_render_in_english(console: Console) -> None:
    await console.sign_in()
    await console.client.get("/lang/en")
    for path, heading in (
        ("/campaigns", "Calendar"),
        ("/requests", "Requests"),
        ("/questions", "Unanswered"),
        ("/content", "Content"),
        ("/audit", "Audit log"),
    ):
        page = await (await console.client.get(path)).text()
        assert f"<h1>{heading}</h1>" in page and "web." not in page, path
