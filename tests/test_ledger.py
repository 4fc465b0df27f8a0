"""The 普法台账 as a clerk keeps it: real office files in, duplicates skipped, implausible rows refused with the
reason, corrections (edit, delete, restore) reflected in the report and kept in the audit log."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook

from bot.cli import main
from bot.content.store import ContentStore
from bot.reporting.ledger_io import implausible, parse_count, parse_day, parse_entry
from bot.reporting.statistics import Period, collect
from bot.storage import LedgerEntry, Storage
from bot.storage.migrations import MIGRATIONS

from .conftest import CONTENT, settings_for

FIXTURES = Path(__file__).parent / "fixtures" / "ledger"
GBK_CSV = FIXTURES / "qingshi-2026-gbk.csv"  # as Excel on Chinese Windows saves it: GBK, a title row, 合计
ZONE = ZoneInfo("Asia/Shanghai")
YEAR = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31), ZONE)
Run = Callable[..., tuple[int, str]]


@pytest.fixture
def db(database: str) -> str:
    """The bot's database: a SQLite file in the test's folder, or a PostgreSQL URL (files in the folder)."""
    return database


@pytest.fixture
def run(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """`python -m bot ARGS` in this process: (exit code, stdout and stderr)."""
    monkeypatch.setenv("BOT_DB", db)
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BOT_CONTENT_DIR", str(CONTENT))
    monkeypatch.delenv("LEDGER_MAX_COUNT", raising=False)

    def run(*args: str | Path) -> tuple[int, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return ContentStore.load(CONTENT).catalog


def offline(db: str) -> dict[str, tuple[int, int]]:
    """The report's ledger figures for 2026: type -> (activities, count)."""

    async def read() -> dict[str, tuple[int, int]]:
        storage = await Storage.open(db)
        try:
            statistics = await collect(storage, ContentStore.load(CONTENT).catalog, YEAR)
        finally:
            await storage.close()
        return {a.kind: (a.activities, a.count) for a in statistics.offline}

    return asyncio.run(read())


def rows_in(db: str, include_deleted: bool = True) -> list[LedgerEntry]:
    async def read() -> list[LedgerEntry]:
        storage = await Storage.open(db)
        try:
            return await storage.ledger.between("1900-01-01", "2999-12-31", include_deleted)
        finally:
            await storage.close()

    return asyncio.run(read())


def office_workbook(path: Path) -> Path:
    """An .xlsx as offices keep one: a merged title row, a blank row, Chinese headers, date cells."""
    book = Workbook()
    sheet = book.active
    sheet.append(["青石镇2026年普法活动台账"])
    sheet.merge_cells("A1:F1")
    sheet.append([])
    sheet.append(["日期", "类型", "村（社区）", "专题", "人数（人次）", "备注"])
    sheet.append([dt.datetime(2026, 8, 1), "进村宣传", "枫树岭村", "防溺水", 85, "暑期防溺水"])
    sheet.append([dt.date(2026, 4, 15), "法治讲座", "hexi-village", "全民国家安全教育日", 60, None])
    sheet.append(["2026年11月4日", "悬挂横幅", "镇政府门口", "宪法", 6, "宪法宣传"])
    sheet["A4"].number_format = "yyyy-mm-dd"
    book.save(path)
    return path


# -- imports -----------------------------------------------------------------------------------------


def test_gbk_csv_with_a_title_row_imports_and_importing_it_again_adds_nothing(run: Run, db: str) -> None:
    assert run("ledger", "import", GBK_CSV) == (0, "导入 3 条，跳过重复 0 条，拒绝 0 条\n")
    figures = offline(db)
    assert figures == {"进村宣传": (1, 120), "进校园": (1, 450), "发放资料": (1, 1200)}
    assert run("ledger", "import", GBK_CSV) == (0, "导入 0 条，跳过重复 3 条，拒绝 0 条\n")
    assert offline(db) == figures
    first, second, third = rows_in(db)
    assert (first.day, first.place_id, first.topic_id, first.title) == (
        "2026-03-05",
        "hexi-village",
        "constitution",
        "宪法宣传周",
    )
    assert (first.speaker, first.organiser, first.note) == ("李律师", "青石镇司法所", "村委会会议室")
    assert (second.type, second.place_id, second.topic_id) == ("进校园", "qingshi-primary", "anti-drug")
    assert (third.count, third.place_id, third.title) == (1200, "zhenjie-community", "反诈骗")


def test_xlsx_with_a_title_row_and_date_cells_imports_once(run: Run, db: str, tmp_path: Path) -> None:
    path = office_workbook(tmp_path / "台账.xlsx")
    assert run("ledger", "import", path) == (0, "导入 3 条，跳过重复 0 条，拒绝 0 条\n")
    assert run("ledger", "import", path) == (0, "导入 0 条，跳过重复 3 条，拒绝 0 条\n")
    assert offline(db) == {"进村宣传": (1, 85), "法治讲座": (1, 60), "悬挂横幅": (1, 6)}
    august, april, december = sorted(rows_in(db), key=lambda e: e.id or 0)
    assert (august.day, august.place_id, august.topic_id) == ("2026-08-01", "fengshuling-village", "drowning")
    assert (april.day, april.place_id, april.topic_id, april.title) == (
        "2026-04-15",
        "hexi-village",
        None,
        "全民国家安全教育日",
    )
    assert (december.day, december.place_id, december.location) == ("2026-11-04", None, "镇政府门口")


def test_utf8_csv_with_or_without_bom_and_english_headers(run: Run, db: str, tmp_path: Path) -> None:
    text = "date,type,place,topic,count,note\n2026-07-01,讲座,茶园村,anti-fraud,50,夜校\n"
    (tmp_path / "bom.csv").write_text(text, encoding="utf-8-sig")
    (tmp_path / "plain.csv").write_text(text, encoding="utf-8")
    assert run("ledger", "import", tmp_path / "bom.csv") == (0, "导入 1 条，跳过重复 0 条，拒绝 0 条\n")
    assert run("ledger", "import", tmp_path / "plain.csv") == (0, "导入 0 条，跳过重复 1 条，拒绝 0 条\n")
    (tmp_path / "unicode.csv").write_text(text.replace(",", "\t"), encoding="utf-16")  # Excel's 「Unicode 文本」
    assert run("ledger", "import", tmp_path / "unicode.csv") == (0, "导入 0 条，跳过重复 1 条，拒绝 0 条\n")
    assert offline(db) == {"法治讲座": (1, 50)}


def test_refused_rows_say_why_with_their_row_number_and_the_rest_is_imported(run: Run, db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "普法台账\n日期,类型,地点,数量\n2026-05-01,进村宣传,河西村,40\n2026-13-01,跳舞,火星,-3\n", encoding="utf-8"
    )
    code, out = run("ledger", "import", bad)
    assert code == 1
    assert out.splitlines() == [
        "第 4 行：拒绝，日期「2026-13-01」看不懂，请写成 2026-08-01 或 2026年8月1日；"
        "类型「跳舞」不认识，请填：进村宣传、进校园、法治讲座、悬挂横幅、发放资料、村村响广播、其他；"
        "数量「-3」不是整数，请填 0 或正整数",
        "导入 1 条，跳过重复 0 条，拒绝 1 条",
        "改好被拒绝的行后，重新导入整个文件即可：已导入的行会自动跳过。",
    ]
    assert offline(db) == {"进村宣传": (1, 40)}


def test_dry_run_shows_every_row_and_writes_nothing(run: Run, db: str, tmp_path: Path) -> None:
    first = ("--date", "2026-03-05", "--type", "进村宣传", "--place", "河西村", "--topic", "宪法宣传周")
    assert run("ledger", "add", *first, "--count", "120")[0] == 0
    path = tmp_path / "mixed.csv"
    path.write_text(
        "日期,类型,地点,主题,人数\n"
        "2026-03-05,进村宣传,河西村,宪法宣传周,120\n"
        "2026-05-01,法治讲座,茶园村,,30\n"
        "2026-05-01,法治讲座,茶园村,,30\n"
        "2026-05-02,进村宣传,河西村,,99999\n",
        encoding="utf-8",
    )
    code, out = run("ledger", "import", path, "--dry-run")
    assert code == 1
    assert out.splitlines() == [
        "第 2 行：跳过，与台账第 1 条重复",
        "第 3 行：导入 2026-05-01 法治讲座 茶园村 30人次",
        "第 4 行：跳过，与本文件第 3 行重复",
        "第 5 行：拒绝，数量 99999 超过上限 5000，请核对（上限由 LEDGER_MAX_COUNT 设置）；"
        "受众 99999 人次多于河西村的人口 1680 人，请核对",
        "试导入，没有写入：可导入 1 条，跳过重复 2 条，拒绝 1 条",
        "确认无误的，加 --force 再执行一次。",
        "改好被拒绝的行后，重新导入整个文件即可：已导入的行会自动跳过。",
    ]
    assert len(rows_in(db)) == 1 and offline(db) == {"进村宣传": (1, 120)}
    code, audit = run("ledger", "audit")
    assert code == 0 and len(audit.splitlines()) == 2  # the header and the one row added


def test_files_that_cannot_be_read_say_what_to_do(run: Run, tmp_path: Path) -> None:
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "title-only.csv").write_text("青石镇2026年普法活动台账\n2026-01-01,讲座,30\n", encoding="utf-8")
    (tmp_path / "no-count.csv").write_text("标题\n日期,类型,地点\n2026-01-01,讲座,河西村\n", encoding="utf-8")
    assert run("ledger", "import", tmp_path / "old.xls") == (
        1,
        f"python -m bot: {tmp_path / 'old.xls'}: 不能读取旧版 .xls 文件："
        "请在 Excel 里「另存为」.xlsx 或 CSV 后再导入\n",
    )
    assert "找不到表头" in run("ledger", "import", tmp_path / "title-only.csv")[1]
    assert "第 2 行是表头，但缺少「数量」列" in run("ledger", "import", tmp_path / "no-count.csv")[1]
    assert run("ledger", "import", tmp_path / "nope.csv") == (1, f"python -m bot: 找不到文件 {tmp_path / 'nope.csv'}\n")


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2026-08-01", dt.date(2026, 8, 1)),
        ("2026年8月1日", dt.date(2026, 8, 1)),
        ("２０２６年８月１日", dt.date(2026, 8, 1)),
        ("2026/8/1", dt.date(2026, 8, 1)),
        ("2026.8.1", dt.date(2026, 8, 1)),
        ("2026-08-01 00:00:00", dt.date(2026, 8, 1)),
        ("20260801", dt.date(2026, 8, 1)),
        (dt.datetime(2026, 8, 1, 9, 30), dt.date(2026, 8, 1)),
        (46235, dt.date(2026, 8, 1)),  # an Excel date cell without a date format
        ("2026-13-01", None),
        ("8月1日", None),
        ("", None),
        (None, None),
    ],
)
def test_dates_as_offices_write_them(value: object, day: dt.date | None) -> None:
    assert parse_day(value) == day


@pytest.mark.parametrize(
    ("value", "count"),
    [(80, 80), (80.0, 80), ("80", 80), ("1,200", 1200), ("80人", 80), ("300 份", 300), ("８０", 80), (80.5, None),
     ("-3", None), ("很多", None), (True, None)],
)  # fmt: skip
def test_counts_as_offices_write_them(value: object, count: int | None) -> None:
    assert parse_count(value) == count


# -- implausible values ------------------------------------------------------------------------------


def test_an_implausible_count_is_refused_without_force_and_accepted_with_it(run: Run, db: str) -> None:
    args = ("ledger", "add", "--date", "2026-05-01", "--type", "发放资料", "--count", "99999999")
    assert run(*args) == (
        1,
        "python -m bot: 数量 99999999 超过上限 5000，请核对（上限由 LEDGER_MAX_COUNT 设置）。"
        "确认无误的，加 --force 再执行一次。\n",
    )
    assert rows_in(db) == []
    assert run(*args, "--force") == (0, "已记入台账，编号 1：2026-05-01 发放资料 99999999份\n")
    assert offline(db) == {"发放资料": (1, 99999999)}


def test_the_count_bound_is_a_setting(run: Run, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_MAX_COUNT", "100000")
    assert run("ledger", "add", "--date", "2026-05-01", "--type", "发放资料", "--count", "20000")[0] == 0
    monkeypatch.setenv("LEDGER_MAX_COUNT", "many")
    assert "LEDGER_MAX_COUNT='many'" in run("ledger", "list")[1]


def test_an_implausible_row_in_a_file_is_imported_with_force(run: Run, db: str, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("日期,类型,地点,人数\n2026-05-02,进村宣传,河西村,2000\n", encoding="utf-8")
    code, out = run("ledger", "import", path)
    assert code == 1 and "第 2 行：拒绝，受众 2000 人次多于河西村的人口 1680 人，请核对" in out
    assert run("ledger", "import", path, "--force") == (0, "导入 1 条，跳过重复 0 条，拒绝 0 条\n")
    assert offline(db) == {"进村宣传": (1, 2000)}


def test_what_is_implausible(catalog) -> None:  # type: ignore[no-untyped-def]
    today = dt.date(2026, 11, 29)

    def doubts(day: str, kind: str, place: str | None, count: int) -> list[str]:
        entry, problems = parse_entry(catalog, {"day": day, "type": kind, "place": place, "count": count})
        assert entry is not None, problems
        return [p.render() for p in implausible(entry, catalog, today, 5000)]

    assert doubts("2026-11-29", "进村宣传", "河西村", 1680) == []
    assert doubts("2026-11-29", "发放资料", "河西村", 3000) == []  # leaflets are not people
    assert doubts("2026-11-29", "进村宣传", "塘坊村", 3000) == []  # no population in places.yaml
    assert doubts("2026-11-29", "进村宣传", "村部广场", 3000) == []  # a place as free text
    assert doubts("2026-11-30", "进村宣传", None, 10) == ["日期 2026-11-30 还没到，请核对年份"]
    assert doubts("1999-12-31", "进村宣传", None, 10) == ["日期 1999-12-31 早于2000年，请核对年份"]
    assert doubts("2026-06-26", "进校园", "青石镇中心小学", 621) == [
        "受众 621 人次多于青石镇中心小学的在校生 620 人，请核对"
    ]
    assert doubts("2026-06-26", "进村宣传", "hexi-village", 1681) == ["受众 1681 人次多于河西村的人口 1680 人，请核对"]
    assert doubts("2026-06-26", "其他", None, 5001) == [
        "数量 5001 超过上限 5000，请核对（上限由 LEDGER_MAX_COUNT 设置）"
    ]


def test_a_future_date_is_refused_from_the_command_line(run: Run) -> None:
    next_year = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    code, out = run("ledger", "add", "--date", next_year, "--type", "进村宣传", "--count", "10")
    assert code == 1 and f"日期 {next_year} 还没到" in out and "--force" in out


# -- corrections -------------------------------------------------------------------------------------


def test_edit_delete_and_restore_change_the_report_and_are_in_the_audit_log(run: Run, db: str) -> None:
    add = ("ledger", "add", "--type", "法治讲座", "--place", "河西村")
    assert run(*add, "--date", "2026-05-06", "--count", "4500", "--force")[0] == 0  # a typo: 45 meant
    assert run(*add, "--date", "2026-06-01", "--count", "30")[0] == 0
    assert offline(db) == {"法治讲座": (2, 4530)}

    assert run("ledger", "edit", "1", "--count", "45", "--speaker", "张律师") == (
        0,
        "已修改第 1 条：数量 4500 → 45；主讲人 （空） → 张律师\n",
    )
    assert offline(db) == {"法治讲座": (2, 75)}
    assert run("ledger", "delete", "2") == (
        0,
        "已删除第 2 条，不再计入统计（用 python -m bot ledger restore 2 可以恢复）。\n",
    )
    assert offline(db) == {"法治讲座": (1, 45)}
    assert run("ledger", "delete", "2") == (1, "python -m bot: 第 2 条已经删除了。\n")
    assert run("ledger", "edit", "2", "--count", "31")[0] == 1  # restore it first
    assert run("ledger", "restore", "2") == (0, "已恢复第 2 条，重新计入统计。\n")
    assert offline(db) == {"法治讲座": (2, 75)}
    assert run("ledger", "delete", "2")[0] == 0

    code, audit = run("ledger", "audit")
    lines = audit.splitlines()
    assert code == 0 and lines[0].split() == ["时间", "操作人", "操作", "编号", "内容"]
    actions = [line.split()[2:5] for line in lines[1:]]
    assert actions == [
        [f"cli:{_login()}", "新增", "1"],
        [f"cli:{_login()}", "新增", "2"],
        [f"cli:{_login()}", "修改", "1"],
        [f"cli:{_login()}", "删除", "2"],
        [f"cli:{_login()}", "恢复", "2"],
        [f"cli:{_login()}", "删除", "2"],
    ]
    assert lines[3].endswith("数量 4500 → 45；主讲人 （空） → 张律师")
    assert lines[4].endswith("2026-06-01 法治讲座 河西村 30人次")
    code, one = run("ledger", "audit", "--id", "1")
    assert [line.split()[3] for line in one.splitlines()[1:]] == ["新增", "修改"]


def test_an_edit_keeps_earlier_confirmed_values_and_checks_new_ones(run: Run) -> None:
    assert run("ledger", "add", "--date", "2026-05-06", "--type", "其他", "--count", "6000", "--force")[0] == 0
    assert run("ledger", "edit", "1", "--note", "全镇")[0] == 0  # 6000 was confirmed when it was recorded
    code, out = run("ledger", "edit", "1", "--count", "7000")
    assert code == 1 and "数量 7000 超过上限 5000" in out
    assert run("ledger", "add", "--date", "2026-05-07", "--type", "其他", "--count", "10")[0] == 0
    code, out = run("ledger", "edit", "2", "--date", "2026-05-06", "--count", "6000")
    assert code == 1 and "数量 6000 超过上限" in out
    assert run("ledger", "edit", "2", "--date", "2026-05-06", "--count", "6000", "--force") == (
        1,
        "python -m bot: 改后会与第 1 条重复：如果是同一次活动，请删除其中一条。\n",
    )


def test_a_deleted_row_is_not_brought_back_by_importing_the_file_again(run: Run, db: str) -> None:
    assert run("ledger", "import", GBK_CSV)[0] == 0
    assert run("ledger", "delete", "3")[0] == 0
    assert run("ledger", "import", GBK_CSV) == (0, "导入 0 条，跳过重复 3 条，拒绝 0 条\n")
    assert offline(db) == {"进村宣传": (1, 120), "进校园": (1, 450)}


def test_list_is_an_aligned_table_with_ids_and_chinese_names(run: Run, tmp_path: Path) -> None:
    assert run("ledger", "import", GBK_CSV)[0] == 0
    assert run("ledger", "delete", "2")[0] == 0
    code, listed = run("ledger", "list", "--from", "2026-01-01", "--to", "2026-12-31")
    assert code == 0
    assert listed == (
        "编号  日期        类型      地点      主题  数量     活动名称    主讲人  组织单位      备注\n"
        "1     2026-03-05  进村宣传  河西村    宪法  120人次  宪法宣传周  李律师  青石镇司法所  村委会会议室\n"
        "3     2026-09-10  发放资料  镇街社区        1200份   反诈骗              青石镇司法所  赶集日\n"
        "共 2 条\n"
    )
    code, everything = run("ledger", "list", "--from", "2026-01-01", "--to", "2026-12-31", "--all")
    lines = everything.splitlines()
    assert "禁毒" in lines[2] and "anti-drug" not in everything and "青石镇中心小学" in lines[2]
    assert f"已删除（cli:{_login()}，" in lines[2] and lines[-1] == "共 3 条，其中已删除 1 条"


def test_evidence_is_copied_under_the_data_directory(run: Run, db: str, tmp_path: Path) -> None:
    photo = tmp_path / "现场照片.jpg"
    photo.write_bytes(b"\xff\xd8\xff photo")
    code, out = run(
        "ledger", "add", "--date", "2026-05-06", "--type", "法治讲座", "--count", "45", "--evidence", photo,
        "--evidence", photo,
    )  # fmt: skip
    assert code == 0 and "佐证材料 2 个已存入" in out
    (entry,) = rows_in(db)
    assert entry.evidence == ("ledger-evidence/1/现场照片.jpg", "ledger-evidence/1/现场照片-2.jpg")
    assert (tmp_path / entry.evidence[1]).read_bytes() == photo.read_bytes()  # BOT_DATA_DIR
    assert run("ledger", "add", "--date", "2026-05-07", "--type", "其他", "--count", "1", "--evidence", tmp_path / "x")[
        1
    ].endswith(f"找不到佐证材料 {tmp_path / 'x'}\n")
    assert run("ledger", "edit", "1", "--evidence", photo)[0] == 0
    assert len(rows_in(db)[0].evidence) == 3


# -- the template ------------------------------------------------------------------------------------


def test_the_template_has_drop_down_lists_and_imports_back(run: Run, db: str, tmp_path: Path, catalog) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "台账模板.xlsx"
    assert run("ledger", "template", "--out", path) == (0, f"已生成台账模板：{path}\n")
    book = load_workbook(path)
    sheet, options = book["台账"], book["选项"]
    assert options.sheet_state == "hidden"
    assert sheet["A1"].value == "青石镇普法活动台账"
    assert [c.value for c in sheet[2]] == [
        "日期",
        "类型",
        "地点",
        "主题",
        "数量",
        "活动名称",
        "主讲人",
        "组织单位",
        "备注",
    ]
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation if v.type == "list"}
    assert lists == {"B3:B1002": "='选项'!$A$2:$A$8", "C3:C1002": f"='选项'!$B$2:$B${len(catalog.places) + 1}"}
    assert [options.cell(row=r, column=1).value for r in range(2, 9)] == [
        "进村宣传", "进校园", "法治讲座", "悬挂横幅", "发放资料", "村村响广播", "其他",
    ]  # fmt: skip
    assert [options.cell(row=r, column=2).value for r in range(2, len(catalog.places) + 2)] == [
        p.name for p in catalog.places
    ]
    assert {v.type for v in sheet.data_validations.dataValidation} == {"list", "date", "whole"}

    assert run("ledger", "import", path) == (
        0,
        "导入 0 条，跳过重复 0 条，拒绝 0 条\n",
    )  # the example row is passed over
    sheet.append([dt.date(2026, 7, 1), "村村响广播", "茶园村", "防溺水", 3])
    book.save(path)
    assert run("ledger", "import", path) == (0, "导入 1 条，跳过重复 0 条，拒绝 0 条\n")
    assert offline(db) == {"村村响广播": (1, 3)}


# -- storage and chat ----------------------------------------------------------------------------------


async def test_migration_11_keeps_rows_doubled_before_it_and_flags_them(database: str, tmp_path: Path) -> None:
    import time

    from bot.storage.db import DEFAULT_ZONE_OFFSET
    from bot.storage.storage import open_database

    old = await open_database(database, time.time, DEFAULT_ZONE_OFFSET, tmp_path)  # not migrated beyond 10
    await old.migrate([m for m in MIGRATIONS if m.version <= 10])
    async with old.atomic() as tx:
        for _ in range(2):  # the same file imported twice before duplicates were refused
            await tx.execute(
                "INSERT INTO ledger (day, type, place_id, topic_id, count, note, created_at, created_by)"
                " VALUES ('2026-03-05', '进村宣传', 'hexi-village', NULL, 120, '', 0, 'cli')"
            )
    await old.close()

    storage = await Storage.open(database, data_dir=tmp_path)
    try:
        first, second = await storage.ledger.between("2026-01-01", "2026-12-31")
        assert (first.id, second.id) == (1, 2)
        assert await storage.ledger.fingerprints() == {first.fingerprint: 1}
        added = await storage.ledger.add([LedgerEntry("2026-03-05", "进村宣传", 120, "hexi-village")], "t", 1)
        assert added.ids == () and added.duplicates == ((0, 1),)
        assert await storage.stats.ledger("2026-01-01", "2026-12-31") == [("进村宣传", 2, 240)]
        assert await storage.ledger.set_deleted(2, True, "t", 2) is not None
        assert await storage.stats.ledger("2026-01-01", "2026-12-31") == [("进村宣传", 1, 120)]
    finally:
        await storage.close()


async def test_admins_record_confirm_and_delete_in_chat(database: str, tmp_path: Path, content: ContentStore) -> None:
    from bot.config import Identity
    from bot.core.engine import Core

    from .helpers import Chat, texts

    storage = await Storage.open(database, data_dir=tmp_path)
    settings = settings_for(database, tmp_path, content_dir=CONTENT, admins=frozenset({Identity("console", "boss")}))
    try:
        boss = Chat(Core(storage, content, settings), "boss")
        refused = texts(await boss.say("/ledger 2026-05-06 进村宣传 河西村 9000"))
        assert "没有记录：数量 9000 超过上限 5000" in refused and "多于河西村的人口 1680 人" in refused
        assert "在命令末尾加「确认」" in refused
        assert "已记入台账：2026-05-06 进村宣传 9000人次（编号 1）" in texts(
            await boss.say("/ledger 2026-05-06 进村宣传 河西村 9000 确认")
        )
        assert "已有同样的一条（编号 1）" in texts(await boss.say("/ledger 2026-05-06 进村宣传 河西村 9000 确认"))
        assert "已删除台账第 1 条" in texts(await boss.say("/ledger 删除 1"))
        assert "已经删除了" in texts(await boss.say("/ledger 删除 1"))
        assert "台账里没有第 7 条" in texts(await boss.say("/ledger 恢复 7"))
        assert await storage.stats.ledger("2026-01-01", "2026-12-31") == []
        records = await storage.ledger.audit(1)
        assert [(r.action, r.actor) for r in records] == [("add", "console:boss"), ("delete", "console:boss")]
        assert records[1].before is not None and records[1].after is not None
        assert (records[1].before["deleted_by"], records[1].after["deleted_by"]) == (None, "console:boss")
    finally:
        await storage.close()
        shutil.rmtree(tmp_path / "charts", ignore_errors=True)


def _login() -> str:
    from bot.commands.common import login_name

    return login_name()
