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

from .conftest import CONTENT, REPO, TODAY

SECRET = b"a-test-secret-that-is-long-enough-for-hmac"
ADMIN = Identity("telegram", "999")
ZONE = ZoneInfo("Asia/Shanghai")
PAGES = ("/", "/broadcasts", "/charts/month.svg", "/?from=2026-01-01&to=2026-06-30")
FORMS = ("/broadcasts", "/broadcasts/preview", "/broadcasts/1/cancel", "/signout")


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


async def open_console(db: Path, content: ContentStore, admins: frozenset[Identity] = frozenset({ADMIN})) -> Console:
    clock = Clock()
    storage = await Storage.open(db, clock=clock)
    settings = Settings(db_path=db, content_dir=CONTENT, admins=admins, telegram_token=Secret("123:TEST"))
    web = WebConsole(settings, storage, content, SECRET, today=lambda: TODAY)
    client = TestClient(TestServer(web.app), cookie_jar=aiohttp.CookieJar(unsafe=True))
    await client.start_server()
    return Console(client, storage, settings, clock, web)


@pytest.fixture
async def console(tmp_path: Path, content: ContentStore):
    opened = await open_console(tmp_path / "bot.sqlite3", content)
    yield opened
    await opened.client.close()
    await opened.storage.close()


# -- security ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_without_a_session_goes_to_sign_in(console: Console, path: str) -> None:
    response = await console.client.get(path, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/signin"


@pytest.mark.parametrize("path", FORMS)
async def test_every_action_without_a_session_is_refused(console: Console, path: str) -> None:
    response = await console.client.post(path, data={"csrf": "0" * 40, "text": "x"}, allow_redirects=False)
    assert response.status == 403
    assert await console.storage.broadcasts.recent() == []


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


async def test_a_session_ends_when_its_admin_is_removed(tmp_path: Path, content: ContentStore) -> None:
    db = tmp_path / "bot.sqlite3"
    first = await open_console(db, content)
    await first.sign_in()
    cookie = next(c.value for c in first.client.session.cookie_jar if c.key == COOKIE)
    await first.client.close()
    await first.storage.close()
    later = await open_console(db, content, admins=frozenset({Identity("wecom", "zhangsan")}))
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


def test_web_link_command_prints_a_link_for_admins_only(tmp_path: Path, content: ContentStore) -> None:
    env = {
        **os.environ,
        "BOT_DB": str(tmp_path / "bot.sqlite3"),
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


async def test_the_overview_shows_exactly_the_figures_of_stats(tmp_path: Path, content: ContentStore) -> None:
    from .test_statistics import build_history

    db = tmp_path / "bot.sqlite3"
    await build_history(db)
    console = await open_console(db, content)
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


def test_templates_and_static_files_ship_with_the_package() -> None:
    web = REPO / "bot" / "channels" / "web"
    assert sorted(p.name for p in (web / "static").iterdir()) == ["console.css", "console.js"]
    for template in (web / "templates").iterdir():
        assert "style=" not in template.read_text(encoding="utf-8"), template  # the CSP allows no inline style


async def test_web_in_a_chat_gives_admins_a_link_and_nobody_else(
    storage: Storage, content: ContentStore, tmp_path: Path
) -> None:
    from bot.core.engine import Core

    from .helpers import Chat, texts

    settings = Settings(
        db_path=tmp_path / "bot.sqlite3",
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
    off = Core(storage, content, Settings(db_path=settings.db_path, content_dir=CONTENT, admins=settings.admins))
    assert "WEB_LISTEN" in texts(await Chat(off, "boss").say("/web"))
