"""The annual report's section as a Word file (python-docx): what goes into the 法治政府建设报告.

The paragraph, the summary table and the charts, laid out as a government document is (GB/T 9704 in spirit):
A4, a centred title, 黑体 headings numbered 一、二、三, 仿宋 body text with a two-character first-line indent,
the reporting unit and date at the end. The fonts are named, not embedded: Word and WPS on the office's
computer have them. A multi-township county's report has, under its 「全县」 paragraph, the table by township.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.content.model import Catalog
from bot.i18n import DEFAULT_LANGUAGE, translator
from bot.reporting.charts import chart_png
from bot.reporting.export import Rate, reporting_unit, scope_name, summary_rows
from bot.reporting.figures import Dimension, Statistics, day_text, percent, period_text
from bot.reporting.paragraph import report_paragraph, township_table

if TYPE_CHECKING:
    from docx.document import Document as WordDocument
    from docx.enum.text import WD_PARAGRAPH_ALIGNMENT
    from docx.styles.style import CharacterStyle
    from docx.text.run import Run

TITLE_FONT, HEADING_FONT, BODY_FONT = "方正小标宋简体", "黑体", "仿宋_GB2312"
BODY_SIZE = 16  # 三号
TABLE_SIZE = 12  # 小四
COLUMN_WIDTHS = (3.6, 2.2, 1.6, 8.2)  # cm: 项目, 数值, 单位, 说明 — 15.6 cm of the 15.6 cm between the margins
TOWNSHIP_WIDTHS = (2.6, 1.8, 1.8, 1.7, 2.1, 1.8, 1.9, 1.9)  # cm: 乡镇 and its seven figures, 15.6 cm too
CHARTS: tuple[tuple[Dimension, str], ...] = (
    ("month", "各月普法推送人次和覆盖人数"),
    ("place", "各村（社区）、学校普法推送人次和覆盖人数"),
)


def write_docx(path: Path, statistics: Statistics, catalog: Catalog, today: dt.date) -> Path:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4 (python-docx starts from US Letter)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    normal = document.styles["Normal"]
    _font(normal, BODY_FONT, BODY_SIZE)
    normal.paragraph_format.line_spacing = Pt(28)

    year = statistics.period.first.year
    _line(
        document,
        f"{scope_name(statistics, catalog)}{year}年普法宣传工作情况",
        TITLE_FONT,
        22,
        WD_ALIGN_PARAGRAPH.CENTER,
    )
    _line(
        document, f"（统计期间：{period_text(statistics.period)}）", "楷体_GB2312", BODY_SIZE, WD_ALIGN_PARAGRAPH.CENTER
    )

    _line(document, "一、工作开展情况", HEADING_FONT, BODY_SIZE)
    body = document.add_paragraph(report_paragraph(statistics, catalog, today))
    body.paragraph_format.first_line_indent = Pt(2 * BODY_SIZE)
    if statistics.by_township:  # a county: its townships, each on a row
        t = translator(DEFAULT_LANGUAGE)
        _line(document, f"表1　{t('report.township_caption')}", BODY_FONT, TABLE_SIZE, WD_ALIGN_PARAGRAPH.CENTER)
        header, rows = township_table(statistics)
        _table(document, header, rows, TOWNSHIP_WIDTHS, centred=range(1, len(header)))
        _line(document, f"注：{t('report.township_note')}", BODY_FONT, TABLE_SIZE)

    _line(document, "二、主要数据", HEADING_FONT, BODY_SIZE)
    _summary_table(document, statistics, catalog)

    _line(document, "三、推送情况", HEADING_FONT, BODY_SIZE)
    for number, (dimension, caption) in enumerate(CHARTS, start=1):
        document.add_picture(io.BytesIO(chart_png(statistics, catalog, dimension)), width=Cm(15.5))
        picture = document.paragraphs[-1]
        picture.alignment = WD_ALIGN_PARAGRAPH.CENTER
        picture.paragraph_format.line_spacing = 1.0  # the body's fixed 28 pt would crop the picture to one line
        _line(document, f"图{number}　{caption}", BODY_FONT, TABLE_SIZE, WD_ALIGN_PARAGRAPH.CENTER)

    note = (
        "注：推送人次为送达居民的普法内容条数，覆盖人数按人去重；在校生受教育面为覆盖在校学生数除以在校生人数"
        "（未填在校生人数的学校不计）；线下活动来自普法台账；工作人员试用不计。"
    )
    _line(document, note, BODY_FONT, TABLE_SIZE)
    _line(document, reporting_unit(catalog), BODY_FONT, BODY_SIZE, WD_ALIGN_PARAGRAPH.RIGHT)
    _line(document, day_text(today), BODY_FONT, BODY_SIZE, WD_ALIGN_PARAGRAPH.RIGHT)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def _summary_table(document: WordDocument, statistics: Statistics, catalog: Catalog) -> None:
    _table(document, ["项目", "数值", "单位", "说明"], summary_rows(statistics, catalog), COLUMN_WIDTHS, centred=(1,))


def _table(
    document: WordDocument,
    header: list[str],
    rows: Sequence[Sequence[object]],
    widths: tuple[float, ...],
    centred: Iterable[int],
) -> None:
    """A grid table: a 黑体 header row, 仿宋 cells, the `centred` columns (and the header) centred."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    middle = set(centred)
    table = document.add_table(rows=1 + len(rows), cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Cm(width)  # the grid, which LibreOffice and WPS read; Word reads each cell's width
    for row_index, values in enumerate([header, *rows]):
        for column, value in enumerate(values):
            cell = table.cell(row_index, column)
            cell.width = Cm(widths[column])
            cell.text = _shown(value)
            for paragraph in cell.paragraphs:
                if column in middle or row_index == 0:
                    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
                for run in paragraph.runs:
                    _font(run, HEADING_FONT if row_index == 0 else BODY_FONT, TABLE_SIZE)
                paragraph.paragraph_format.line_spacing = 1.0
                paragraph.paragraph_format.first_line_indent = 0


def _shown(value: object) -> str:
    if isinstance(value, Rate):
        return percent(value)
    if value is None:
        return "—"
    return str(value)


def _line(
    document: WordDocument, text: str, font: str, size: int, alignment: WD_PARAGRAPH_ALIGNMENT | None = None
) -> None:
    paragraph = document.add_paragraph()
    _font(paragraph.add_run(text), font, size)
    if alignment is not None:
        paragraph.alignment = alignment


def _font(target: Run | CharacterStyle, name: str, size: int) -> None:
    """Name the font for Chinese text too (w:eastAsia): Word ignores the Latin name for CJK characters."""
    from docx.oxml.ns import qn
    from docx.shared import Pt

    font = target.font
    font.name, font.size = name, Pt(size)
    properties = target.element.get_or_add_rPr()
    properties.get_or_add_rFonts().set(qn("w:eastAsia"), name)
