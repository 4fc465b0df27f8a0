"""The publicity ledger (普法台账) as offices keep it: reading their files, checking rows, and the template.

Files: .xlsx, or .csv in UTF-8 (with or without BOM), GBK/GB18030 or UTF-16, as Excel writes them. Title and
blank rows above the header are skipped: the header is the first row naming at least two known columns (COLUMNS,
Chinese or English). Dates: 2026-08-01, 2026/8/1, 2026.8.1, 2026年8月1日, or a date cell. 地点 is a place of
places.yaml (id or name) or free text; 主题 a topic (id, title, or a text naming exactly one) or free text, kept as
the activity's title. Totals rows (合计) and the template's example row are passed over.

Two kinds of problem: a row that cannot be read (no date, an unknown type …) is refused; a row that reads but
looks wrong (`implausible`: a future date, a count above LEDGER_MAX_COUNT, an audience larger than the place) is
refused unless the office confirms it (--force). Every problem is a key under `ledger.problem` in the message
catalog, so the chat and the command line word it the same way.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.content.model import Catalog, Place
from bot.i18n import DEFAULT_LANGUAGE, Translator
from bot.reporting.activities import ACTIVITY_TYPES, canonical_type, is_audience, unit_of
from bot.storage.ledger import LedgerEntry

# Field -> the column names offices use for it; the first is the template's.
COLUMNS: dict[str, tuple[str, ...]] = {
    "day": ("日期", "活动日期", "开展日期", "宣传日期", "时间", "活动时间", "开展时间", "date", "day"),
    "type": ("类型", "活动类型", "活动形式", "宣传形式", "形式", "type", "kind"),
    "place": ("地点", "活动地点", "宣传地点", "村", "村社区", "村居", "社区", "place", "location"),
    "topic": ("主题", "专题", "宣传主题", "活动主题", "topic", "theme"),
    "count": (
        "数量",
        "人数",
        "受众人数",
        "参加人数",
        "参与人数",
        "受教育人数",
        "覆盖人数",
        "受众",
        "人次",
        "count",
        "audience",
    ),
    "title": ("活动名称", "名称", "活动内容", "内容", "标题", "title", "activity"),
    "speaker": ("主讲人", "主讲", "宣讲人", "授课人", "speaker"),
    "organiser": ("组织单位", "主办单位", "承办单位", "组织者", "单位", "organiser", "organizer"),
    "note": ("备注", "说明", "note", "notes", "remark", "remarks"),
}
REQUIRED = ("day", "type", "count")
LIMITS = {"place": 60, "title": 100, "speaker": 40, "organiser": 60, "note": 200}  # characters
EARLIEST = dt.date(2000, 1, 1)
HEADER_SEARCH = 30  # rows from the top where the header may be
_ALIASES = {alias: name for name, aliases in COLUMNS.items() for alias in aliases}
_TOTALS = {"合计", "总计", "小计", "total"}
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_COUNT = re.compile(r"(\d+)(?:\.0*)?\s*(?:人次|人|份|条|次|场|张|册|幅)?")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


@dataclass(frozen=True)
class Problem:
    """Something wrong with a row or a file, before it is put into words: a key under `ledger.problem`."""

    key: str
    values: tuple[tuple[str, Any], ...] = ()
    forceable: bool = False  # implausible, not unreadable: --force (or 「确认」 in chat) accepts it

    def render(self, language: str = DEFAULT_LANGUAGE) -> str:
        return Translator(language)(f"ledger.problem.{self.key}", **dict(self.values))


def problem(key: str, /, forceable: bool = False, **values: Any) -> Problem:
    return Problem(key, tuple(values.items()), forceable)


def render(problems: Iterable[Problem], language: str = DEFAULT_LANGUAGE) -> str:
    return Translator(language)("ledger.separator").join(p.render(language) for p in problems)


class LedgerImportError(ValueError):
    """The file as a whole cannot be read (format, encoding, no header)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(render(problems))
        self.problems = problems


# -- one row ---------------------------------------------------------------------------------------


def parse_entry(catalog: Catalog, values: Mapping[str, Any]) -> tuple[LedgerEntry | None, list[Problem]]:
    """One ledger row from its named values (keys of COLUMNS); the problems if it cannot be read."""
    problems = []
    raw_day, raw_type, raw_count = values.get("day"), _text(values.get("type")), values.get("count")
    day = parse_day(raw_day)
    if day is None:
        problems.append(problem("bad_date", value=_text(raw_day)) if _text(raw_day) else problem("no_date"))
    kind = canonical_type(raw_type) if raw_type else None
    if kind is None:
        types = "、".join(ACTIVITY_TYPES)
        problems.append(
            problem("bad_type", value=raw_type, types=types) if raw_type else problem("no_type", types=types)
        )
    count = parse_count(raw_count)
    if count is None:
        problems.append(problem("bad_count", value=_text(raw_count)) if _text(raw_count) else problem("no_count"))
    texts = {name: _text(values.get(name)) for name in LIMITS}
    texts["topic"] = _text(values.get("topic"))
    for name, limit in LIMITS.items():
        if len(texts[name]) > limit:
            problems.append(problem("too_long", field=COLUMNS[name][0], limit=limit))
    if problems or day is None or kind is None or count is None:
        return None, problems
    place_id = _place_id(catalog, texts["place"])
    topic_id, title = read_topic(catalog, texts["topic"], texts["title"])
    entry = LedgerEntry(
        day=day.isoformat(),
        type=kind,
        count=count,
        place_id=place_id,
        topic_id=topic_id,
        note=texts["note"],
        title=title,
        location="" if place_id else texts["place"],
        speaker=texts["speaker"],
        organiser=texts["organiser"],
    )
    return entry, []


def values_of(entry: LedgerEntry) -> dict[str, Any]:
    """The named values `parse_entry` reads back into `entry` (to apply an edit to a row)."""
    return {
        "day": entry.day,
        "type": entry.type,
        "count": entry.count,
        "place": entry.place_id or entry.location,
        "topic": entry.topic_id or "",
        "title": entry.title,
        "speaker": entry.speaker,
        "organiser": entry.organiser,
        "note": entry.note,
    }


def implausible(entry: LedgerEntry, catalog: Catalog, today: dt.date, max_count: int) -> list[Problem]:
    """What makes a readable row unlikely: each one refused unless the office confirms it."""
    problems = []
    day = dt.date.fromisoformat(entry.day)
    if day < EARLIEST:
        problems.append(problem("too_old", forceable=True, day=entry.day))
    if day > today:
        problems.append(problem("future", forceable=True, day=entry.day))
    if entry.count > max_count:
        problems.append(problem("over_max", forceable=True, count=entry.count, limit=max_count))
    place = catalog.place(entry.place_id) if entry.place_id else None
    if place is not None and is_audience(entry.type):
        problems += _over_place(entry.count, place)
    return problems


def _over_place(count: int, place: Place) -> list[Problem]:
    if place.kind == "school" and place.enrolment is not None and count > place.enrolment:
        return [problem("over_enrolment", forceable=True, count=count, place=place.name, enrolment=place.enrolment)]
    if place.kind != "school" and place.population is not None and count > place.population:
        return [problem("over_population", forceable=True, count=count, place=place.name, population=place.population)]
    return []


def describe(entry: LedgerEntry, catalog: Catalog) -> str:
    """「2026-08-01 进村宣传 河西村 宪法 80人次」: a row in one line, with names instead of ids."""
    parts = [entry.day, entry.type, place_label(entry, catalog), entry.title or topic_label(entry, catalog)]
    return " ".join(part for part in [*parts, f"{entry.count}{unit_of(entry.type)}"] if part)


def place_label(entry: LedgerEntry, catalog: Catalog) -> str:
    place = catalog.place(entry.place_id) if entry.place_id else None
    return place.name if place else entry.place_id or entry.location


def topic_label(entry: LedgerEntry, catalog: Catalog) -> str:
    topic = catalog.topic(entry.topic_id) if entry.topic_id else None
    return topic.title if topic else entry.topic_id or ""


def parse_day(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # An Excel date cell without a date format reads as its serial number (days since 1899-12-30).
        return _EXCEL_EPOCH + dt.timedelta(days=int(value)) if 20_000 < value < 80_000 else None
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
    if match is None:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def parse_count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() and value >= 0 else None
    text = unicodedata.normalize("NFKC", str(value or "")).strip().replace(",", "")
    match = _COUNT.fullmatch(text)
    return int(match.group(1)) if match else None


def _text(value: Any) -> str:
    """A cell as one line of text: control characters dropped, runs of spaces and line breaks made one space."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in str(value))
    return " ".join(text.split())


def _key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


def _place_id(catalog: Catalog, text: str) -> str | None:
    if not text:
        return None
    known = {_key(p.id): p.id for p in catalog.places} | {_key(p.name): p.id for p in catalog.places}
    return known.get(_key(text))


def read_topic(catalog: Catalog, text: str, title: str) -> tuple[str | None, str]:
    """(topic id, title): a topic named by id or title, or by a text that contains exactly one topic's title
    (「宪法宣传周」 is 宪法); text that names none is kept as the title."""
    if not text:
        return None, title
    exact = {_key(t.id): t.id for t in catalog.topics} | {_key(t.title): t.id for t in catalog.topics}
    if _key(text) in exact:
        return exact[_key(text)], title
    named = [t.id for t in catalog.topics if _key(t.title) in _key(text)]
    topic_id = named[0] if len(named) == 1 else None
    return topic_id, f"{text}：{title}" if title else text


# -- files -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedRow:
    number: int  # the row's number in the file, as Excel shows it
    entry: LedgerEntry | None
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class PlannedRow:
    """What an import does with one row: "import", "duplicate" (skipped) or "refused"."""

    number: int
    status: str
    entry: LedgerEntry | None
    problems: tuple[Problem, ...] = ()


def read_file(path: Path, catalog: Catalog) -> list[ParsedRow]:
    """The ledger rows of a .csv or .xlsx file; LedgerImportError when the file as a whole cannot be read."""
    sheets = _sheets(path)
    for rows in sheets:
        found = _header(rows)
        if found is None:
            continue
        number, columns = found
        missing = [COLUMNS[name][0] for name in REQUIRED if name not in columns]
        if missing:
            raise LedgerImportError([problem("missing_columns", row=number, columns="、".join(missing))])
        return list(_entries(catalog, rows[number:], columns, number + 1))
    empty = all(not any(_text(cell) for cell in row) for rows in sheets for row in rows)
    raise LedgerImportError([problem("empty" if empty else "no_header")])


def plan_import(
    rows: Sequence[ParsedRow],
    existing: Mapping[str, int],
    catalog: Catalog,
    today: dt.date,
    max_count: int,
    force: bool = False,
) -> list[PlannedRow]:
    """Decide each row: refused (unreadable, or implausible without `force`), skipped as a duplicate of a ledger
    row (`existing`: fingerprint -> id) or of an earlier row of the file, or imported."""
    planned, seen = [], {}
    for row in rows:
        if row.entry is None:
            planned.append(PlannedRow(row.number, "refused", None, row.problems))
            continue
        doubts = tuple(implausible(row.entry, catalog, today, max_count))
        key = row.entry.fingerprint
        if doubts and not force:
            planned.append(PlannedRow(row.number, "refused", row.entry, doubts))
        elif key in existing:
            planned.append(PlannedRow(row.number, "duplicate", row.entry, (problem("duplicate", id=existing[key]),)))
        elif key in seen:
            planned.append(PlannedRow(row.number, "duplicate", row.entry, (problem("duplicate_row", row=seen[key]),)))
        else:
            seen[key] = row.number
            planned.append(PlannedRow(row.number, "import", row.entry))
    return planned


def _entries(catalog: Catalog, rows: list[list[Any]], columns: dict[str, int], first: int) -> Iterable[ParsedRow]:
    example = Translator(DEFAULT_LANGUAGE)("ledger.template.example_note")
    for number, row in enumerate(rows, start=first):
        values = {name: row[index] if index < len(row) else None for name, index in columns.items()}
        cells = [_text(cell) for cell in row]
        if not any(cells) or _text(values.get("note")) == example or _key(next(filter(None, cells))) in _TOTALS:
            continue  # blank, the template's example, or a totals row
        entry, problems = parse_entry(catalog, values)
        yield ParsedRow(number, entry, tuple(problems))


def _header(rows: list[list[Any]]) -> tuple[int, dict[str, int]] | None:
    """(row number, field -> column index) of the first row naming two known columns."""
    for number, row in enumerate(rows[:HEADER_SEARCH], start=1):
        columns: dict[str, int] = {}
        for index, cell in enumerate(row):
            name = _column(_text(cell))
            if name is not None and name not in columns:
                columns[name] = index
        if len(columns) >= 2:
            return number, columns
    return None


def _column(header: str) -> str | None:
    """The field a header names: 「活动日期」, 「*日期」, 「人数（人次）」, 「村（社区）」, 「Date」."""
    key = re.sub(r"\(.*?\)|[*:]", "", _key(header))
    return _ALIASES.get(key) or next(filter(None, (_ALIASES.get(part) for part in key.split("/"))), None)


def _sheets(path: Path) -> list[list[list[Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return [_csv_rows(path.read_bytes())]
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_rows(path)
    raise LedgerImportError([problem("old_excel" if suffix in (".xls", ".et", ".wps") else "unsupported")])


def _csv_rows(data: bytes) -> list[list[Any]]:
    text = _decode(data)
    head = text[:4000]
    delimiter = "\t" if head.count("\t") > head.count(",") else ","
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _decode(data: bytes) -> str:
    """Excel writes UTF-8 with a BOM (「CSV UTF-8」), GBK on Chinese Windows (「CSV」), or UTF-16 (「Unicode 文本」)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LedgerImportError([problem("bad_encoding")])


def _xlsx_rows(path: Path) -> list[list[list[Any]]]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, data_only=True)  # not read-only: row numbers stay exact
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LedgerImportError([problem("unreadable", reason=type(exc).__name__)]) from None
    try:
        return [
            [list(row) for row in sheet.iter_rows(values_only=True)]
            for sheet in workbook.worksheets
            if sheet.sheet_state == "visible"
        ]
    finally:
        workbook.close()


# -- the template ----------------------------------------------------------------------------------

TEMPLATE_COLUMNS = ("day", "type", "place", "topic", "count", "title", "speaker", "organiser", "note")
TEMPLATE_ROWS = 1000  # rows with drop-down lists below the header


def write_template(path: Path, catalog: Catalog, town: str, today: dt.date, max_count: int) -> None:
    """An .xlsx the office fills in: a title row, the header, an example row (passed over on import), and
    drop-down lists of the activity types and places (free text is still allowed for 地点)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    t = Translator(DEFAULT_LANGUAGE)
    book = Workbook()
    sheet = book.active
    sheet.title = t("ledger.template.sheet")
    options = book.create_sheet(t("ledger.template.options"))
    options.sheet_state = "hidden"
    options.append([t("ledger.column.type"), t("ledger.column.place")])
    places = [p.name for p in catalog.places]
    for index in range(max(len(ACTIVITY_TYPES), len(places))):
        kinds = list(ACTIVITY_TYPES)
        options.append([kinds[index] if index < len(kinds) else None, places[index] if index < len(places) else None])

    sheet.append([t("ledger.template.title", town=town)])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(TEMPLATE_COLUMNS))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append([COLUMNS[name][0] for name in TEMPLATE_COLUMNS])
    for index, name in enumerate(TEMPLATE_COLUMNS, start=1):
        cell = sheet.cell(row=2, column=index)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.comment = Comment(t(f"ledger.template.hint.{name}", limit=max_count), "pufa-bot")
        sheet.column_dimensions[cell.column_letter].width = 24 if name in ("title", "note") else 14
    village = next((p for p in catalog.places if p.kind != "school"), None)
    topic = catalog.topics[0].title if catalog.topics else ""
    sheet.append(
        [
            today,
            next(iter(ACTIVITY_TYPES)),
            village.name if village else "",
            topic,
            60,
            t("ledger.template.example_title", topic=topic),
            t("ledger.template.example_speaker"),
            t("ledger.template.example_organiser", town=town),
            t("ledger.template.example_note"),
        ]
    )
    for cell in sheet[3]:
        cell.font = Font(italic=True, color="808080")
    last = 2 + TEMPLATE_ROWS
    for row in range(3, last + 1):
        sheet.cell(row=row, column=1).number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A3"

    def listed(column: str, count: int) -> str:
        return f"='{options.title}'!${column}$2:${column}${count + 1}"

    kinds = DataValidation(type="list", formula1=listed("A", len(ACTIVITY_TYPES)), allow_blank=True)
    kinds.error, kinds.errorTitle = t("ledger.template.type_error"), t("ledger.column.type")
    kinds.showErrorMessage = True
    where = DataValidation(type="list", formula1=listed("B", max(1, len(places))), allow_blank=True)
    where.prompt, where.promptTitle = t("ledger.template.place_prompt"), t("ledger.column.place")
    where.showInputMessage = True
    where.showErrorMessage = False  # a place outside places.yaml is written as free text
    days = DataValidation(type="date", operator="greaterThanOrEqual", formula1="DATE(2000,1,1)", allow_blank=True)
    days.error, days.errorTitle = t("ledger.template.date_error"), t("ledger.column.day")
    days.showErrorMessage = True
    counts = DataValidation(type="whole", operator="between", formula1="0", formula2=str(max_count), allow_blank=True)
    counts.error, counts.errorTitle = t("ledger.template.count_error", limit=max_count), t("ledger.column.count")
    counts.showErrorMessage = True
    for validation, column in ((days, "A"), (kinds, "B"), (where, "C"), (counts, "E")):
        validation.add(f"{column}3:{column}{last}")
        sheet.add_data_validation(validation)
    book.save(path)
