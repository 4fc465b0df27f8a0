"""Townships as tenants: an admin of one township (BOT_ADMINS `console:zhou@zhoujiadian`) sees, sends to and exports
only that township, in chat and in the web console; a county admin sees everything; residents choose their township
before their village.

The content is the shipped one split in two (tests/test_townships_content.py): 周家店镇 has 青石村, 河西村 and
镇街社区; 青石镇 the other villages and the schools (河西村小学 among them).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook

from bot.broadcasting.worker import BroadcastSettings, BroadcastWorker
from bot.channels.web import WebConsole
from bot.config import Identity, Secret, Settings
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.core.events import Document, Incoming, Text
from bot.core.sending import DELIVERED, SendResult
from bot.core.townships import Scope
from bot.storage import Audience, ReachEvent, Storage
from bot.storage.ledger import LedgerEntry

from .conftest import TODAY, settings_for
from .helpers import Chat, labels, texts
from .test_townships_content import ZHOUJIADIAN, _assigned, _content, _two_townships
from .test_web import SECRET, Clock, Console, Overview

ZONE = dt.timezone(dt.timedelta(hours=8))
ZHOU = Identity("console", "zhou")  # 周家店镇's admin
COUNTY = Identity("console", "county")  # the county's (司法局)
WEB_ZHOU = Identity("telegram", "2001")
WEB_COUNTY = Identity("telegram", "1001")


@pytest.fixture(scope="module")
def county_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _content(tmp_path_factory.mktemp("county"), _assigned(_two_townships()))


@pytest.fixture
def county(county_dir: Path) -> ContentStore:
    return ContentStore.load(county_dir, lambda: TODAY)


def county_settings(database: str, tmp_path: Path, content_dir: Path, **changes: Any) -> Settings:
    return settings_for(
        database,
        tmp_path,
        content_dir=content_dir,
        telegram_token=Secret("1:x"),  # Telegram broadcasts: audiences are counted on it
        admins=frozenset({ZHOU, COUNTY, WEB_ZHOU, WEB_COUNTY}),
        admin_townships=(("console:zhou", "zhoujiadian"), ("telegram:2001", "zhoujiadian")),
        **changes,
    )


@pytest.fixture
def core(storage: Storage, county: ContentStore, database: str, tmp_path: Path, county_dir: Path) -> Core:
    return Core(storage, county, county_settings(database, tmp_path, county_dir), lambda: TODAY)


# Residents on Telegram: (user id, place). 3 in 周家店镇, 3 in 青石镇, 1 without a place.
PEOPLE = [
    (11, "hexi-village"),
    (12, "hexi-village"),
    (13, "zhenjie-community"),
    (21, "chayuan-village"),
    (22, "chayuan-village"),
    (23, "qingshi-primary"),
    (31, None),
]


async def add_people(storage: Storage) -> dict[int, int]:
    ids = {}
    for user_id, place in PEOPLE:
        resident, _ = await storage.residents.get_or_create("telegram", str(user_id), f"U{user_id}", "zh-CN")
        await storage.residents.update(resident.id, place_id=place)
        ids[user_id] = resident.id
    return ids


class Recorder:
    """A Telegram channel at the network edge that records who got a broadcast."""

    name, bulk_size = "telegram", 1

    def __init__(self) -> None:
        self.got: list[str] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def deliver(self, to: Identity, replies: object) -> SendResult:
        self.got.append(to.external_id)
        return DELIVERED

    async def deliver_many(self, to: list[Identity], replies: object) -> dict[Identity, SendResult]:
        return {who: await self.deliver(who, replies) for who in to}


async def send_all(storage: Storage, content: ContentStore) -> list[str]:
    recorder = Recorder()
    worker = BroadcastWorker(storage, content, {"telegram": recorder}, BroadcastSettings(rate=1000.0))  # type: ignore[dict-item]
    while await worker.run_once():
        pass
    return sorted(recorder.got)


# -- the scope itself ------------------------------------------------------------------------------------------


def test_the_scope_of_an_admin(county: ContentStore, tmp_path: Path) -> None:
    settings = county_settings(str(tmp_path / "x.sqlite3"), tmp_path, county.directory)
    catalog = county.catalog
    zhou, everything = Scope.of(settings, ZHOU), Scope.of(settings, COUNTY)
    assert zhou.township == "zhoujiadian" and everything.county
    assert [p.id for p in zhou.places(catalog)] == list(ZHOUJIADIAN)
    assert zhou.covers(catalog, "hexi-village") and not zhou.covers(catalog, "hexi-primary")
    assert not zhou.covers(catalog, None) and everything.covers(catalog, None)
    view = zhou.view(catalog)
    assert view.town == "周家店镇" and [p.id for p in view.places] == list(ZHOUJIADIAN) and not view.multi_township
    assert everything.view(catalog) is catalog


# -- chat: broadcasts ------------------------------------------------------------------------------------------


async def test_a_township_admins_broadcast_to_everybody_reaches_only_their_township(
    core: Core, storage: Storage, county: ContentStore
) -> None:
    await add_people(storage)
    zhou = Chat(core, "zhou")
    await zhou.say("/broadcast")
    audience = await zhou.say("今晚七点村部放法治电影。")
    shown = labels(audience[-1])
    assert shown[0] == "✅ 👥 周家店镇全体订阅居民"
    assert {"青石村", "河西村", "镇街社区"} <= set(shown) and "茶园村" not in shown and "河西村小学" not in shown
    preview = texts(await zhou.press("下一步"))
    assert "将发送给 3 人" in preview and "发送对象：周家店镇全体订阅居民" in preview
    started = texts(await zhou.press("立即发送"))
    assert "已开始群发 #1，共 3 人" in started
    broadcast = await storage.broadcasts.get(1)
    assert broadcast is not None and broadcast.audience == Audience(places=ZHOUJIADIAN)
    assert broadcast.created_by == "console:zhou"
    assert await send_all(storage, county) == ["11", "12", "13"]
    # The county admin's "everybody" is everybody: the other township and residents without a place too.
    boss = Chat(core, "county")
    await boss.say("/broadcast")
    every = labels((await boss.say("宪法日快乐"))[-1])
    assert "周家店镇河西村" in every and "青石镇河西村小学" in every  # each place after its township
    preview = texts(await boss.press("下一步"))
    assert "将发送给 7 人" in preview and "发送对象：全体订阅居民" in preview
    await boss.press("立即发送")
    assert await send_all(storage, county) == sorted(str(user) for user, _ in PEOPLE)


async def test_a_township_admins_topic_audience_is_the_topics_subscribers_in_the_township(
    core: Core, storage: Storage
) -> None:
    ids = await add_people(storage)
    for user in (12, 22):  # one in each township stopped the anti-fraud reminders
        await storage.residents.set_topic_subscription(ids[user], "anti-fraud", False)
    zhou = Chat(core, "zhou")
    await zhou.say("/broadcast")
    await zhou.say("小心刷单诈骗")
    topic = core.content.catalog.topic("anti-fraud")
    assert topic is not None
    await zhou.press(topic.label("zh-CN"))
    preview = texts(await zhou.press("下一步"))
    assert "将发送给 2 人" in preview and f"周家店镇订阅了「{topic.title}」的居民" in preview
    await zhou.press("立即发送")
    broadcast = await storage.broadcasts.get(1)
    assert broadcast is not None
    assert broadcast.audience == Audience(topics=("anti-fraud",), places=ZHOUJIADIAN)
    boss = Chat(core, "county")
    await boss.say("/broadcast")
    await boss.say("小心刷单诈骗")
    await boss.press(topic.label("zh-CN"))
    assert "将发送给 5 人" in texts(await boss.press("下一步"))


async def test_a_township_admin_cannot_choose_another_townships_place(core: Core, storage: Storage) -> None:
    await add_people(storage)
    zhou = Chat(core, "zhou")
    await zhou.say("/broadcast")
    await zhou.say("通知")
    await zhou.press_payload("bp:chayuan-village")  # a forged or outdated button: 茶园村 is 青石镇's
    refused = texts(await zhou.press("下一步"))
    assert "「茶园村」不是周家店镇的村（社区）或学校" in refused and "将发送给" not in refused
    assert "不是周家店镇" in texts(await zhou.press_payload("bs"))  # 「立即发送」 pressed anyway
    assert await storage.broadcasts.recent() == []
    # 河西村 is theirs: chosen alone, it is 2 residents.
    await zhou.say("/broadcast")
    await zhou.say("通知")
    await zhou.press("河西村")
    assert "将发送给 2 人" in texts(await zhou.press("下一步"))


async def test_the_broadcasts_a_township_admin_lists_and_follows(core: Core, storage: Storage) -> None:
    now = int(time.time())
    everybody = await storage.broadcasts.create("calendar", Audience(), now + 3600, now, text="全县")
    theirs = await storage.broadcasts.create(
        "cli:clerk", Audience(places=("hexi-village",)), now + 3600, now, text="河西"
    )
    other = await storage.broadcasts.create(
        "cli:clerk", Audience(places=("chayuan-village",)), now + 3600, now, text="茶园"
    )
    mixed = await storage.broadcasts.create(
        "cli:clerk", Audience(places=("hexi-village", "chayuan-village")), now + 3600, now, text="两镇"
    )
    zhou = Chat(core, "zhou")
    listing = texts(await zhou.say("/broadcasts"))
    assert f"#{theirs} " in listing
    assert all(f"#{b} " not in listing for b in (everybody, other, mixed))
    assert "群发 #" in texts(await zhou.press_payload(f"bg:{theirs}"))
    refused = texts(await zhou.press_payload(f"bg:{other}"))
    assert f"群发 #{other} 不是周家店镇的" in refused and "已送达" not in refused
    county = texts(await Chat(core, "county").say("/broadcasts"))
    assert all(f"#{b} " in county for b in (everybody, theirs, other, mixed))


# -- chat: statistics and export -------------------------------------------------------------------------------


async def history(storage: Storage) -> dict[int, int]:
    """Reach an hour ago (this year), ledger rows and open requests in both townships and without a place."""
    ids = await add_people(storage)
    places = dict(PEOPLE)
    ts = int(time.time()) - 3600
    for user, tips in ((11, 2), (13, 1), (21, 1), (23, 3), (31, 1)):
        for n in range(tips):
            event = ReachEvent(ids[user], "telegram", "tip", "anti-fraud", f"fz-{n}", places[user], ts=ts)
            storage.reach.record(event)
    await storage.flush()
    day = dt.datetime.fromtimestamp(ts, ZONE).date().isoformat()
    await storage.ledger.add(
        [
            LedgerEntry(day=day, type="进村宣传", count=80, place_id="hexi-village", title="宪法进村"),
            LedgerEntry(day=day, type="发放资料", count=300, place_id="chayuan-village", title="茶园发资料"),
            LedgerEntry(day=day, type="法治讲座", count=50, location="县城广场", title="县城讲座"),
        ],
        "cli:clerk",
        ts,
    )
    for user, question in ((11, "邻居占了我家宅基地"), (21, "工钱被拖欠半年")):
        offer = await storage.requests.offer(ids[user], "telegram", places[user], None, question)
        assert await storage.requests.submit(offer, ids[user], "13800000000")
    return ids


async def test_a_township_admins_statistics_are_their_townships_only(core: Core, storage: Storage) -> None:
    await history(storage)
    mine = texts(await Chat(core, "zhou").say("/stats"))
    assert "普法统计 · 周家店镇" in mine
    assert "推送法治知识 3 人次，覆盖群众 2 人" in mine and "线下台账 1 项活动" in mine
    everything = texts(await Chat(core, "county").say("/stats"))
    assert "推送法治知识 8 人次，覆盖群众 5 人" in everything and "线下台账 3 项活动" in everything


def workbook(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(BytesIO(data))
    return {sheet.title: [row for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}


def summary(sheets: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    return {row[0]: row[1] for row in sheets["汇总"] if row and isinstance(row[0], str)}


def ledger_titles(sheets: dict[str, list[tuple[Any, ...]]]) -> set[str]:
    return {row[2] for row in sheets["普法台账"][1:] if row and isinstance(row[0], int)}


async def test_a_township_admins_export_holds_their_townships_figures_and_rows_only(
    core: Core, storage: Storage
) -> None:
    await history(storage)
    (document,) = [r for r in await Chat(core, "zhou").say("/export") if isinstance(r, Document)]
    assert document.filename.startswith("周家店镇普法统计")
    sheets = workbook(document.data)
    figures = summary(sheets)
    assert (figures["推送人次"], figures["覆盖人数"], figures["线下普法活动"]) == (3, 2, 1)
    assert ledger_titles(sheets) == {"宪法进村"}
    cells = " ".join(str(c) for rows in sheets.values() for row in rows for c in row if c)
    assert "茶园村" not in cells and "枫树岭村" not in cells and "县城" not in cells
    (document,) = [r for r in await Chat(core, "county").say("/export") if isinstance(r, Document)]
    sheets = workbook(document.data)
    assert (summary(sheets)["推送人次"], summary(sheets)["覆盖人数"]) == (8, 5)
    assert ledger_titles(sheets) == {"宪法进村", "茶园发资料", "县城讲座"}


# -- chat: the ledger ------------------------------------------------------------------------------------------


async def test_a_township_admin_records_and_corrects_only_their_townships_ledger(core: Core, storage: Storage) -> None:
    zhou = Chat(core, "zhou")
    added = texts(await zhou.say("/ledger 2026-11-20 进村宣传 河西村 80 宪法日"))
    assert "已记入台账" in added
    (entry,) = await storage.ledger.between("2026-01-01", "2026-12-31")
    assert entry.place_id == "hexi-village" and entry.created_by == "console:zhou"
    other = texts(await zhou.say("/ledger 2026-11-21 进村宣传 茶园村 40"))
    assert "没有记录" in other and "「茶园村」是青石镇的" in other
    nowhere = texts(await zhou.say("/ledger 2026-11-21 法治讲座 60"))
    assert "请写明是周家店镇的哪个村（社区）或学校" in nowhere
    elsewhere = texts(await zhou.say("/ledger 2026-11-21 法治讲座 县城广场 60"))
    assert "请写明是周家店镇的哪个村（社区）或学校" in elsewhere
    assert len(await storage.ledger.between("2026-01-01", "2026-12-31")) == 1
    # A row of 青石镇 (recorded by the county): not theirs to delete or restore.
    qingshi = await Chat(core, "county").say("/ledger 2026-11-22 发放资料 茶园村 300")
    assert "已记入台账" in texts(qingshi)
    refused = texts(await zhou.say("/ledger 删除 2"))
    assert "台账第 2 条不是周家店镇的" in refused
    assert (await storage.ledger.get(2)).deleted_at is None  # type: ignore[union-attr]
    assert "已删除台账第 1 条" in texts(await zhou.say("/ledger 删除 1"))
    assert "已恢复台账第 1 条" in texts(await zhou.say("/ledger 恢复 1"))
    # The county admin corrects any row.
    assert "已删除台账第 2 条" in texts(await Chat(core, "county").say("/ledger 删除 2"))


# -- chat: requests --------------------------------------------------------------------------------------------


async def test_a_township_admin_sees_and_marks_done_their_townships_requests_only(core: Core, storage: Storage) -> None:
    await history(storage)
    theirs, mine = await storage.requests.listing()  # newest first: 茶园村's (青石镇), then 河西村's
    assert (theirs.place_id, mine.place_id) == ("chayuan-village", "hexi-village")
    zhou = Chat(core, "zhou")
    listing = await zhou.say("/requests")
    assert "待处理的群众诉求（1 件）" in texts(listing)
    assert "宅基地" in texts(listing) and "工钱" not in texts(listing)
    refused = texts(await zhou.press_payload(f"rd:{theirs.id}"))
    assert f"群众诉求 #{theirs.id} 不是周家店镇的" in refused
    assert {r.id for r in await storage.requests.listing()} == {mine.id, theirs.id}  # still open
    marked = texts(await zhou.press_payload(f"rd:{mine.id}"))
    assert f"#{mine.id} 已标记为已处理" in marked and "目前没有待处理的群众诉求" in marked
    county = Chat(core, "county")
    assert "待处理的群众诉求（1 件）" in texts(await county.say("/requests"))
    assert f"#{theirs.id} 已标记为已处理" in texts(await county.press_payload(f"rd:{theirs.id}"))


# -- chat: the admin menu and reloading ------------------------------------------------------------------------


async def test_only_a_county_admin_reloads_the_content(core: Core) -> None:
    zhou = Chat(core, "zhou")
    menu = await zhou.say("/admin")
    assert "你是周家店镇的管理员" in texts(menu) and "重新加载内容" not in " ".join(labels(menu[-1]))
    before = core.content.catalog
    assert "只有县级管理员可以操作" in texts(await zhou.say("/reload"))
    assert "只有县级管理员可以操作" in texts(await zhou.press_payload("ar"))
    assert core.content.catalog is before
    county = Chat(core, "county")
    assert "重新加载内容" in " ".join(labels((await county.say("/admin"))[-1]))
    assert "内容已重新加载" in texts(await county.say("/reload"))


# -- residents: the township first ----------------------------------------------------------------------------


async def test_a_resident_chooses_the_township_then_the_village(core: Core, storage: Storage) -> None:
    chat = Chat(core, "villager", channel="telegram")
    start = await chat.say("/start")
    picker = start[-1]
    assert isinstance(picker, Text) and "先选乡镇" in picker.body
    assert labels(picker)[:2] == ["🏛 周家店镇", "🏛 青石镇"] and "跳过" in labels(picker)
    places = await chat.press("周家店镇")
    shown = labels(places[-1])
    assert "周家店镇" in texts(places)
    assert {"🏡 青石村", "🏡 河西村", "🏡 镇街社区"} <= set(shown) and "🏡 茶园村" not in shown
    assert "◀ 换个乡镇" in shown and "跳过" in shown
    back = await chat.press("换个乡镇")
    assert labels(back[-1])[:2] == ["🏛 周家店镇", "🏛 青石镇"]
    schools = labels((await chat.press("青石镇"))[-1])
    assert "🏫 河西村小学" in schools and "🏡 河西村" not in schools
    done = await chat.press("河西村小学")
    assert "已设置为：青石镇河西村小学" in texts(done)
    resident = await storage.residents.find("telegram", "villager")
    assert resident is not None and resident.place_id == "hexi-primary" and resident.place_asked
    # Changing it later: the townships first again; a forged township is an outdated button.
    again = await chat.say("/place")
    assert "您现在的所在地：青石镇河西村小学" in texts(again) and "🏛 周家店镇" in labels(again[-1])
    assert "已经更新" in texts(await chat.press_payload("tw:atlantis:0"))


async def test_a_newcomers_first_question_is_answered_then_the_township_offered(core: Core) -> None:
    replies = await Chat(core, "asker", channel="telegram").say("刷单是真的吗")
    assert "刷单" in (replies[0].title or "")  # type: ignore[union-attr]
    offer = replies[-1]
    assert isinstance(offer, Text) and "先选乡镇" in offer.body and "🏛 青石镇" in labels(offer)


async def test_a_poster_scan_registers_the_place_and_its_township_without_asking(core: Core, storage: Storage) -> None:
    """微信客服: the QR code of a village's poster carries its place id (`/start <place>` from the scene)."""
    got: list[Any] = []

    async def send(reply: Any) -> bool:
        got.append(reply)
        return True

    await core.respond(Incoming("wecom_kf", "wm-visitor", command="start", args="chayuan-village"), send)
    assert "已设置为：青石镇茶园村" in texts(got) and "先选乡镇" not in texts(got)
    resident = await storage.residents.find("wecom_kf", "wm-visitor")
    assert resident is not None and resident.place_id == "chayuan-village" and resident.place_asked
    assert core.content.catalog.township_of(resident.place_id) == "qingshi"


# -- the web console -------------------------------------------------------------------------------------------


@pytest.fixture
async def web(database: str, tmp_path: Path, county: ContentStore, county_dir: Path):
    clock = Clock()
    storage = await Storage.open(database, clock=clock, data_dir=tmp_path)
    settings = county_settings(database, tmp_path, county_dir)
    console = WebConsole(settings, storage, county, SECRET, today=lambda: TODAY)
    client = TestClient(TestServer(console.app), cookie_jar=aiohttp.CookieJar(unsafe=True))
    await client.start_server()
    yield Console(client, storage, settings, clock, console)
    await client.close()
    await storage.close()


async def page(web: Console, path: str) -> str:
    response = await web.client.get(path)
    assert response.status == 200, path
    return await response.text()


def window(ts: float) -> str:
    day = dt.datetime.fromtimestamp(ts, ZONE).date()
    return f"from={day.year}-01-01&to={day.isoformat()}"


async def test_the_header_says_whose_console_it_is(web: Console) -> None:
    await web.sign_in(WEB_ZHOU)
    assert '<span class="township" id="township">乡镇：周家店镇</span>' in await page(web, "/")
    await web.sign_in(WEB_COUNTY)
    assert '<span class="township" id="township">青石镇（全部乡镇）</span>' in await page(web, "/")


async def test_web_broadcasts_of_a_township_admin(web: Console, county: ContentStore) -> None:
    await add_people(web.storage)
    now = int(time.time())
    county_wide = await web.storage.broadcasts.create("calendar", Audience(), now + 3600, now, text="全县")
    other = await web.storage.broadcasts.create(
        "cli:clerk", Audience(places=("chayuan-village",)), now + 3600, now, text="茶园"
    )
    await web.sign_in(WEB_ZHOU)
    compose = await page(web, "/broadcasts")
    assert 'value="hexi-village"' in compose and 'value="chayuan-village"' not in compose
    assert 'id="township-audience"' in compose
    assert f'data-broadcast="{county_wide}"' not in compose and f'data-broadcast="{other}"' not in compose
    csrf = await web.csrf()
    form = {"csrf": csrf, "content": "text", "text": "今晚放法治电影", "audience": "all", "when": "now"}
    preview = await (await web.client.post("/broadcasts/preview", data=form)).text()
    assert 'data-recipients="3"' in preview
    sent = await web.client.post("/broadcasts", data=form, allow_redirects=False)
    assert sent.status == 303 and "count=3" in sent.headers["Location"]
    mine = max(b.id for b in await web.storage.broadcasts.recent())
    broadcast = await web.storage.broadcasts.get(mine)
    assert broadcast is not None and broadcast.audience == Audience(places=ZHOUJIADIAN)
    listing = await page(web, "/broadcasts")
    assert f'data-broadcast="{mine}"' in listing and "周家店镇全镇" in listing
    # another township's place: refused, saying why
    foreign = {**form, "audience": "places", "place": "chayuan-village"}
    refused = await web.client.post("/broadcasts", data=foreign, allow_redirects=False)
    assert refused.status == 400 and "「茶园村」不是周家店镇的村（社区）或学校" in await refused.text()
    # the other township's (and the county's) broadcasts: no progress, no cancel
    progress = await (await web.client.get(f"/broadcasts/progress?id={other}&id={county_wide}&id={mine}")).json()
    assert [b["id"] for b in progress["broadcasts"]] == [mine]
    for broadcast_id in (other, county_wide):
        cancel = await web.client.post(f"/broadcasts/{broadcast_id}/cancel", data={"csrf": csrf}, allow_redirects=False)
        assert cancel.status == 403 and f"群发 #{broadcast_id} 不是周家店镇的" in await cancel.text()
        assert (await web.storage.broadcasts.get(broadcast_id)).status == "scheduled"  # type: ignore[union-attr]
    cancelled = await web.client.post(f"/broadcasts/{mine}/cancel", data={"csrf": csrf}, allow_redirects=False)
    assert cancelled.status == 303 and f"cancelled={mine}" in cancelled.headers["Location"]
    assert await send_all(web.storage, county) == []
    # The county admin sees them all, cancels any, and sends to everybody.
    await web.sign_in(WEB_COUNTY)
    listing = await page(web, "/broadcasts")
    assert all(f'data-broadcast="{b}"' in listing for b in (county_wide, other, mine))
    csrf = await web.csrf()
    cancel = await web.client.post(f"/broadcasts/{other}/cancel", data={"csrf": csrf}, allow_redirects=False)
    assert cancel.status == 303
    preview = await (await web.client.post("/broadcasts/preview", data={**form, "csrf": csrf})).text()
    assert 'data-recipients="7"' in preview


async def test_the_web_overview_and_exports_of_a_township_admin(web: Console) -> None:
    await history(web.storage)
    period = window(time.time() - 3600)
    await web.sign_in(WEB_ZHOU)
    overview = Overview.parse(await page(web, f"/?{period}"))
    assert (overview.figures["deliveries"], overview.figures["reached"]) == ("3", "2")
    assert (overview.figures["offline.activities"], overview.figures["requests.made"]) == ("1", "1")
    assert set(overview.tables["by-place"]) == set(ZHOUJIADIAN)
    html = await page(web, f"/?{period}")
    charts = re.findall(r'<img src="(/charts/\w+\.svg\?[^"]+)"', html)
    assert charts and all("v=zhoujiadian-" in c for c in charts)
    xlsx = await web.client.get(f"/exports/xlsx?{period}")
    assert xlsx.status == 200 and "filename*=UTF-8''" in xlsx.headers["Content-Disposition"]
    sheets = workbook(await xlsx.read())
    figures = summary(sheets)
    assert (figures["推送人次"], figures["覆盖人数"], figures["线下普法活动"], figures["法律服务诉求"]) == (3, 2, 1, 1)
    assert ledger_titles(sheets) == {"宪法进村"}
    cells = " ".join(str(c) for rows in sheets.values() for row in rows for c in row if c)
    assert "茶园村" not in cells and "枫树岭村" not in cells and "县城" not in cells
    archive = zipfile.ZipFile(BytesIO(await (await web.client.get(f"/exports/csv?{period}")).read()))
    assert not any("茶园村" in archive.read(name).decode("utf-8-sig") for name in archive.namelist())
    word = await web.client.get(f"/exports/docx?{period}")
    assert "filename*=UTF-8''%E5%91%A8%E5%AE%B6%E5%BA%97%E9%95%87" in word.headers["Content-Disposition"]  # 周家店镇_…
    document = zipfile.ZipFile(BytesIO(await word.read())).read("word/document.xml").decode()
    assert "周家店镇" in document and "茶园村" not in document
    await web.sign_in(WEB_COUNTY)
    overview = Overview.parse(await page(web, f"/?{period}"))
    assert (overview.figures["deliveries"], overview.figures["reached"]) == ("8", "5")
    assert (overview.figures["offline.activities"], overview.figures["requests.made"]) == ("3", "2")
    sheets = workbook(await (await web.client.get(f"/exports/xlsx?{period}")).read())
    assert (summary(sheets)["推送人次"], summary(sheets)["覆盖人数"]) == (8, 5)
    assert ledger_titles(sheets) == {"宪法进村", "茶园发资料", "县城讲座"}


ROW = {"day": "2026-11-20", "type": "进村宣传", "count": "80", "place": "河西村", "topic": "", "title": "宪法进村"}


async def test_the_web_ledger_of_a_township_admin(web: Console) -> None:
    await web.storage.ledger.add(
        [
            LedgerEntry(day="2026-03-01", type="进村宣传", count=10, place_id="hexi-village", title="河西"),
            LedgerEntry(day="2026-04-01", type="发放资料", count=300, place_id="chayuan-village", title="茶园"),
            LedgerEntry(day="2026-05-01", type="法治讲座", count=50, location="县城广场", title="县城"),
        ],
        "cli:clerk",
        1,
    )
    await web.sign_in(WEB_ZHOU)
    listing = await page(web, "/ledger")
    assert re.findall(r'data-entry="(\d+)"', listing) == ["1"]
    assert 'value="hexi-village"' in listing and 'value="chayuan-village"' not in listing
    csrf = await web.csrf("/ledger")
    added = await web.client.post("/ledger", data={**ROW, "csrf": csrf}, allow_redirects=False)
    assert added.status == 303 and "added=4" in added.headers["Location"]
    for place, message in (
        ("茶园村", "「茶园村」是青石镇的"),
        ("县城广场", "请写明是周家店镇的哪个村"),
        ("", "请写明"),
    ):
        refused = await web.client.post("/ledger", data={**ROW, "place": place, "csrf": csrf}, allow_redirects=False)
        assert refused.status == 400 and message in await refused.text(), place
    # 青石镇's row and the county's row without a place: not shown, not editable, not deletable
    for entry_id in (2, 3):
        assert (await web.client.get(f"/ledger/{entry_id}/edit")).status == 403
        for action in (f"/ledger/{entry_id}", f"/ledger/{entry_id}/delete", f"/ledger/{entry_id}/restore"):
            response = await web.client.post(action, data={**ROW, "csrf": csrf}, allow_redirects=False)
            assert response.status == 403 and f"台账第 {entry_id} 条不是周家店镇的" in await response.text(), action
    # their own row cannot be moved to another township
    moved = await web.client.post("/ledger/1", data={**ROW, "place": "茶园村", "csrf": csrf}, allow_redirects=False)
    assert moved.status == 400 and (await web.storage.ledger.get(1)).place_id == "hexi-village"  # type: ignore[union-attr]
    edited = await web.client.post("/ledger/1", data={**ROW, "count": "95", "csrf": csrf}, allow_redirects=False)
    assert edited.status == 303 and (await web.storage.ledger.get(1)).count == 95  # type: ignore[union-attr]
    assert (await web.client.post("/ledger/1/delete", data={"csrf": csrf}, allow_redirects=False)).status == 303
    untouched = [await web.storage.ledger.get(i) for i in (2, 3)]
    assert [(e.count, e.deleted) for e in untouched if e] == [(300, False), (50, False)]
    # an import: the township's rows only
    csv = "日期,类型,地点,数量\n2026-06-01,进村宣传,镇街社区,60\n2026-06-02,发放资料,茶园村,99\n"
    csv += "2026-06-03,法治讲座,县城,20\n"
    data = aiohttp.FormData()
    data.add_field("csrf", csrf)
    data.add_field("file", csv.encode("utf-8"), filename="台账.csv", content_type="text/csv")
    preview = await (await web.client.post("/ledger/import", data=data)).text()
    assert 'data-import="1" data-duplicate="0" data-refused="2"' in preview and "「茶园村」是青石镇的" in preview
    upload = re.search(r'name="upload" value="([^"]+)"', preview).group(1)  # type: ignore[union-attr]
    done = await web.client.post(
        "/ledger/import/confirm",
        data={"csrf": csrf, "upload": upload, "shown_force": "0", "apply": "1"},
        allow_redirects=False,
    )
    assert done.status == 303 and "imported=1" in done.headers["Location"]
    imported = [e for e in await web.storage.ledger.between("2026-06-01", "2026-06-30")]
    assert [e.place_id for e in imported] == ["zhenjie-community"]
    # the template offers the township's places
    template = load_workbook(BytesIO(await (await web.client.get("/ledger/template.xlsx")).read()))
    cells = {str(c) for sheet in template.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c}
    assert "河西村" in cells and "茶园村" not in cells
    # the audit trail shows their township's rows only
    trail = (await page(web, "/audit")).split('id="ledger-audit"')[1]
    assert "新增第 1 条" in trail and "新增第 2 条" not in trail and "新增第 3 条" not in trail
    # The county admin sees and corrects every row, and the whole trail.
    await web.sign_in(WEB_COUNTY)
    assert re.findall(r'data-entry="(\d+)"', await page(web, "/ledger")) == ["2", "3", "5", "4"]  # by day
    csrf = await web.csrf("/ledger")
    assert (await web.client.post("/ledger/2/delete", data={"csrf": csrf}, allow_redirects=False)).status == 303
    trail = (await page(web, "/audit")).split('id="ledger-audit"')[1]
    assert "新增第 2 条" in trail and "新增第 3 条" in trail


async def test_web_requests_of_a_township_admin(web: Console) -> None:
    await history(web.storage)
    theirs, mine = await web.storage.requests.listing()  # newest first
    await web.sign_in(WEB_ZHOU)
    listing = await page(web, "/requests")
    assert f'data-request="{mine.id}"' in listing and f'data-request="{theirs.id}"' not in listing
    assert "工钱被拖欠半年" not in listing
    csrf = await web.csrf("/requests")
    refused = await web.client.post(f"/requests/{theirs.id}/done", data={"csrf": csrf}, allow_redirects=False)
    assert refused.status == 403 and f"群众诉求 #{theirs.id} 不是周家店镇的" in await refused.text()
    done = await web.client.post(f"/requests/{mine.id}/done", data={"csrf": csrf}, allow_redirects=False)
    assert done.status == 303
    assert f'data-request="{theirs.id}"' not in await page(web, "/requests?all=1")
    await web.sign_in(WEB_COUNTY)
    everything = await page(web, "/requests?all=1")
    assert f'data-request="{mine.id}"' in everything and f'data-request="{theirs.id}"' in everything
    csrf = await web.csrf("/requests")
    assert (
        await web.client.post(f"/requests/{theirs.id}/done", data={"csrf": csrf}, allow_redirects=False)
    ).status == 303
    assert await web.storage.requests.listing() == []


async def test_only_a_county_admin_reloads_the_content_in_the_console(web: Console) -> None:
    content = web.web.content.content
    before = content.catalog
    await web.sign_in(WEB_ZHOU)
    shown = await page(web, "/content")
    assert 'action="/content/reload"' not in shown and 'id="reload-county-only"' in shown
    csrf = await web.csrf("/content")
    refused = await web.client.post("/content/reload", data={"csrf": csrf}, allow_redirects=False)
    assert refused.status == 403 and "只有县级管理员可以操作" in await refused.text()
    assert content.catalog is before
    assert "content_reload" not in [e.action for e in await web.storage.web.audit_log()]
    await web.sign_in(WEB_COUNTY)
    csrf = await web.csrf("/content")
    reloaded = await web.client.post("/content/reload", data={"csrf": csrf}, allow_redirects=False)
    assert reloaded.headers["Location"] == "/content?reloaded=ok" and content.catalog is not before


async def test_the_county_wide_pages_stay_open_to_a_township_admin(web: Console) -> None:
    await web.sign_in(WEB_ZHOU)
    for path in ("/campaigns", "/questions", "/content", "/audit", "/exports", "/ledger/new", "/ledger/import"):
        await page(web, path)


async def test_a_township_admin_never_gets_a_chart_drawn_for_the_county(web: Console) -> None:
    await history(web.storage)
    period = window(time.time() - 3600)
    await web.sign_in(WEB_COUNTY)
    county_charts = re.findall(r'<img src="(/charts/month\.svg\?[^"]+)"', await page(web, f"/?{period}"))
    (county_chart,) = [c.replace("&amp;", "&") for c in county_charts]
    assert "v=zhoujiadian-" not in county_chart
    drawn = await web.client.get(county_chart)
    assert drawn.status == 200 and "max-age" in drawn.headers["Cache-Control"]
    await web.sign_in(WEB_ZHOU)
    asked = await web.client.get(county_chart)  # the county's figures' version: drawn again, for 周家店镇
    assert asked.status == 200 and asked.headers["Cache-Control"] == "no-store"
    assert await asked.read() != await drawn.read()
