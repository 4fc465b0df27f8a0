"""Statistics over a known history: every figure of stats --json, the workbook and the paragraph, exactly."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.storage import Audience, Outcome, ReachEvent, Storage
from bot.storage.ledger import LedgerEntry

from .conftest import CONTENT, REPO, settings_for
from .helpers import BACKENDS, apart, shared_database

ZONE = ZoneInfo("Asia/Shanghai")


def ts(day: str, hour: int = 10) -> int:
    return int(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), ZONE).timestamp())


async def build_history(db: Path | str, data_dir: Path | None = None) -> None:
    """The known history, written to `db`: a SQLite file or a PostgreSQL URL (a server's files go in `data_dir`)."""
    storage = await Storage.open(db, data_dir=data_dir)
    people = {}
    for key, channel, external, place in [
        ("A", "telegram", "1", "hexi-village"),
        ("B", "telegram", "2", "hexi-village"),
        ("C", "wecom", "3", "qingshi-primary"),
        ("D", "telegram", "4", None),
        ("E", "console", "5", "hexi-village"),
    ]:
        resident, _ = await storage.residents.get_or_create(channel, external, key, "zh-CN")
        await storage.residents.update(resident.id, place_id=place)
        people[key] = (resident.id, channel, place)

    def event(key: str, kind: str, day: str, topic: str, item: str, **extra: object) -> None:
        rid, channel, place = people[key]
        storage.reach.record(ReachEvent(rid, channel, kind, topic, item, place, ts=ts(day), **extra))  # type: ignore[arg-type]

    event("A", "tip", "2025-12-31", "anti-fraud", "fz-shuadan")  # before the period
    event("A", "tip", "2026-01-10", "anti-fraud", "fz-shuadan")
    event("A", "tip", "2026-01-10", "anti-fraud", "fz-shuadan")  # the same tip twice: 2 deliveries, 1 person
    event("B", "tip", "2026-01-20", "anti-drug", "jd-dingyi")
    event("C", "tip", "2026-02-05", "drowning", "ns-liubu")
    event("E", "tip", "2026-02-05", "drowning", "ns-liubu")  # console: a trial, never counted
    # C finishes a two-question drowning quiz (one right); A answers one anti-fraud question wrong and stops.
    quizzes = storage.quizzes
    c_session = await quizzes.start(
        people["C"][0],
        "topic",
        ["ns-q01", "ns-q02"],
        [[0, 1], [0, 1]],
        "wecom",
        "qingshi-primary",
        ts("2026-02-06"),
        topic_id="drowning",
    )
    _, c_session = await quizzes.answer(c_session, 0, 0, True, ts("2026-02-06"))
    await quizzes.answer(c_session, 1, 1, False, ts("2026-02-06"))
    await quizzes.start(
        people["A"][0],
        "topic",
        ["fz-q01", "fz-q02"],
        [[0, 1], [0, 1]],
        "telegram",
        "hexi-village",
        ts("2026-04-02"),
        topic_id="anti-fraud",
    )
    for key, day, topic, question, correct in [
        ("C", "2026-02-06", "drowning", "ns-q01", True),
        ("C", "2026-02-06", "drowning", "ns-q02", False),
        ("A", "2026-04-02", "anti-fraud", "fz-q01", False),
    ]:
        event(key, "quiz_question", day, topic, question)
        event(key, "quiz_answer", day, topic, question, correct=correct)
    await storage.flush()
    # A campaign broadcast on 2026-03-01: D delivered, A blocked, B failed.
    broadcast_id = await storage.broadcasts.create(
        "calendar",
        Audience(),
        ts("2026-03-01"),
        ts("2026-03-01"),
        item_id="xf-xianfari",
        topic_id="constitution",
        campaign_id="constitution-day",
        occurrence="constitution-day@x",
    )
    assert broadcast_id is not None
    await storage.broadcasts.claim_due("test", ts("2026-03-01", 11), 60, ["telegram"])
    rid, channel, place = people["D"]
    await storage.broadcasts.record(
        broadcast_id,
        [
            Outcome(people["D"][0], "delivered"),
            Outcome(people["A"][0], "blocked"),
            Outcome(people["B"][0], "failed", "BadRequest"),
        ],
        [
            ReachEvent(
                rid,
                channel,
                "broadcast",
                "constitution",
                "xf-xianfari",
                place,
                "constitution-day",
                broadcast_id,
                ts=ts("2026-03-01"),
            )
        ],
        ts("2026-03-01"),
    )
    await storage.ledger.add(
        [
            LedgerEntry("2026-12-04", "进村宣传", 80, "hexi-village", "constitution"),
            LedgerEntry("2026-12-04", "发放资料", 300, None, "constitution", "宪法日"),
            LedgerEntry("2025-12-04", "发放资料", 999),
        ],
        "test",
        ts("2026-12-04"),
    )
    await storage.close()


@pytest.fixture(scope="module", params=BACKENDS)
def history(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The history, built once per backend."""
    folder = tmp_path_factory.mktemp("stats")
    with shared_database(request, folder) as db:
        apart(build_history(db, folder))
        yield {**os.environ, "BOT_DB": db, "BOT_DATA_DIR": str(folder), "BOT_CONTENT_DIR": str(CONTENT)}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


def test_stats_json_has_every_figure_right(history: dict[str, str]) -> None:
    figures = json.loads(cli(history, "stats", "--from", "2026-01-01", "--to", "2026-12-31", "--json").stdout)
    assert (figures["deliveries"], figures["reached"]) == (11, 4)
    assert figures["by_topic"] == {
        "anti-drug": {"deliveries": 1, "reached": 1},
        "anti-fraud": {"deliveries": 4, "reached": 1},
        "constitution": {"deliveries": 1, "reached": 1},
        "drowning": {"deliveries": 5, "reached": 1},
    }
    assert figures["by_place"] == {
        "hexi-village": {"deliveries": 5, "reached": 2},
        "qingshi-primary": {"deliveries": 5, "reached": 1},
        "unknown": {"deliveries": 1, "reached": 1},
    }
    assert figures["by_channel"] == {
        "telegram": {"deliveries": 6, "reached": 3},
        "wecom": {"deliveries": 5, "reached": 1},
    }
    assert figures["by_month"] == {
        "2026-01": {"deliveries": 3, "reached": 2},
        "2026-02": {"deliveries": 5, "reached": 1},
        "2026-03": {"deliveries": 1, "reached": 1},
        "2026-04": {"deliveries": 2, "reached": 1},
    }
    assert {k: figures["quiz"][k] for k in ("answers", "correct", "participants")} == {
        "answers": 3,
        "correct": 1,
        "participants": 2,
    }
    assert figures["quiz"]["completion"] == 0.5
    assert {k: figures["broadcasts"][k] for k in ("delivered", "blocked", "failed")} == {
        "delivered": 1,
        "blocked": 1,
        "failed": 1,
    }
    assert figures["campaign_pushes"] == 1
    assert figures["offline"] == {
        "activities": 2,
        "by_type": {
            "发放资料": {"activities": 1, "count": 300, "unit": "份"},
            "进村宣传": {"activities": 1, "count": 80, "unit": "人次"},
        },
    }
    hexi = next(row for row in figures["coverage"] if row["place"] == "hexi-village")
    school = next(row for row in figures["coverage"] if row["place"] == "qingshi-primary")
    assert (hexi["reached"], hexi["population"], hexi["coverage_rate"]) == (2, 1680, round(2 / 1680, 4))
    assert (school["students_completed_quiz"], school["enrolment"], school["education_rate"]) == (
        1,
        620,
        round(1 / 620, 4),
    )


@pytest.mark.parametrize(
    ("first", "last", "deliveries", "reached"),
    [
        ("2026-01-01", "2026-01-31", 3, 2),  # one whole month: the roll-up alone
        ("2026-01-15", "2026-02-10", 6, 2),  # no whole month: the raw log alone
        ("2026-01-15", "2026-03-31", 7, 3),  # a partial month, then two whole ones
        ("2026-02-06", "2026-02-06", 4, 1),  # one day
    ],
)
def test_periods_cut_across_months_agree_with_the_log(
    history: dict[str, str], first: str, last: str, deliveries: int, reached: int
) -> None:
    figures = json.loads(cli(history, "stats", "--from", first, "--to", last, "--json").stdout)
    assert (figures["deliveries"], figures["reached"]) == (deliveries, reached)
    assert sum(v["deliveries"] for v in figures["by_topic"].values()) == deliveries


def test_a_period_filter_and_the_table(history: dict[str, str]) -> None:
    january = json.loads(cli(history, "stats", "--from", "2026-01-01", "--to", "2026-01-31", "--json").stdout)
    assert (january["deliveries"], january["reached"]) == (3, 2)
    table = cli(history, "stats", "--from", "2026-01-01", "--to", "2026-12-31", "--by", "topic").stdout
    assert "推送人次 11    覆盖人数 4" in table
    assert "反电信网络诈骗" in table and "地点" not in table


def test_report_paragraph_gives_every_number_from_the_data(history: dict[str, str]) -> None:
    # The year is not over on 29 November: 「截至」, and the ledger rows dated 4 December are not counted yet.
    paragraph = cli(history, "report", "--year", "2026", "--to", "2026-11-29").stdout.strip()
    assert paragraph == (
        "2026年以来（截至11月29日），我镇依托普法宣传机器人，围绕防溺水、反电信网络诈骗、禁毒等主题推送法治知识11人次，"
        "覆盖群众4人；组织线上法治知识答题3人次，平均正确率33.3%；利用国家宪法日节点开展专题推送1次；"
        "覆盖在校学生1人，在校生受教育面0.1%。"
    )
    empty = cli(history, "report", "--year", "2024").stdout.strip()
    assert empty == "2024年全年暂无可报告的普法宣传数据。"


def test_xlsx_export_matches_and_holds_no_personal_data(history: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "台账.xlsx"
    cli(history, "export", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(out))
    workbook = load_workbook(out, read_only=True)
    names = workbook.sheetnames
    assert names == [
        "汇总",
        "分专题",
        "分地点",
        "专题与地点",
        "分月份",
        "分渠道",
        "答题情况",
        "群发情况",
        "普法台账",
        "群众诉求",  # legal-service requests: by place and kind, without phone numbers
    ]
    summary = {row[0]: row[1] for row in workbook["汇总"].iter_rows(min_row=7, values_only=True)}  # under the cover
    assert summary["推送人次"] == 11 and summary["覆盖人数"] == 4
    assert summary["答题人次"] == 3 and summary["群发送达"] == 1
    questions = list(workbook["答题情况"].iter_rows(min_row=2, values_only=True))
    assert [q[0] for q in questions][:2] in (["fz-q01", "ns-q02"], ["ns-q02", "fz-q01"])  # 0% first
    assert questions[2][0] == "ns-q01" and questions[2][5] == 1.0
    assert questions[3][:6] == ("合计", None, None, 3, 1, round(1 / 3, 4))
    ledger = list(workbook["普法台账"].iter_rows(min_row=2, values_only=True))
    assert len(ledger) == 2 and {row[3] for row in ledger} == {"进村宣传", "发放资料"}
    cells = {
        str(cell)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    }
    assert not cells & {"A", "B", "C", "D", "E"}  # no resident's name anywhere without --personal
    assert "待跟进" not in names
    workbook.close()


def test_personal_export_lists_who_to_follow_up(history: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "follow.xlsx"
    cli(
        history,
        "export",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
        "--out",
        str(out),
        "--personal",
        "--topic",
        "drowning",
    )
    workbook = load_workbook(out, read_only=True)
    rows = list(workbook["待跟进"].iter_rows(min_row=2, values_only=True))
    workbook.close()
    # A blocked the bot (the broadcast found out), C finished the quiz, E is a console trial: not listed.
    assert sorted((row[0], row[1]) for row in rows) == [("未设置", "D"), ("河西村", "B")]


def test_csv_zip_and_charts(history: dict[str, str], tmp_path: Path) -> None:
    import zipfile

    from PIL import Image

    archive = Path(
        cli(
            history, "export", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(tmp_path / "t.csv")
        ).stdout.strip()
    )
    with zipfile.ZipFile(archive) as zipped:
        assert "汇总.csv" in zipped.namelist()
        summary = zipped.read("汇总.csv").decode("utf-8-sig")
        assert summary.startswith("青石镇2026年普法宣传工作统计表") and "推送人次,11,人次" in summary
        assert "平均正确率,33.3%," in summary
    charts = cli(
        history, "chart", "--out", str(tmp_path / "charts"), "--from", "2026-01-01", "--to", "2026-12-31"
    ).stdout.split()
    assert len(charts) == 3
    with Image.open(charts[0]) as picture:
        assert picture.size == (900, 500)


def test_ledger_import_reports_rows_and_dry_run_writes_nothing(history: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "日期,类型,地点,数量\n2026-05-01,进村宣传,河西村,40\n2026-13-01,跳舞,火星,-3\n", encoding="utf-8-sig"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ledger", "import", str(bad), "--dry-run"],
        capture_output=True,
        text=True,
        env=history,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 1
    assert "第 3 行：拒绝，日期「2026-13-01」看不懂" in result.stdout and "类型「跳舞」不认识" in result.stdout
    assert "数量「-3」不是整数" in result.stdout and "火星" not in result.stdout  # 地点 may be any place as text
    assert "可导入 1 条，跳过重复 0 条，拒绝 1 条" in result.stdout
    may = json.loads(cli(history, "stats", "--from", "2026-05-01", "--to", "2026-05-31", "--json").stdout)
    assert may["offline"]["activities"] == 0  # a dry run writes nothing


async def test_admin_stats_export_and_ledger_in_chat_and_refused_to_others(
    database: str, tmp_path: Path, content: object
) -> None:
    import shutil

    from bot.config import Identity
    from bot.core.engine import Core
    from bot.core.events import Document, Image

    from .helpers import Chat, texts

    await build_history(database, tmp_path)
    storage = await Storage.open(database, data_dir=tmp_path)
    settings = settings_for(database, tmp_path, content_dir=CONTENT, admins=frozenset({Identity("console", "boss")}))
    core = Core(storage, content, settings)  # type: ignore[arg-type]
    try:
        resident = Chat(core, "villager")
        unknown = texts(await resident.say("/nosuch"))
        for command in ("stats", "export", "ledger 2026-12-04 进村宣传 40"):
            assert texts(await resident.say(f"/{command}")) == unknown.replace("nosuch", command.split()[0])
        boss = Chat(core, "boss")
        replies = await boss.say("/stats")
        assert "推送法治知识" in texts(replies) and isinstance(replies[-1], Image)
        (document,) = await boss.say("/export")
        assert isinstance(document, Document) and document.filename.endswith(".xlsx") and document.data[:2] == b"PK"
        assert "已记入台账：2026-05-06 法治讲座 45人次" in texts(
            await boss.say("/ledger 2026-05-06 法治讲座 河西村 45 村部")
        )
        assert "没有记录" in texts(await boss.say("/ledger 2026-05-06 跳舞 3"))
        assert "记一笔普法台账" in texts(await boss.say("/ledger"))
        entries = await storage.ledger.between("2026-05-06", "2026-05-06")
        assert [(e.type, e.place_id, e.count, e.note) for e in entries] == [("法治讲座", "hexi-village", 45, "村部")]
    finally:
        await storage.close()
        shutil.rmtree(tmp_path / "charts", ignore_errors=True)


def test_ledger_import_from_excel(history: dict[str, str], tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["日期", "类型", "地点", "专题", "数量", "备注"])
    sheet.append([dt.date(2026, 6, 26), "进校园", "青石镇中心小学", "禁毒", 450, "国际禁毒日"])
    sheet.append(["2026-06-26", "村村响广播", "河西村", None, 3, ""])
    path = tmp_path / "台账.xlsx"
    book.save(path)
    assert cli(history, "ledger", "import", str(path)).stdout.strip() == "导入 2 条，跳过重复 0 条，拒绝 0 条"
    june = json.loads(cli(history, "stats", "--from", "2026-06-01", "--to", "2026-06-30", "--json").stdout)
    assert june["offline"]["by_type"] == {
        "村村响广播": {"activities": 1, "count": 3, "unit": "次"},
        "进校园": {"activities": 1, "count": 450, "unit": "人次"},
    }
    listed = cli(history, "ledger", "list", "--from", "2026-06-26", "--to", "2026-06-26").stdout
    rows = [line.split()[2:] for line in listed.splitlines()]
    assert ["进校园", "青石镇中心小学", "禁毒", "450人次", "国际禁毒日"] in rows
