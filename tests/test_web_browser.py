"""The web console in a real browser: Debian's Chromium driven by Playwright, against real processes.

`python -m bot web serve` serves the console, `python -m bot web link` mints the sign-in link, and
`python -m bot run` with the fake Bot API server (tests/fakes/telegram_api.py) sends what the console queues,
all on one database. Each page is checked with axe-core (tests/vendor/axe.min.js, injected by the test: no
serious or critical violation) and photographed; the run prints where the screenshots are.

Skipped, saying why, where there is no Chromium binary or no Playwright for Python; Playwright's own browser
download is never used.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.storage import Storage

from .conftest import CONTENT
from .fakes.telegram_api import FakeTelegram
from .test_run import free_port, start_bot, stop_bot
from .test_web import ADMIN, Overview, assert_same_figures, residents

CHROMIUM = next(
    (
        found
        for name in ("/usr/bin/chromium", "/usr/bin/chromium-browser", "chromium", "chromium-browser")
        if (found := shutil.which(name))
    ),
    None,
)
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SHOTS = Path(os.environ.get("WEB_SCREENSHOTS") or Path(tempfile.gettempdir()) / "pufa-web-screenshots")
MARKER = "今晚七点村部放法治电影《守护》"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (apt-get install chromium): the browser tests need one"
)
playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (pip install playwright)"
)


@dataclass
class Served:
    url: str
    env: dict[str, str]
    directory: Path
    process: subprocess.Popen[str]

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            cwd=self.directory,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture
async def town(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Served]:
    """A year of history plus residents of 河西村 on Telegram, the console serving it alone on a free port."""
    from .test_statistics import build_history

    db = tmp_path / "bot.sqlite3"
    await build_history(db)
    storage = await Storage.open(db)
    ids = await residents(
        storage,
        [
            ("telegram", "21", "hexi-village"),
            ("telegram", "22", "hexi-village"),
            ("telegram", "23", "hexi-village"),
            ("telegram", "24", "qingshi-village"),
            ("telegram", "25", "hexi-village"),
        ],
    )
    await storage.residents.update(ids["25"], subscribed=False)  # said 退订: never broadcast to
    await storage.close()
    port = free_port()
    env = {
        **os.environ,
        "BOT_DB": str(db),
        "BOT_CONTENT_DIR": str(CONTENT),
        "BOT_ADMINS": str(ADMIN),
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "WEB_LISTEN": f"127.0.0.1:{port}",
        "WEB_BASE_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("WEB_SECRET", None)  # the secret kept beside the database: `web link` and `web serve` share it
    process = subprocess.Popen(  # noqa: ASYNC220 - returns at once; we poll the port
        [sys.executable, "-m", "bot", "web", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _until_serving(url, process)
        yield Served(url, env, tmp_path, process)
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 20)
        stderr = process.stderr.read() if process.stderr else ""
        assert code == 0, stderr
        assert "Traceback" not in stderr, stderr


async def _until_serving(url: str, process: subprocess.Popen[str]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            if process.poll() is not None:
                raise AssertionError(f"web serve exited: {process.stderr.read() if process.stderr else ''}")
            try:
                async with session.get(f"{url}/signin") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("web serve did not answer within 20 s")


class Browser:
    """One Chromium; pages checked with axe-core and photographed into SHOTS."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.axe = AXE.read_text(encoding="utf-8")
        self.timings: dict[str, str] = {}

    async def context(self, **options: Any) -> Any:
        # bypass_csp: the console forbids inline scripts, and axe-core is injected as one by the test.
        return await self.browser.new_context(bypass_csp=True, locale="zh-CN", **options)

    async def photograph(self, page: Any, name: str) -> None:
        await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    async def check(self, page: Any, name: str) -> None:
        """No serious or critical axe-core violation on the page as it is now; a full-page screenshot."""
        await page.add_script_tag(content=self.axe)
        result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        grave = [
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        await self.photograph(page, name)
        assert grave == [], f"axe-core on {name}: {grave}"

    async def timed(self, page: Any, url: str, name: str) -> Any:
        response = await page.goto(url)
        assert response is not None and response.ok, url
        self.timings[name] = await response.header_value("server-timing") or ""
        return response


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield Browser(browser)
        finally:
            await browser.close()
    print(f"\nweb console screenshots: {SHOTS}")


async def test_sign_in_see_the_figures_and_broadcast_to_one_village(
    town: Served, chromium: Browser, fake: FakeTelegram, tmp_path: Path
) -> None:
    link = town.cli("web", "link", "--admin", str(ADMIN)).splitlines()[0]
    context = await chromium.context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()

    # Sign in: the link asks to confirm (a chat app's preview cannot use it up), then the overview.
    await page.goto(link)
    assert "telegram:999" in await page.inner_text("main")
    await chromium.check(page, "01-sign-in")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{town.url}/")

    # 概览: the same figures as `python -m bot stats --json` (this year to today, by default), charts drawn.
    await chromium.timed(page, f"{town.url}/", "overview")
    figures = json.loads(town.cli("stats", "--json"))
    assert_same_figures(Overview.parse(await page.content()), figures)
    await page.wait_for_function(
        "() => [...document.images].length === 3 && [...document.images].every(i => i.complete && i.naturalWidth)",
        timeout=90_000,
    )
    await chromium.check(page, "02-overview")
    year = json.loads(town.cli("stats", "--json", "--from", "2026-01-01", "--to", "2026-12-31"))
    await chromium.timed(page, f"{town.url}/?from=2026-01-01&to=2026-12-31", "overview (2026)")
    assert_same_figures(Overview.parse(await page.content()), year)
    assert int(await page.get_attribute("[data-figure=deliveries]", "data-value") or 0) == year["deliveries"] == 11
    await page.emulate_media(media="print")
    assert not await page.is_visible("header.top")  # printed: figures, paragraph, charts and tables only
    await page.pdf(path=str(SHOTS / "02-overview-print.pdf"))
    await page.emulate_media(media="screen")

    # On a phone: nothing wider than the screen but the tables, which scroll inside their frame.
    phone = await (await chromium.context(viewport={"width": 390, "height": 844}, is_mobile=True)).new_page()
    await phone.context.add_cookies(await context.cookies())
    await phone.goto(f"{town.url}/")
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    await chromium.check(phone, "03-overview-phone")

    # 群发: the office's words to 河西村, the exact count, the preview, send.
    await page.click("nav >> text=群发")
    await chromium.timed(page, f"{town.url}/broadcasts", "broadcasts")
    await chromium.check(page, "04-broadcasts")
    await page.check("#content-text")
    await page.fill("#text", MARKER)
    await page.check("#audience-places")
    await page.check("#place-hexi-village")
    await page.click("text=预览并核对人数")
    expected = {2, 21, 22, 23}  # 河西村 on Telegram, subscribed, not blocked: not 1 (blocked), 25 (unsubscribed)
    assert await page.get_attribute("[data-recipients]", "data-recipients") == str(len(expected))
    assert MARKER in await page.inner_text(".phone")
    await chromium.check(page, "05-preview")

    # The bot runs beside the console, on the same database: its broadcast worker sends what was queued.
    bot = await start_bot(fake, tmp_path, BOT_ADMINS=str(ADMIN))
    try:
        await page.click(f"text=确认发送给 {len(expected)} 人")
        await page.wait_for_selector("p.notice")
        row = page.locator("tr[data-broadcast]").first
        broadcast_id = await row.get_attribute("data-broadcast")
        await fake.wait_for(lambda f: len(_received(f)) >= len(expected), timeout=30)
        await asyncio.sleep(1.0)  # nobody else gets it a moment later
        assert sorted(_received(fake)) == sorted(expected)
        # Live progress, without reloading the page: the console's script polls until it is done.
        cell = f"tr[data-broadcast='{broadcast_id}'] [data-field=delivered]"
        await page.wait_for_function(
            f"() => document.querySelector(\"{cell}\").textContent.trim() === '{len(expected)}'", timeout=30_000
        )
        assert await page.inner_text(f"tr[data-broadcast='{broadcast_id}'] [data-field=status_label]") == "已完成"
        await chromium.check(page, "06-broadcast-sent")
    finally:
        await stop_bot(bot)

    # English, then sign out; the used link stays used, and no page opens any more.
    await page.click("text=English")
    assert "New broadcast" in await page.inner_text("main")
    await chromium.check(page, "07-broadcasts-en")
    await page.click("text=中文")
    await page.click("text=退出登录")
    await page.wait_for_selector("text=已退出登录")
    await page.goto(f"{town.url}/broadcasts")
    assert page.url == f"{town.url}/signin"
    used = await page.goto(link)
    assert used is not None and used.status == 403
    assert "已经用过" in await page.inner_text("main")
    await chromium.check(page, "08-link-used")
    await context.close()
    print(f"\npage timings (Server-Timing): {chromium.timings}")


def _received(fake: FakeTelegram) -> list[int]:
    return [call.params["chat_id"] for call in fake.sent("sendMessage") if MARKER in str(call.params.get("text", ""))]


async def test_everything_but_live_progress_works_without_javascript(town: Served, chromium: Browser) -> None:
    link = town.cli("web", "link", "--admin", str(ADMIN)).splitlines()[0]
    context = await chromium.context(viewport={"width": 1366, "height": 768}, java_script_enabled=False)
    page = await context.new_page()
    await page.goto(link)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{town.url}/")
    assert await page.get_attribute("[data-figure=deliveries]", "data-value") is not None
    assert not await page.is_visible("button[data-copy]")  # copying needs the script: the text is still selectable
    await page.click("nav >> text=群发")
    await page.check("#content-tip")
    await page.select_option("#item", "fz-shuadan")
    await page.check("#audience-topics")
    await page.check("#topic-anti-fraud")
    await page.check("#when-later")
    await page.fill("#at", "2099-12-04T09:00")
    await page.click("text=预览并核对人数")
    count = int(await page.get_attribute("[data-recipients]", "data-recipients") or 0)
    assert count > 0 and "2099-12-04 09:00" in await page.inner_text(".preview")
    await page.click(f"text=确认发送给 {count} 人")
    notice = await page.inner_text("p.notice")
    assert f"发给 {count} 人" in notice
    broadcast_id = notice.split("#")[1].split(" ")[0]
    await page.click(f"button[aria-label='取消群发 #{broadcast_id}']")
    assert f"群发 #{broadcast_id} 已取消" in await page.inner_text("p.notice")
    await chromium.photograph(page, "09-no-javascript")  # axe-core itself is a script: checked above, with it
    await page.click("text=退出登录")
    await page.wait_for_selector("text=已退出登录")
    await context.close()


async def test_keep_the_ledger_and_download_an_export(town: Served, chromium: Browser, tmp_path: Path) -> None:
    """普法台账: add, edit and delete a row and watch the overview's paragraph follow; import with a preview;
    导出: the Excel file downloads and opens, its cover block first."""
    from openpyxl import load_workbook

    link = town.cli("web", "link", "--admin", str(ADMIN)).splitlines()[0]
    context = await chromium.context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = await context.new_page()
    await page.goto(link)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{town.url}/")

    async def overview() -> tuple[str, str]:
        await page.goto(f"{town.url}/")
        offline = await page.get_attribute("[data-figure='offline.activities']", "data-value") or ""
        return offline, await page.inner_text("#paragraph")

    before_count, before = await overview()

    # Add a row: the list shows it, the overview counts it.
    await page.click("nav >> text=普法台账")
    await chromium.timed(page, f"{town.url}/ledger", "ledger")
    await chromium.check(page, "10-ledger")
    await page.click("text=新增一条")
    await chromium.check(page, "11-ledger-add")
    await page.fill("#day", "2026-11-20")
    await page.select_option("#type", "法治讲座")
    await page.fill("#count", "80")
    await page.fill("#place", "河西村")
    await page.fill("#title", "宪法进村讲座")
    await page.click("text=保存")
    notice = await page.inner_text("#ledger-notice")
    assert "已记入台账" in notice
    entry_id = notice.split("编号 ")[1].rstrip("。")
    assert await page.is_visible(f"tr[data-entry='{entry_id}']")
    added_count, added = await overview()
    assert int(added_count) == int(before_count) + 1 and added != before

    # Edit it: the paragraph follows the new count.
    await page.goto(f"{town.url}/ledger")
    await page.click(f"a[aria-label='修改第 {entry_id} 条']")
    await page.fill("#count", "95")
    await page.click("text=保存")
    assert "已修改" in await page.inner_text("#ledger-notice")
    assert "95" in await page.inner_text(f"tr[data-entry='{entry_id}'] [data-field=count]")
    edited_count, edited = await overview()
    assert edited_count == added_count and edited != added

    # Delete it, with the undo button: the overview is as it was.
    await page.goto(f"{town.url}/ledger")
    await page.click(f"button[aria-label='删除第 {entry_id} 条']")
    assert "已删除" in await page.inner_text("#ledger-notice")
    assert await page.is_visible(f"text=撤销删除（恢复第 {entry_id} 条）")
    await chromium.check(page, "12-ledger-deleted")
    assert await overview() == (before_count, before)

    # Import: the preview says what would happen; nothing is written before the confirmation.
    await page.goto(f"{town.url}/ledger/import")
    await chromium.check(page, "13-ledger-import")
    csv = "日期,类型,地点,数量\n2026-06-01,发放资料,青石村,200\n2026-06-02,跳舞,青石村,5\n"
    await page.set_input_files("#file", files=[{"name": "台账.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
    await page.click("text=上传并核对")
    summary = page.locator("#import-summary")
    assert await summary.get_attribute("data-import") == "1" and await summary.get_attribute("data-refused") == "1"
    await chromium.check(page, "14-ledger-import-preview")
    await page.click("text=确认导入 1 条")
    assert "导入 1 条" in await page.inner_text("#ledger-notice")

    # On a phone: nothing wider than the screen but the table, which scrolls inside its frame.
    phone = await (await chromium.context(viewport={"width": 390, "height": 844}, is_mobile=True)).new_page()
    await phone.context.add_cookies(await context.cookies())
    await phone.goto(f"{town.url}/ledger")
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    await chromium.check(phone, "15-ledger-phone")

    # 导出: the Excel file of this year, opened with openpyxl: the cover block comes first.
    await page.click("nav >> text=导出")
    await chromium.timed(page, f"{town.url}/exports", "exports")
    await chromium.check(page, "16-exports")
    async with page.expect_download() as info:
        await page.click("[data-export=xlsx]")
    download = await info.value
    saved = tmp_path / "export.xlsx"
    await download.save_as(str(saved))
    book = await asyncio.to_thread(load_workbook, saved)
    first = [row[0] for row in book.worksheets[0].iter_rows(min_row=1, max_row=4, values_only=True)]
    assert (
        str(first[0]).endswith("统计表")
        and str(first[1]).startswith("填报单位")
        and str(first[2]).startswith("统计期间")
    )
    await context.close()
    print(f"\npage timings (Server-Timing): {chromium.timings}")


async def test_the_office_pages_calendar_requests_questions_content_and_audit(town: Served, chromium: Browser) -> None:
    """宣传日历, 群众诉求 (marked done in the browser), 未答问题, 内容 (reloaded), 操作记录 — each checked by axe-core,
    photographed, and readable on a phone."""
    storage = await Storage.open(town.directory / "bot.sqlite3")
    try:
        resident, _ = await storage.residents.get_or_create("telegram", "31", "31", "zh-CN")
        request_id = await storage.requests.offer(resident.id, "telegram", "hexi-village", None, "邻居占了我家宅基地")
        assert await storage.requests.submit(request_id, resident.id, "13800000000")
        for question in ("低保怎么申请", "低保怎么申请", "宅基地能卖吗"):
            await storage.questions.log_unanswered(question)
    finally:
        await storage.close()
    link = town.cli("web", "link", "--admin", str(ADMIN)).splitlines()[0]
    context = await chromium.context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    await page.goto(link)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{town.url}/")

    # 宣传日历: the coming days in order, each with what it sends; the message opens in place.
    await page.click("nav >> text=宣传日历")
    await chromium.timed(page, f"{town.url}/campaigns", "campaigns")
    rows = page.locator("tr[data-occurrence]")
    assert await rows.count() >= 5
    constitution = page.locator("tr[data-occurrence^='constitution-day@']")
    assert "国家宪法日" in await constitution.inner_text()
    await constitution.locator("summary").click()
    assert "国家宪法日" in await constitution.locator(".phone").inner_text()
    await chromium.check(page, "17-campaigns")

    # 群众诉求: the clerk called back and marks it done.
    await page.click("nav >> text=群众诉求")
    await chromium.timed(page, f"{town.url}/requests", "requests")
    assert "13800000000" in await page.inner_text(f"tr[data-request='{request_id}']")
    await chromium.check(page, "18-requests")
    await page.click(f"button[aria-label='把第 {request_id} 条标为已处理']")
    assert "已标为已处理" in await page.inner_text("p.notice")
    assert await page.locator(f"tr[data-request='{request_id}']").count() == 0

    # 未答问题: most asked first.
    await page.click("nav >> text=未答问题")
    await chromium.timed(page, f"{town.url}/questions", "questions")
    assert (await page.locator("#questions tbody tr").first.inner_text()).startswith("低保怎么申请")
    await chromium.check(page, "19-questions")

    # 内容: the check of the shipped content passes; a reload serves it again.
    await page.click("nav >> text=内容")
    await chromium.timed(page, f"{town.url}/content", "content")
    assert "0 个错误" in await page.inner_text("#check-summary") or await page.locator("tr.error").count() == 0
    await page.click("text=重新加载内容")
    assert "已重新加载" in await page.inner_text("#content-notice")
    await chromium.check(page, "20-content")

    # 操作记录: what this admin just did, with their identity.
    await page.click("nav >> text=操作记录")
    await chromium.timed(page, f"{town.url}/audit", "audit")
    log = await page.inner_text("#audit")
    assert "诉求：标为已处理" in log and "重新加载内容" in log and str(ADMIN) in log
    await chromium.check(page, "21-audit")

    phone = await (await chromium.context(viewport={"width": 390, "height": 844}, is_mobile=True)).new_page()
    await phone.context.add_cookies(await context.cookies())
    for path, name in (("/campaigns", "22-campaigns-phone"), ("/content", "23-content-phone")):
        await phone.goto(f"{town.url}{path}")
        assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        await chromium.check(phone, name)
    await context.close()
    print(f"\npage timings (Server-Timing): {chromium.timings}")
