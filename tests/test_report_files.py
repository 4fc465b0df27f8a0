"""The files the office hands in — the workbook, the Word report, the charts, the paragraph and its sources — over
two years of a town driven through the real core (residents reading, answering quizzes, asking for the office's
help), with campaign broadcasts and ledger rows written through the storage API."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.content.model import Catalog
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.core.events import Question
from bot.reporting.charts import NO_DATA, chart_figure
from bot.reporting.figures import CampaignPush, Period, Statistics, display_width, key_name
from bot.reporting.paragraph import campaign_names, opening, report_paragraph
from bot.reporting.statistics import collect
from bot.storage import Audience, Outcome, ReachEvent, Storage
from bot.storage.ledger import LedgerEntry

from .conftest import CONTENT, REPO, TODAY, settings_for
from .helpers import BACKENDS, Chat, apart, shared_database

ZONE = ZoneInfo("Asia/Shanghai")
ASCII_WORD = re.compile(r"[A-Za-z]")
OPEN = ("--year", "2026", "--to", "2026-11-29")  # the year as it stands on 29 November


def stamp(day: str, hour: int = 10) -> int:
    return int(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), ZONE).timestamp())


async def quiz(chat: Chat, topic: str, right: bool) -> None:
    replies = await chat.say(f"/quiz {topic}")
    for _ in range(5):
        question = [r for r in replies if isinstance(r, Question)][-1]
        index = question.correct if right else (question.correct + 1) % len(question.options)
        replies = await chat.press_payload(question.payloads[index])


async def campaign(storage: Storage, campaign_id: str, day: str, item: str | None) -> None:
    """A calendar campaign's broadcast delivered to everyone (what the broadcast worker writes, without it)."""
    at = stamp(day)
    broadcast = await storage.broadcasts.create(
        "calendar", Audience(), at, at, item_id=item, text=None if item else "今天是……", campaign_id=campaign_id,
        occurrence=f"{campaign_id}@{day}",
    )  # fmt: skip
    claimed = await storage.broadcasts.claim_due("test", at, 60, ["telegram", "wecom"])
    assert claimed is not None and claimed.id == broadcast
    recipients = await storage.broadcasts.pending(broadcast, 1000)
    events = [
        ReachEvent(r.resident_id, r.channel, "broadcast", None, item, r.place_id, campaign_id, broadcast, ts=at)
        for r in recipients
    ]
    await storage.broadcasts.record(broadcast, [Outcome(r.resident_id, "delivered") for r in recipients], events, at)
    assert await storage.broadcasts.finish_if_done(broadcast, at)


async def live_a_year(storage: Storage, core: Core, now: list[int], year: int) -> None:
    now[0] = stamp(f"{year}-03-10")
    pupils = []
    for n in (1, 2):  # two pupils of 青石镇中心小学 finish the drowning quiz
        pupil = Chat(core, f"pupil-{year}-{n}", channel="telegram")
        await pupil.say("/start")
        await pupil.press("青石镇中心小学")
        await quiz(pupil, "防溺水", right=True)
        pupils.append(pupil)
    villager = Chat(core, f"villager-{year}", channel="telegram")
    await villager.say("/start")
    await villager.press("河西村")
    await quiz(villager, "禁毒", right=False)
    await villager.say("有人叫我刷单")
    wanderer = Chat(core, f"wanderer-{year}", channel="wecom")  # never chooses a place: 未设置
    await wanderer.say("有人叫我刷单")
    worker = Chat(core, f"worker-{year}", channel="telegram")  # asks the judicial office to call back
    await worker.say("/start")
    await worker.press("河西村")
    await worker.say("老板拖欠工资半年不给怎么办")
    await worker.press("请司法所联系我")
    await worker.say("138 0013 8000")
    await storage.flush()
    await campaign(storage, "national-security-day", f"{year}-04-15", None)
    await campaign(storage, "anti-drug-day", f"{year}-06-26", "jd-626")
    await storage.ledger.add(
        [
            LedgerEntry(f"{year}-05-20", "进村宣传", 80, "hexi-village", "anti-fraud", title="反诈宣传进村"),
            LedgerEntry(f"{year}-09-01", "法治讲座", 60, "qingshi-primary", "drowning", speaker="司法所 王所长"),
            LedgerEntry(f"{year}-09-01", "发放资料", 300, None, "constitution"),
        ],
        "test",
        now[0],
    )


async def build_town(db: str, folder: Path, content: ContentStore) -> None:
    now = [stamp("2025-05-10")]
    storage = await Storage.open(db, clock=lambda: now[0], data_dir=folder)
    core = Core(storage, content, settings_for(db, folder, content_dir=CONTENT), lambda: TODAY)
    try:
        for year in (2025, 2026):
            await live_a_year(storage, core, now, year)
        # 国家宪法日 2025 is past; 2026's (4 December) has not happened on 29 November.
        await campaign(storage, "constitution-day", "2025-12-04", "xf-xianfari")
    finally:
        await storage.close()


@pytest.fixture(scope="module", params=BACKENDS)
def town(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, content: ContentStore
) -> Iterator[dict[str, str]]:
    """The town's two years, built once per backend."""
    folder = tmp_path_factory.mktemp("town")
    with shared_database(request, folder) as db:
        apart(build_town(db, folder, content))
        yield {**os.environ, "BOT_DB": db, "BOT_DATA_DIR": str(folder), "BOT_CONTENT_DIR": str(CONTENT)}


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def statistics_of(
    env: dict[str, str], content: ContentStore, first: str, last: str, catalog: Catalog | None = None
) -> Statistics:
    storage = await Storage.open(env["BOT_DB"], data_dir=Path(env["BOT_DATA_DIR"]))
    try:
        period = Period(dt.date.fromisoformat(first), dt.date.fromisoformat(last), ZONE)
        return await collect(storage, catalog or content.catalog, period)
    finally:
        await storage.close()


# -- the paragraph ----------------------------------------------------------------------------------

PARAGRAPH_2026 = (
    "2026年以来（截至11月29日），我镇依托普法宣传机器人，围绕防溺水、禁毒、反电信网络诈骗等主题推送法治知识{deliveries}人次，"
    "覆盖群众10人；组织线上法治知识答题15人次，平均正确率66.7%；利用全民国家安全教育日、国际禁毒日等节点开展专题推送2次；"
    "覆盖在校学生4人，在校生受教育面0.3%；线下开展进村宣传1场、法治讲座1场，受众共140人次，发放宣传资料300份；"
    "受理群众法律服务诉求1件。"
)


def test_the_paragraph_reads_as_a_report_and_names_topics_campaigns_ledger_and_requests(town: dict[str, str]) -> None:
    figures = json.loads(cli(town, "stats", "--from", "2026-01-01", "--to", "2026-11-29", "--json"))
    assert cli(town, "report", *OPEN).strip() == PARAGRAPH_2026.format(deliveries=figures["deliveries"])


def test_the_paragraph_says_until_while_the_year_is_open_and_whole_year_once_it_is_over(town: dict[str, str]) -> None:
    closed = cli(town, "report", "--year", "2025").strip()
    assert closed.startswith("2025年全年，我镇依托普法宣传机器人") and "截至" not in closed
    assert "利用国家宪法日、全民国家安全教育日、国际禁毒日等节点开展专题推送3次"  # most reached first in closed
    still_open = cli(town, "report", *OPEN).strip()
    assert still_open.startswith("2026年以来（截至11月29日），我镇") and "全年" not in still_open


@pytest.mark.parametrize(
    ("first", "last", "today", "expected"),
    [
        ("2026-01-01", "2026-12-31", "2026-11-29", "2026年以来（截至11月29日）"),  # never 全年 before the year ends
        ("2026-01-01", "2026-11-29", "2026-11-29", "2026年以来（截至11月29日）"),
        ("2026-01-01", "2026-06-30", "2026-11-29", "2026年以来（截至6月30日）"),
        ("2026-01-01", "2026-12-31", "2026-12-31", "2026年以来（截至12月31日）"),  # the last day is not over yet
        ("2025-01-01", "2025-12-31", "2026-11-29", "2025年全年"),
        ("2026-03-01", "2026-05-31", "2026-11-29", "2026年3月1日至5月31日"),
    ],
)
def test_the_opening_of_the_paragraph(first: str, last: str, today: str, expected: str) -> None:
    period = Period(dt.date.fromisoformat(first), dt.date.fromisoformat(last), ZONE)
    assert opening(period, dt.date.fromisoformat(today)) == expected


async def test_the_school_education_rate_is_pupils_reached_over_enrolment_and_left_out_without_it(
    town: dict[str, str], content: ContentStore
) -> None:
    catalog = content.catalog

    def enrolment(known: dict[str, int]) -> Catalog:
        places = tuple(dataclasses.replace(p, enrolment=known.get(p.id)) for p in catalog.places)
        return dataclasses.replace(catalog, places=places)

    only_primary = enrolment({"qingshi-primary": 40})
    figures = await statistics_of(town, content, "2026-01-01", "2026-11-29", only_primary)
    assert figures.school_education_rate == 4 / 40  # two pupils each year, all reached by the campaigns
    paragraph = report_paragraph(figures, only_primary, TODAY)
    assert "覆盖在校学生4人，在校生受教育面10%" in paragraph
    unknown = enrolment({})
    figures = await statistics_of(town, content, "2026-01-01", "2026-11-29", unknown)
    assert figures.school_education_rate is None
    paragraph = report_paragraph(figures, unknown, TODAY)
    assert "受教育面" not in paragraph and "在校学生" not in paragraph and "受理群众法律服务诉求1件" in paragraph


async def test_campaign_days_are_named_before_weekly_series(town: dict[str, str], content: ContentStore) -> None:
    figures = await statistics_of(town, content, "2026-01-01", "2026-11-29")
    weekly = tuple(CampaignPush(100 + n, "summer-drowning", 50) for n in range(8))  # every Saturday, to more people
    figures = dataclasses.replace(figures, campaigns=figures.campaigns + weekly, campaign_pushes=10)
    assert campaign_names(figures, content.catalog) == ["全民国家安全教育日", "国际禁毒日", "暑假防溺水每周提醒"]
    assert "利用全民国家安全教育日、国际禁毒日、暑假防溺水每周提醒等节点开展专题推送10次" in report_paragraph(
        figures, content.catalog, TODAY
    )


def test_explain_traces_every_number_of_the_paragraph(town: dict[str, str]) -> None:
    lines = cli(town, "report", *OPEN, "--explain").splitlines()
    paragraph = lines[0]
    assert paragraph == cli(town, "report", *OPEN).strip()
    figures = [lines[i - 1] for i, line in enumerate(lines) if line.startswith("  ← ")]
    body = paragraph.split("，我镇", 1)[1]
    numbers = re.findall(r"\d+(?:\.\d+)?%?", body)
    assert numbers
    for number in numbers:
        assert any(re.search(rf"(?<![\d.]){re.escape(number)}(?![\d.%])", figure) for figure in figures), number
    text = "\n".join(lines)
    assert "「截至11月29日」" in text and "StatsStore.totals" in text
    assert len(re.findall(r"台账 #\d+ 2026-", text)) == 3 and "「反诈宣传进村」" in text
    assert len(re.findall(r"群发 #\d+ ", text)) == 2 and "国际禁毒日：送达10人" in text
    assert len(re.findall(r"诉求 #\d+ 2026-03-10 河西村", text)) == 1
    assert "青石镇中心小学：覆盖4人 ÷ 在校生620人" in text
    assert "13800138000" not in text and "拖欠工资" not in text  # the report is printed: no personal data


# -- the workbook -----------------------------------------------------------------------------------


def test_the_export_is_a_table_to_hand_in(town: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "统计表.xlsx"
    cli(town, "export", "--from", "2026-01-01", "--to", "2026-11-29", "--out", str(out))
    workbook = load_workbook(out)
    cover = workbook["汇总"]
    assert cover["A1"].value == "青石镇2026年普法宣传工作统计表" and "A1:D1" in cover.merged_cells
    assert cover["A2"].value == "填报单位：青石镇司法所"
    assert cover["A3"].value == "统计期间：2026年1月1日至11月29日"
    assert re.fullmatch(r"填报日期：\d{4}年\d{1,2}月\d{1,2}日", cover["A4"].value)
    for sheet in workbook.worksheets:
        assert not ASCII_WORD.search(sheet.title)
        header_row = int(sheet.freeze_panes[1:]) - 1  # the rows above the freeze: the header is frozen in view
        header = [cell.value for cell in sheet[header_row]]
        assert all(isinstance(h, str) and not ASCII_WORD.search(h) for h in header), (sheet.title, header)
        assert sheet.page_setup.orientation == "landscape" and int(sheet.page_setup.paperSize) == 9
        assert sheet.page_setup.fitToWidth == 1 and sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.print_title_rows == f"${header_row}:${header_row}"
        check_totals(sheet, header_row)

    summary = {row[0].value: row[1] for row in cover.iter_rows(min_row=7)}
    assert summary["平均正确率"].number_format == "0.0%" and summary["平均正确率"].value == pytest.approx(10 / 15, 1e-3)
    assert summary["在校生受教育面"].number_format == "0.0%" and summary["在校生受教育面"].value == round(4 / 1320, 4)
    places = workbook["分地点"]
    rows = list(places.iter_rows(min_row=2, values_only=True))
    rows = rows[: [row[0] for row in rows].index("合计")]  # the notes follow the 合计 row
    names = [row[0] for row in rows]
    assert names[-1] == "未设置" and "河西村" in names and not any(ASCII_WORD.search(n) for n in names)
    assert {row[1] for row in rows} <= {"村", "社区", "学校", None}
    hexi = next(row for row in places.iter_rows(min_row=2) if row[0].value == "河西村")
    assert hexi[5].number_format == "0.0%" and hexi[5].value == round(4 / 1680, 4)
    assert places.column_dimensions["A"].width >= display_width("青石镇中心小学")
    crossed = workbook["专题与地点"]
    assert not any(ASCII_WORD.search(str(cell.value)) for cell in crossed[1]) and crossed.freeze_panes == "B2"
    channels = [row[0] for row in workbook["分渠道"].iter_rows(min_row=2, values_only=True)]
    assert channels[:3] == ["Telegram", "企业微信", "合计"]  # by value
    ledger = list(workbook["普法台账"].iter_rows(min_row=2, values_only=True))
    assert [(row[3], row[4]) for row in ledger] == [
        ("进村宣传", "河西村"),
        ("法治讲座", "青石镇中心小学"),
        ("发放资料", None),  # no place given
    ]
    workbook.close()


def check_totals(sheet: object, header_row: int) -> None:
    """Each 合计 value equals the sum of the column above it (rates are recomputed, not summed)."""
    rows = list(sheet.iter_rows(min_row=header_row + 1))  # type: ignore[attr-defined]
    totals = [i for i, row in enumerate(rows) if row[0].value == "合计"]
    for at in totals:
        checked = 0
        for column, cell in enumerate(rows[at]):
            if column == 0 or not isinstance(cell.value, int) or cell.number_format.endswith("%"):
                continue
            assert cell.value == sum(row[column].value or 0 for row in rows[:at]), (sheet, cell.coordinate)
            checked += 1
        assert checked, sheet


# -- the Word report --------------------------------------------------------------------------------


def test_the_word_report_holds_the_paragraph_the_table_and_a_chart(town: dict[str, str], tmp_path: Path) -> None:
    from docx import Document

    out = tmp_path / "报告.docx"
    paragraph, written = cli(town, "report", *OPEN, "--docx", str(out)).splitlines()
    assert Path(written) == out
    document = Document(str(out))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "青石镇2026年普法宣传工作情况" and paragraph in texts
    assert paragraph.startswith("2026年以来（截至11月29日），我镇")
    (table,) = document.tables
    rows = {row.cells[0].text: [cell.text for cell in row.cells] for row in table.rows}
    assert rows["项目"] == ["项目", "数值", "单位", "说明"]
    figures = json.loads(cli(town, "stats", "--from", "2026-01-01", "--to", "2026-11-29", "--json"))
    assert rows["推送人次"][1:3] == [str(figures["deliveries"]), "人次"]
    assert rows["平均正确率"][1] == "66.7%" and rows["法律服务诉求"][1] == "1"
    assert len(document.inline_shapes) == 2
    images = [part for part in document.part.package.parts if part.content_type == "image/png"]
    assert images and all(image.blob.startswith(b"\x89PNG") for image in images)
    assert texts[-2:] == ["青石镇司法所", texts[-1]] and texts[-1].endswith("日")


# -- charts and the stats table ---------------------------------------------------------------------


async def test_charts_put_each_figure_on_its_own_scale_sorted_with_unset_last(
    town: dict[str, str], content: ContentStore
) -> None:
    figures = await statistics_of(town, content, "2026-01-01", "2026-11-29")
    figure = chart_figure(figures, content.catalog, "place")
    deliveries, reached = figure.axes
    labels = [label.get_text() for label in deliveries.get_yticklabels()]
    by_place = {key_name(content.catalog, "place", k): v for k, v in figures.by["place"].items()}
    assert labels[-1] == "未设置" and len(labels) == len(content.catalog.places) + 1  # every place, zeros too
    values = [by_place[name].deliveries if name in by_place else 0 for name in labels[:-1]]
    assert values == sorted(values, reverse=True) and labels[0] in ("青石镇中心小学", "河西村")
    assert deliveries.get_xlim()[1] > 3 * reached.get_xlim()[1]  # 人 would be invisible on the 人次 scale


async def test_an_empty_period_draws_a_clear_no_data_picture(
    town: dict[str, str], content: ContentStore, tmp_path: Path
) -> None:
    from PIL import Image

    empty = await statistics_of(town, content, "2024-01-01", "2024-12-31")
    figure = chart_figure(empty, content.catalog, "month")
    assert not figure.axes and NO_DATA in [text.get_text() for text in figure.texts]  # no axis to break
    paths = cli(town, "chart", "--out", str(tmp_path), "--from", "2024-01-01", "--to", "2024-12-31").split()
    assert len(paths) == 3
    for path in paths:
        with Image.open(path) as picture:
            assert picture.size == (900, 500) and picture.text["Description"] == NO_DATA  # type: ignore[attr-defined]


def test_the_stats_table_is_aligned_for_chinese_and_has_a_coverage_column(town: dict[str, str]) -> None:
    table = cli(town, "stats", "--from", "2026-01-01", "--to", "2026-11-29", "--by", "topic", "--by", "place")
    blocks = [block.splitlines() for block in table.split("\n\n")]
    topics = next(block for block in blocks if block[0].startswith("专题"))
    assert len({display_width(line) for line in topics}) == 1, topics  # every column lines up
    places = next(block for block in blocks if block[0].startswith("地点"))
    assert places[0].split() == ["地点", "类型", "推送人次", "覆盖人数", "人口/在校生", "覆盖率"]
    full_rows = [line for line in places[:-1] if not line.startswith("未设置")]
    assert len({display_width(line) for line in full_rows}) == 1, places
    assert "0.2%" in next(line for line in places if line.startswith("河西村"))
    assert set(ASCII_WORD.findall(table)) <= set("Telegram")  # the only Latin letters: the channel's own name
