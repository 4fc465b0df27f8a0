"""Reading the publicity ledger from CSV or Excel, as offices keep it, with errors by row number.

Header row (Chinese or English): 日期/date, 类型/type, 地点/place, 专题/topic, 数量/count, 备注/note.
地点 and 专题 may be ids or names from content/. Any bad row means nothing is imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

from bot.content.model import Catalog
from bot.reporting.activities import ACTIVITY_TYPES
from bot.storage.ledger import LedgerEntry

HEADERS = {
    "日期": "day",
    "date": "day",
    "类型": "type",
    "type": "type",
    "地点": "place",
    "place": "place",
    "专题": "topic",
    "topic": "topic",
    "数量": "count",
    "count": "count",
    "备注": "note",
    "note": "note",
}
REQUIRED = ("day", "type", "count")


class LedgerImportError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def read_rows(path: Path) -> list[list[Any]]:
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
        finally:
            workbook.close()
    if path.suffix.lower() == ".csv":
        text = path.read_bytes().decode("utf-8-sig", errors="strict")  # Excel saves UTF-8 CSV with a BOM
        return [row for row in csv.reader(io.StringIO(text))]
    raise LedgerImportError([f"{path.name}: use a .csv or .xlsx file"])


def parse_entry(catalog: Catalog, values: dict[str, Any]) -> tuple[LedgerEntry | None, list[str]]:
    """One ledger row from named values; the problems if it is not valid."""
    problems = []
    day = _day(values.get("day"))
    if day is None:
        problems.append(f"日期 {values.get('day')!r} is not a date (YYYY-MM-DD)")
    kind = str(values.get("type") or "").strip()
    if kind not in ACTIVITY_TYPES:
        problems.append(f"类型 {kind!r} is not one of {'、'.join(ACTIVITY_TYPES)}")
    place_id = _lookup(
        values.get("place"), {p.id: p.id for p in catalog.places} | {p.name: p.id for p in catalog.places}
    )
    if values.get("place") not in (None, "") and place_id is None:
        problems.append(f"地点 {values.get('place')!r} is not a place in places.yaml")
    topic_id = _lookup(
        values.get("topic"), {t.id: t.id for t in catalog.topics} | {t.title: t.id for t in catalog.topics}
    )
    if values.get("topic") not in (None, "") and topic_id is None:
        problems.append(f"专题 {values.get('topic')!r} is not a topic")
    count = _count(values.get("count"))
    if count is None:
        problems.append(f"数量 {values.get('count')!r} is not a whole number ≥ 0")
    if problems or day is None or count is None:
        return None, problems
    note = str(values.get("note") or "").strip()[:200]
    return LedgerEntry(day.isoformat(), kind, count, place_id, topic_id, note), []


def parse_file(path: Path, catalog: Catalog) -> list[LedgerEntry]:
    rows = [row for row in read_rows(path) if any(cell not in (None, "") for cell in row)]
    if not rows:
        raise LedgerImportError([f"{path.name}: the file is empty"])
    columns = [HEADERS.get(str(cell or "").strip().lower(), HEADERS.get(str(cell or "").strip())) for cell in rows[0]]
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise LedgerImportError([f"row 1: missing column(s) {', '.join(missing)} (日期, 类型, 数量 are required)"])
    entries, problems = [], []
    for number, row in enumerate(rows[1:], start=2):
        values = {column: cell for column, cell in zip(columns, row, strict=False) if column}
        entry, row_problems = parse_entry(catalog, values)
        problems += [f"row {number}: {problem}" for problem in row_problems]
        if entry is not None:
            entries.append(entry)
    if problems:
        raise LedgerImportError(problems)
    return entries


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip().replace("/", "-").replace(".", "-")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        try:
            return dt.datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            return None


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and float(value).is_integer() and value >= 0:
        return int(value)
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _lookup(value: Any, known: dict[str, str]) -> str | None:
    text = str(value or "").strip()
    return known.get(text) if text else None
