"""What residents' input can do to the office: no live formulas in exports; a failing log never costs an answer."""

from __future__ import annotations

import csv
import io
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.core.engine import Core
from bot.reporting.export import Sheet, write_csv_zip, write_xlsx
from bot.storage import Storage
from bot.storage.ledger import LedgerEntry

from .conftest import CONTENT, REPO
from .helpers import Chat, texts

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP's list: a spreadsheet reads such text as a formula
HOSTILE_NAMES = [
    '=HYPERLINK("http://x","y")',
    "+1+2",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]
HOSTILE_NOTE = "=cmd|' /C calc'!A0"


async def build_history(db: Path | str, data_dir: Path | None = None) -> None:
    storage = await Storage.open(db, data_dir=data_dir)
    for number, name in enumerate([*HOSTILE_NAMES, "李四"], start=1):
        resident, _ = await storage.residents.get_or_create("telegram", str(number), name, "zh-CN")
        await storage.residents.update(resident.id, place_id="hexi-village")
    await storage.residents.get_or_create("wecom", "-zhangsan", "=1+1", "zh-CN")
    await storage.ledger.add([LedgerEntry("2026-05-06", "@进村宣传", 45, "hexi-village", None, HOSTILE_NOTE)], "t", 0)
    await storage.close()


@pytest.fixture
async def history(database: str, tmp_path: Path) -> dict[str, str]:
    await build_history(database, tmp_path)
    return {**os.environ, "BOT_DB": database, "BOT_DATA_DIR": str(tmp_path), "BOT_CONTENT_DIR": str(CONTENT)}


def export(env: dict[str, str], out: Path) -> Path:
    args = ["export", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(out), "--personal"]
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args, "--topic", "drowning"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


def escaped(text: str) -> str:
    return "'" + text


def test_personal_xlsx_export_holds_no_formula(history: dict[str, str], tmp_path: Path) -> None:
    workbook = load_workbook(export(history, tmp_path / "follow.xlsx"))  # not read-only: data types are kept
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.data_type == "s" and not cell.value.startswith(FORMULA_STARTS), cell.value
    followups = list(workbook["待跟进"].iter_rows(min_row=2, values_only=True))
    # A CR comes back as LF when openpyxl writes it raw (without lxml) and XML reading normalises line ends; with
    # lxml (python-docx brings it) it is escaped and comes back as CR. Either is the file format, not our escaping.
    expected = {escaped(name).replace("\r", "\n") for name in HOSTILE_NAMES} | {"李四", escaped("=1+1")}
    assert {row[1].replace("\r", "\n") for row in followups} == expected
    assert ("企业微信", escaped("-zhangsan")) in {(row[2], row[3]) for row in followups}
    (ledger,) = workbook["普法台账"].iter_rows(min_row=2, values_only=True)
    assert (ledger[3], ledger[6], ledger[10]) == (escaped("@进村宣传"), 45, escaped(HOSTILE_NOTE))
    summary = {row[0]: row[1] for row in workbook["汇总"].iter_rows(values_only=True)}
    assert summary["推送人次"] == 0  # numbers stay numbers
    workbook.close()


def test_personal_csv_export_holds_no_formula(history: dict[str, str], tmp_path: Path) -> None:
    archive = export(history, tmp_path / "follow.csv")
    tables = {}
    with zipfile.ZipFile(archive) as zipped:
        for name in zipped.namelist():
            rows = list(csv.reader(io.StringIO(zipped.read(name).decode("utf-8-sig"), newline="")))
            tables[name] = rows
            for row in rows:
                for field in row:
                    assert not field.startswith(FORMULA_STARTS), (name, field)
    followups = tables["待跟进.csv"][1:]
    assert {row[1] for row in followups} == {escaped(name) for name in HOSTILE_NAMES} | {"李四", escaped("=1+1")}
    assert ["企业微信", escaped("-zhangsan")] in [row[2:] for row in followups]
    (ledger,) = tables["普法台账.csv"][1:]
    assert (ledger[3], ledger[6], ledger[10]) == (escaped("@进村宣传"), "45", escaped(HOSTILE_NOTE))


def test_numbers_stay_numbers_and_only_text_is_escaped(tmp_path: Path) -> None:
    book = [Sheet("s 表", ["-header", "b"], [[-3, -0.5, "-3", "a-b", None, 0, "+86 138"]])]
    workbook = load_workbook(write_xlsx(tmp_path / "t.xlsx", book))
    header, row = workbook.active.iter_rows()
    assert header[0].value == "'-header"
    assert [(cell.value, cell.data_type) for cell in row] == [
        (-3, "n"),
        (-0.5, "n"),
        ("'-3", "s"),
        ("a-b", "s"),
        (None, "n"),
        (0, "n"),
        ("'+86 138", "s"),
    ]
    workbook.close()
    with zipfile.ZipFile(write_csv_zip(tmp_path / "t.zip", book)) as zipped:
        text = zipped.read("s 表.csv").decode("utf-8-sig")
    assert text.splitlines() == ["'-header,b", "-3,-0.5,'-3,a-b,,0,'+86 138"]


async def test_a_failing_unanswered_log_still_gives_the_not_found_answer(
    core: Core, storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(question: str) -> None:
        raise OSError("disk I/O error")

    storage.questions.log_unanswered = broken  # type: ignore[method-assign]
    chat = Chat(core, "resident")
    await chat.say("/start")
    with caplog.at_level(logging.WARNING):
        replies = await chat.say("请问明天下雨吗")
    assert "还没找到相关的普法内容" in texts(replies)
    assert "抱歉" not in texts(replies)
    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelno == logging.WARNING and "disk I/O error" in record.getMessage()
    assert record.exc_info is None  # one line, no traceback


def test_control_characters_in_a_name_do_not_break_the_workbook(tmp_path: Path) -> None:
    """A pasted name with control characters would make openpyxl refuse the whole export."""
    sheets = [Sheet("名单", ["称呼", "人次"], [["张\x00三\x07", 2], ["=李\x1f四", -1]])]
    workbook = load_workbook(write_xlsx(tmp_path / "out.xlsx", sheets))
    rows = list(workbook.worksheets[0].iter_rows(min_row=2, values_only=True))
    assert rows == [("张三", 2), ("'=李四", -1)]
