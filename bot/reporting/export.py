"""The workbook the office hands in: an .xlsx (or a .zip of CSVs) of the period's statistics and ledger.

Report-ready: a cover block on the first sheet (「青石镇2026年普法宣传工作统计表」, 填报单位, 统计期间, 填报日期),
Chinese headers and names only, rates as numbers with a % format, a 合计 row equal to the sum of the rows above it,
frozen headers, widths fitted to Chinese text, A4 landscape one page wide.

Aggregates only. Personal data (display names, ids, phone numbers, a resident's words) appears only with
`personal=True`, and then only the minimal fields 网格员 and teachers need to follow residents up.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.model import Catalog
from bot.reporting.activities import unit_of
from bot.reporting.figures import (
    NO_REACH,
    PLACE_KINDS,
    UNSET_PLACE,
    Statistics,
    by_value,
    day_text,
    display_width,
    key_name,
    months_between,
    period_text,
    share,
)
from bot.reporting.paragraph import campaign_names, is_county
from bot.storage.ledger import LedgerEntry
from bot.storage.requests import HelpRequest

# A text cell starting with one of these is read as a formula by Excel, LibreOffice and WPS (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # as openpyxl refuses them

TOTAL = "合计"
WIDEST = 50  # characters' width of a column before its text wraps
PERCENT_FORMAT, NUMBER_FORMAT = "0.0%", "#,##0"


class Rate(float):
    """A share (0.333): written as a number with a % format in the .xlsx, as 33.3% in a CSV."""


def rate(value: float | None) -> Rate | None:
    return None if value is None else Rate(value)


@dataclass(frozen=True)
class Totals:
    """The 合计 row: `sums` columns added up; each of `rates` (column, numerator, denominator) recomputed from the
    sums, over the rows that have a denominator (a village without a population figure adds nothing)."""

    sums: tuple[int, ...]
    rates: tuple[tuple[int, int, int], ...] = ()

    def row(self, rows: Sequence[Sequence[Any]], width: int) -> list[Any]:
        total: list[Any] = [TOTAL] + [None] * (width - 1)
        for column in self.sums:
            total[column] = sum(row[column] or 0 for row in rows)
        for column, numerator, denominator in self.rates:
            counted = [row for row in rows if row[denominator]]
            whole = sum(row[denominator] for row in counted)
            total[column] = rate(share(sum(row[numerator] or 0 for row in counted), whole))
        return total


@dataclass(frozen=True)
class Sheet:
    name: str  # Chinese, at most 31 characters (Excel's limit)
    header: list[str]
    rows: list[list[Any]]
    totals: Totals | None = None
    cover: tuple[str, ...] = ()  # lines above the table: the title first
    notes: tuple[str, ...] = ()  # lines under it: definitions
    frozen_columns: int = 0  # row labels kept in view when a wide table scrolls

    def body(self) -> list[list[Any]]:
        """The rows with the 合计 row, if any."""
        if self.totals is None or not self.rows:
            return self.rows
        return [*self.rows, self.totals.row(self.rows, len(self.header))]


def safe_cell(value: Any) -> Any:
    """`value` as written to a sheet: text that could start a formula gets a leading `'`; numbers stay numbers.

    Names come from residents (a Telegram first name `=HYPERLINK(...)`) and notes from imported ledgers, so every
    text cell of every sheet goes through here, in the .xlsx and the CSVs alike.
    """
    if not isinstance(value, str):
        return value
    # Control characters (a pasted name) are not allowed in the sheet's XML: openpyxl would refuse the file.
    value = _ILLEGAL_IN_XML.sub("", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _safe_row(row: Sequence[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


# -- the sheets -------------------------------------------------------------------------------------


def sheets(
    statistics: Statistics,
    catalog: Catalog,
    ledger: list[LedgerEntry],
    followups: list[list[Any]] | None = None,
    requests: list[HelpRequest] | None = None,
    personal: bool = False,
    today: dt.date | None = None,
) -> list[Sheet]:
    """The export's sheets. Personal data (names, accounts, phone numbers, a resident's own words) only with
    `personal`: the follow-up sheet and the requests' phone and words. `today` is the 填报日期."""
    today = today or dt.datetime.now(statistics.period.zone).date()
    book = [
        Sheet(
            "汇总",
            ["项目", "数值", "单位", "说明"],
            summary_rows(statistics, catalog),
            cover=cover(statistics, catalog, today),
        ),
        *([_townships(statistics, catalog)] if statistics.by_township else []),
        _topics(statistics, catalog),
        _places(statistics, catalog),
        _topic_by_place(statistics, catalog),
        _months(statistics),
        _channels(statistics, catalog),
        _questions(statistics, catalog),
        _broadcasts(statistics),
        _ledger(ledger, catalog),
    ]
    if requests is not None:
        book.append(_requests(requests, catalog, statistics, personal))
    if followups is not None:
        book.append(Sheet("待跟进", ["地点", "称呼", "渠道", "渠道账号"], followups))
    return book


def title(statistics: Statistics, catalog: Catalog) -> str:
    """「青石镇2026年普法宣传工作统计表」: the town, or the township whose figures these are."""
    first, last = statistics.period.first.year, statistics.period.last.year
    years = f"{first}年" if first == last else f"{first}—{last}年"
    return f"{scope_name(statistics, catalog)}{years}普法宣传工作统计表"


def scope_name(statistics: Statistics, catalog: Catalog) -> str:
    """Whose figures: the township's name for one township's, else the name in places.yaml (`town:`)."""
    return statistics.township.name if statistics.township is not None else catalog.town


def _whole(statistics: Statistics, catalog: Catalog) -> str:
    """全县 for a county's whole figures, 全镇 otherwise (the notes' 「全镇去重覆盖…人」)."""
    return "全县" if is_county(statistics, catalog) else "全镇"


def reporting_unit(catalog: Catalog) -> str:
    """填报单位: the judicial office of content/office.yaml, else the town."""
    return catalog.office.office.name if catalog.office else catalog.town


def cover(statistics: Statistics, catalog: Catalog, today: dt.date) -> tuple[str, ...]:
    return (
        title(statistics, catalog),
        f"填报单位：{reporting_unit(catalog)}",
        f"统计期间：{period_text(statistics.period)}",
        f"填报日期：{day_text(today)}",
    )


def summary_rows(statistics: Statistics, catalog: Catalog) -> list[list[Any]]:
    """项目, 数值, 单位, 说明: the period at a glance (the first sheet, and the table of the Word report)."""
    reach, quiz, b = statistics.reach, statistics.quiz, statistics.broadcasts
    schools = statistics.schools_with_enrolment
    enrolment = sum(row.enrolment or 0 for row in schools)
    window = f"，微信客服窗口外未送达{b.out_of_window}人" if b.out_of_window else ""
    rows: list[list[Any]] = [
        ["推送人次", reach.deliveries, "人次", "送达居民的普法内容条数，控制台试用不计"],
        ["覆盖人数", reach.reached, "人", "至少收到一条内容的居民，按人去重"],
        ["新增居民", statistics.new_residents, "人", "期间内第一次使用的居民"],
        ["答题人次", quiz.answers, "人次", "每答一道题计一次"],
        ["答对人次", quiz.correct, "人次", ""],
        ["平均正确率", rate(quiz.accuracy), "", "答对人次 ÷ 答题人次"],
        ["答题人数", quiz.participants, "人", "至少答过一道题的居民"],
        ["答题完成率", rate(quiz.completion), "", "期间内开始的测验中答完的比例"],
        ["群发次数", b.count, "次", f"发送对象{b.targeted}人"],
        ["群发送达", b.delivered, "人", f"拉黑未送达{b.blocked}人，发送失败{b.failed}人{window}"],
        ["节点专题推送", statistics.campaign_pushes, "次", "、".join(campaign_names(statistics, catalog))],
        ["覆盖在校学生", sum(row.reached for row in schools), "人", f"{len(schools)}所填了在校生人数的学校"],
        [
            "在校生受教育面",
            rate(statistics.school_education_rate),
            "",
            f"覆盖在校学生 ÷ 在校生{enrolment}人；未填在校生人数的学校不计",
        ],
        ["线下普法活动", statistics.offline_activities, "场次", "普法台账"],
    ]
    rows += [[f"其中：{a.kind}", a.count, a.unit, f"{a.activities}场次"] for a in statistics.offline]
    rows.append(["法律服务诉求", statistics.requests.made, "件", f"已办结{statistics.requests.done}件"])
    return rows


def _topics(statistics: Statistics, catalog: Catalog) -> Sheet:
    total = statistics.reach.deliveries
    rows = [
        [key_name(catalog, "topic", key), v.deliveries, v.reached, rate(share(v.deliveries, total))]
        for key, v in by_value(statistics.by["topic"])
    ]
    return Sheet(
        "分专题",
        ["专题", "推送人次", "覆盖人数", "人次占比"],
        rows,
        Totals(sums=(1,)),
        notes=(
            f"覆盖人数不合计：同一居民可收到几个专题的内容，{_whole(statistics, catalog)}去重覆盖"
            f"{statistics.reach.reached}人。",
            "「其他」是不属于任何专题的群发。",
        ),
    )


def _places(statistics: Statistics, catalog: Catalog) -> Sheet:
    """Every place of places.yaml, zeros too, in its order; 未设置 last."""
    by_place = statistics.by["place"]
    rows: list[list[Any]] = []
    for row in statistics.coverage:
        deliveries = by_place.get(row.place, NO_REACH).deliveries
        rows.append(
            [
                row.name,
                PLACE_KINDS[row.kind],
                deliveries,
                row.reached,
                None if row.is_school else row.population,
                rate(row.coverage_rate),
                row.enrolment if row.is_school else None,
                rate(row.education_rate),
                row.students_completed_quiz if row.is_school else None,
            ]
        )
    known = {row.place for row in statistics.coverage}
    for key, v in by_value({k: v for k, v in by_place.items() if k not in known}):
        rows.append([key_name(catalog, "place", key), "", v.deliveries, v.reached, None, None, None, None, None])
    return Sheet(
        "分地点",
        ["地点", "类型", "推送人次", "覆盖人数", "常住人口", "覆盖率", "在校生", "受教育面", "完成答题学生"],
        rows,
        Totals(sums=(2, 3, 4, 6, 8), rates=((5, 3, 4), (7, 3, 6))),
        notes=(
            "覆盖率 = 覆盖人数 ÷ 常住人口；受教育面 = 覆盖学生 ÷ 在校生（人数见 places.yaml，未填的不计）。",
            "覆盖人数按推送时居民所在地点统计；合计为各地点相加，迁居的居民在两地各计一次，"
            f"{_whole(statistics, catalog)}去重覆盖{statistics.reach.reached}人。",
        ),
    )


def _townships(statistics: Statistics, catalog: Catalog) -> Sheet:
    """各乡镇: a county's townships in places.yaml's order, as 分地点 shows places; what belongs to no township
    (residents without a place, ledger rows with a free-text 地点) on a last row, so 合计 is the county's."""
    rows: list[list[Any]] = []
    for t in statistics.by_township:
        rows.append(
            [
                t.name,
                t.deliveries,
                t.reached,
                t.covered,
                t.population,
                rate(t.coverage_rate),
                t.pupils,
                t.enrolment,
                rate(t.education_rate),
                t.quiz_answers,
                t.requests,
                t.activities,
            ]
        )
    townships = statistics.by_township
    outside = [v for key, v in statistics.by["place"].items() if catalog.township_of(key) is None]
    rest = [
        sum(v.deliveries for v in outside),
        sum(v.reached for v in outside),
        statistics.quiz.answers - sum(t.quiz_answers for t in townships),
        statistics.requests.made - sum(t.requests for t in townships),
        statistics.offline_activities - sum(t.activities for t in townships),
    ]
    if any(rest):
        deliveries, reached, answers, requests, activities = rest
        rows.append(
            [UNSET_PLACE, deliveries, reached, None, None, None, None, None, None, answers, requests, activities]
        )
    return Sheet(
        "各乡镇",
        [
            *("乡镇", "推送人次", "覆盖人数", "覆盖群众（村、社区）", "常住人口", "覆盖率"),
            *("覆盖学生", "在校生", "受教育面", "答题人次", "法律服务诉求", "线下普法活动"),
        ],
        rows,
        Totals(sums=(1, 2, 3, 4, 6, 7, 9, 10, 11), rates=((5, 3, 4), (8, 6, 7))),
        notes=(
            "覆盖率 = 覆盖群众 ÷ 常住人口，只计填了人口的村（社区）；"
            "受教育面 = 覆盖学生 ÷ 在校生，只计填了在校生人数的学校。",
            "覆盖人数按推送时居民所在地点所属的乡镇统计；合计为各乡镇相加，迁居的居民在两个乡镇各计一次，"
            f"全县去重覆盖{statistics.reach.reached}人。",
            f"「{UNSET_PLACE}」：没有设置所在村（社区）、学校的居民及其诉求，地点不是 places.yaml 中地点的台账活动；"
            "它们不属于任何乡镇，只计入全县。",
        ),
    )


def _topic_by_place(statistics: Statistics, catalog: Catalog) -> Sheet:
    """线上答题人次 per topic (rows) and place (columns), with 合计 both ways."""
    cells: dict[tuple[str, str], int] = {}
    for question in statistics.questions:
        for place, figures in question.by_place.items():
            key = (question.topic or "", place)
            cells[key] = cells.get(key, 0) + figures.answers
    topics = [t.id for t in catalog.topics] + sorted({t for t, _ in cells} - {t.id for t in catalog.topics})
    shown = [row.place for row in statistics.coverage]  # every place of the content, or of the township
    places = shown + sorted({p for _, p in cells} - set(shown))
    rows = []
    for topic in topics:
        counts = [cells.get((topic, place), 0) for place in places]
        name = key_name(catalog, "topic", topic) if topic else "（已删除的题目）"
        rows.append([name, *counts, sum(counts)])
    header = ["专题（答题人次）", *(key_name(catalog, "place", place) for place in places), TOTAL]
    return Sheet(
        "专题与地点",
        header,
        rows,
        Totals(sums=tuple(range(1, len(header)))),
        notes=("线上答题人次：每答一道题计一次，按答题时居民所在地点统计。",),
        frozen_columns=1,
    )


def _months(statistics: Statistics) -> Sheet:
    values = statistics.by["month"]
    months = months_between(statistics.period.first, statistics.period.last)
    rows = []
    for month in months:
        v = values.get(month, NO_REACH)
        rows.append([f"{month[:4]}年{int(month[5:])}月", v.deliveries, v.reached])
    return Sheet(
        "分月份",
        ["月份", "推送人次", "覆盖人数"],
        rows,
        Totals(sums=(1,)),
        notes=(f"覆盖人数不合计：同一居民可在几个月都收到内容，全期去重覆盖{statistics.reach.reached}人。",),
    )


def _channels(statistics: Statistics, catalog: Catalog) -> Sheet:
    rows = [[key_name(catalog, "channel", k), v.deliveries, v.reached] for k, v in by_value(statistics.by["channel"])]
    return Sheet(
        "分渠道",
        ["渠道", "推送人次", "覆盖人数"],
        rows,
        Totals(sums=(1, 2)),
        notes=("每个渠道的账号各算一人。",),
    )


def _questions(statistics: Statistics, catalog: Catalog) -> Sheet:
    place_names = {p.id: p.name for p in catalog.places}
    rows = []
    for q in statistics.questions:
        worst = sorted(q.by_place.items(), key=lambda item: (item[1].accuracy or 0, item[0]))
        places = "；".join(f"{place_names.get(p, '未设置')} {round(100 * (v.accuracy or 0))}%" for p, v in worst)
        topic = key_name(catalog, "topic", q.topic) if q.topic is not None else "（已删除）"
        rows.append([q.id, topic, q.question, q.answers, q.correct, rate(q.accuracy), places])
    return Sheet(
        "答题情况",
        ["题号", "专题", "题干", "答题人次", "答对人次", "正确率", "各地正确率（低→高）"],
        rows,
        Totals(sums=(3, 4), rates=((5, 4, 3),)),
        notes=("正确率最低的题排在前面：下一步宣传的重点。",),
    )


def _broadcasts(statistics: Statistics) -> Sheet:
    b = statistics.broadcasts
    rows: list[list[Any]] = [
        ["群发次数", b.count, "次"],
        ["发送对象", b.targeted, "人"],
        ["已送达", b.delivered, "人"],
        ["拉黑未送达", b.blocked, "人"],
        ["发送失败", b.failed, "人"],
        ["已取消", b.cancelled, "人"],
        ["发送中", b.pending, "人"],
        ["微信客服窗口外未送达", b.out_of_window, "人"],
        ["节点专题推送", statistics.campaign_pushes, "次"],
    ]
    return Sheet("群发情况", ["项目", "数值", "单位"], rows)


LEDGER_HEADER = [
    *("编号", "日期", "活动名称", "类型", "地点", "专题", "数量", "单位"),
    *("主讲人", "组织单位", "备注", "佐证材料"),  # the fields offices keep beside the figures
]


def _ledger(ledger: list[LedgerEntry], catalog: Catalog) -> Sheet:
    """The ledger rows of the period (deleted ones are not in `ledger`); 编号 is what `ledger edit` takes."""
    rows = []
    for e in ledger:
        place = catalog.place(e.place_id or "")
        where = place.name if place else e.location or e.place_id or ""
        topic = key_name(catalog, "topic", e.topic_id) if e.topic_id else ""
        kept = (e.speaker, e.organiser, e.note, "；".join(e.evidence))
        rows.append([e.id, e.day, e.title, e.type, where, topic, e.count, unit_of(e.type), *kept])
    return Sheet("普法台账", LEDGER_HEADER, rows)


def _requests(requests: list[HelpRequest], catalog: Catalog, statistics: Statistics, personal: bool) -> Sheet:
    kinds = {k.id: k.name for k in catalog.office.disputes} if catalog.office else {}
    zone = statistics.period.zone
    header = ["编号", "日期", "地点", "纠纷类型", "状态"] + (["诉求（群众原话）", "电话"] if personal else [])
    rows = []
    for r in requests:
        place = catalog.place(r.place_id or "")
        row: list[Any] = [
            r.id,
            dt.datetime.fromtimestamp(r.created_at, zone).date().isoformat(),
            place.name if place else "未设置",
            kinds.get(r.dispute_id or "", "其他"),
            "已处理" if r.status == "done" else "待处理",
        ]
        if personal:
            row += [r.question, r.phone or ""]
        rows.append(row)
    return Sheet("群众诉求", header, rows)


# -- writing ----------------------------------------------------------------------------------------


@dataclass
class _Layout:
    """Where the parts of one sheet fall, 1-based rows."""

    sheet: Sheet
    width: int = field(init=False)
    header_row: int = field(init=False)

    def __post_init__(self) -> None:
        self.width = max(len(self.sheet.header), 4 if self.sheet.cover else 1)
        self.header_row = len(self.sheet.cover) + (2 if self.sheet.cover else 1)


def write_xlsx(path: Path, workbook_sheets: Sequence[Sheet]) -> Path:
    """The workbook, streamed (write-only): every text through `safe_cell` and written as text, never a formula."""
    from openpyxl import Workbook
    from openpyxl.worksheet.properties import PageSetupProperties

    workbook = Workbook(write_only=True)
    document = next((s.cover[0] for s in workbook_sheets if s.cover), "")
    for sheet in workbook_sheets:
        layout = _Layout(sheet)
        ws = workbook.create_sheet(title=sheet.name[:31])
        body = sheet.body()
        for column, width in enumerate(_widths(sheet, body), start=1):
            ws.column_dimensions[_letter(column)].width = width
        ws.freeze_panes = f"{_letter(sheet.frozen_columns + 1)}{layout.header_row + 1}"
        ws.print_title_rows = f"{layout.header_row}:{layout.header_row}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = 9  # A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0  # as many pages down as needed
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        ws.print_options.horizontalCentered = True
        ws.oddHeader.center.text = f"{document}　{sheet.name}" if document else sheet.name
        ws.oddFooter.center.text = "第 &P 页，共 &N 页"
        _write_rows(ws, sheet, layout, body)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def _write_rows(ws: Any, sheet: Sheet, layout: _Layout, body: list[list[Any]]) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    thin = Side(style="thin", color="808080")
    grid = Border(left=thin, right=thin, top=thin, bottom=thin)
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    last = _letter(layout.width)
    row_number = 0

    def append(cells: list[Any]) -> None:
        nonlocal row_number
        ws.append(cells)
        row_number += 1

    def line(text: str, title: bool = False) -> None:
        """A line of text: the title centred over the table; other lines run on to the right unmerged."""
        cell = _cell(ws, text)
        if title:
            ws.row_dimensions[row_number + 1].height = 30
            cell.font = Font(bold=True, size=16)
            cell.alignment = Alignment(horizontal="center", vertical="center")
        append([cell])
        if title:
            ws.merged_cells.add(f"A{row_number}:{last}{row_number}")

    for i, text in enumerate(sheet.cover):
        line(text, title=i == 0)
    if sheet.cover:
        append([])
    header = []
    for text in sheet.header:
        cell = _cell(ws, text)
        cell.font, cell.border = bold, grid
        cell.fill = PatternFill("solid", fgColor="F2F2F2")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        header.append(cell)
    append(header)
    totals_at = len(sheet.rows) if sheet.totals is not None and sheet.rows else -1
    for index, values in enumerate(body):
        cells = []
        for value in values:
            cell = _cell(ws, value)
            cell.border = grid
            if isinstance(value, Rate):
                cell.number_format = PERCENT_FORMAT
            elif isinstance(value, int | float):
                cell.number_format = NUMBER_FORMAT
            elif isinstance(value, str) and display_width(value) > WIDEST:
                cell.alignment = wrap
            if index == totals_at:
                cell.font = bold
            cells.append(cell)
        append(cells)
    for i, note in enumerate(sheet.notes):
        line(("注：" if i == 0 else "　　") + note)


def _cell(ws: Any, value: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell

    value = safe_cell(value)
    cell = WriteOnlyCell(ws, float(value) if isinstance(value, Rate) else value)
    if isinstance(value, str):
        cell.data_type = "s"  # text, never a formula, whatever openpyxl guessed
    return cell


def _widths(sheet: Sheet, body: list[list[Any]]) -> list[float]:
    """Each column as wide as its widest cell, Chinese characters counted double; long text wraps."""
    widths = []
    for column, name in enumerate(sheet.header):
        cells = [_shown(row[column]) for row in body if column < len(row)]
        widest = max([display_width(name), *(display_width(text) for text in cells)])
        widths.append(min(widest, WIDEST) + 2.5)
    return widths


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Rate):
        return f"{100 * value:.1f}%"
    if isinstance(value, int | float):
        return f"{value:,}"
    return str(value)


def _letter(column: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(column))


def write_csv_zip(path: Path, workbook_sheets: Sequence[Sheet]) -> Path:
    """One CSV per sheet (UTF-8 with a BOM, so Excel on Windows reads the Chinese), the same rows as the .xlsx."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for sheet in workbook_sheets:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerows([line] for line in _safe_row(list(sheet.cover)))
            if sheet.cover:
                writer.writerow([])
            writer.writerow(_safe_row(sheet.header))
            writer.writerows(_safe_row([_csv_value(v) for v in row]) for row in sheet.body())
            writer.writerows(["注：" + note] for note in _safe_row(list(sheet.notes)))
            archive.writestr(f"{sheet.name}.csv", "\ufeff" + buffer.getvalue())
    return path


def _csv_value(value: Any) -> Any:
    return f"{round(100 * value, 1):g}%" if isinstance(value, Rate) else value
