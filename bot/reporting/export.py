"""Exports for the office: an .xlsx workbook (or a .zip of CSVs) and PNG charts, formatters over `Statistics`.

Aggregates only. Personal data (display names, ids) appears only with `personal=True`, and then only the
minimal fields 网格员 and teachers need to follow up residents who have not finished a campaign's quiz.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Any

from bot.content.model import Catalog
from bot.reporting.figures import NO_REACH, Statistics
from bot.reporting.statistics import school_education_rate
from bot.storage.ledger import LedgerEntry
from bot.storage.requests import HelpRequest

Sheet = tuple[str, list[str], list[list[Any]]]  # name, header, rows

# A text cell starting with one of these is read as a formula by Excel, LibreOffice and WPS (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


_ILLEGAL_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # as openpyxl refuses them


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


def _safe_row(row: list[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


def sheets(
    statistics: Statistics,
    catalog: Catalog,
    ledger: list[LedgerEntry],
    followups: list[list[Any]] | None = None,
    requests: list[HelpRequest] | None = None,
    personal: bool = False,
) -> list[Sheet]:
    """The export's sheets. Personal data (names, accounts, phone numbers, a resident's own words) only with
    `personal`: the follow-up sheet and the requests' phone and words."""
    topic_names = {t.id: t.title for t in catalog.topics}
    place_names = {p.id: p.name for p in catalog.places}
    quiz, b = statistics.quiz, statistics.broadcasts
    summary: list[list[Any]] = [
        ["统计期间 period", f"{statistics.period.first} – {statistics.period.last}"],
        ["推送人次 deliveries", statistics.reach.deliveries],
        ["覆盖人数 reached", statistics.reach.reached],
        ["新增居民 new residents", statistics.new_residents],
        ["答题人次 quiz answers", quiz.answers],
        ["答对人次 correct answers", quiz.correct],
        ["平均正确率 accuracy", quiz.accuracy],
        ["答题人数 participants", quiz.participants],
        ["答题完成率 completion", quiz.completion],
        ["群发次数 broadcasts", b.count],
        ["群发送达 delivered", b.delivered],
        ["群发拉黑 blocked", b.blocked],
        ["群发失败 failed", b.failed],
        ["微信客服窗口外 out of window", b.out_of_window],
        ["节点专题推送 campaign pushes", statistics.campaign_pushes],
        ["在校生受教育面 school education rate", school_education_rate(statistics)],
        ["线下活动 offline activities", statistics.offline_activities],
        ["法律服务诉求 legal-service requests", statistics.requests.made],
    ]
    result: list[Sheet] = [("汇总 summary", ["项目 item", "数值 value"], summary)]
    result.append(
        (
            "按专题 by topic",
            ["专题 topic", "id", "推送人次", "覆盖人数"],
            [[topic_names.get(k, k), k, v.deliveries, v.reached] for k, v in statistics.by["topic"].items()],
        )
    )
    coverage_rows = []
    for row in statistics.coverage:
        coverage_rows.append(
            [
                row.name,
                row.place,
                row.kind.value,
                statistics.by["place"].get(row.place, NO_REACH).deliveries,
                row.reached,
                row.population or row.enrolment,
                row.coverage_rate,
                row.students_completed_quiz if row.is_school else None,
                row.education_rate,
            ]
        )
    result.append(
        (
            "按地点 by place",
            [
                "地点 place",
                "id",
                "类型 kind",
                "推送人次",
                "覆盖人数",
                "人口/在校生",
                "覆盖率 coverage",
                "完成答题学生",
                "受教育面",
            ],
            coverage_rows,
        )
    )
    result.append(
        (
            "按月份 by month",
            ["月份 month", "推送人次", "覆盖人数"],
            [[k, v.deliveries, v.reached] for k, v in statistics.by["month"].items()],
        )
    )
    question_rows = []
    for q in statistics.questions:
        worst = sorted(q.by_place.items(), key=lambda item: (item[1].accuracy or 0, item[0]))
        places = "；".join(f"{place_names.get(p, p)} {round(100 * (v.accuracy or 0))}%" for p, v in worst)
        topic = topic_names.get(q.topic, q.topic) if q.topic is not None else None
        question_rows.append([q.id, topic, q.question, q.answers, q.correct, q.accuracy, places])
    result.append(
        (
            "答题 quiz questions",
            ["题目 id", "专题", "题干", "作答", "答对", "正确率", "各地正确率（低→高）"],
            question_rows,
        )
    )
    result.append(("群发 broadcasts", ["项目", "数值"], [[k, v] for k, v in b.as_dict().items()]))
    result.append(
        (
            "台账 ledger",
            ["日期", "类型", "地点", "专题", "数量", "备注"],
            [
                [
                    e.day,
                    e.type,
                    place_names.get(e.place_id or "", e.place_id or ""),
                    topic_names.get(e.topic_id or "", e.topic_id or ""),
                    e.count,
                    e.note,
                ]
                for e in ledger
            ],
        )
    )
    if requests is not None:
        result.append(_requests_sheet(requests, catalog, statistics, personal))
    if followups is not None:
        result.append(("待跟进 follow-up", ["地点", "称呼", "渠道", "渠道账号"], followups))
    return result


def _requests_sheet(requests: list[HelpRequest], catalog: Catalog, statistics: Statistics, personal: bool) -> Sheet:
    kinds = {k.id: k.name for k in catalog.office.disputes} if catalog.office else {}
    places = {p.id: p.name for p in catalog.places}
    zone = statistics.period.zone
    header = ["编号", "日期", "地点", "纠纷类型", "状态"] + (["诉求（群众原话）", "电话"] if personal else [])
    rows = []
    for r in requests:
        row: list[Any] = [
            r.id,
            dt.datetime.fromtimestamp(r.created_at, zone).date().isoformat(),
            places.get(r.place_id or "", "未设置"),
            kinds.get(r.dispute_id or "", r.dispute_id or "其他"),
            "已处理" if r.status == "done" else "待处理",
        ]
        if personal:
            row += [r.question, r.phone or ""]
        rows.append(row)
    return ("群众诉求 requests", header, rows)


def write_xlsx(path: Path, workbook_sheets: list[Sheet]) -> Path:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    for name, header, rows in workbook_sheets:
        sheet = workbook.create_sheet(title=name[:31])
        for row in [header, *rows]:
            cells = []
            for value in _safe_row(row):
                cell = WriteOnlyCell(sheet, value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text, never a formula, whatever openpyxl guessed
                cells.append(cell)
            sheet.append(cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def write_csv_zip(path: Path, workbook_sheets: list[Sheet]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, header, rows in workbook_sheets:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(_safe_row(header))
            writer.writerows(_safe_row(row) for row in rows)
            # UTF-8 with a BOM so Excel on Windows opens the Chinese correctly.
            archive.writestr(f"{name.split()[0]}.csv", "\ufeff" + buffer.getvalue())
    return path


def write_charts(directory: Path, statistics: Statistics, catalog: Catalog) -> list[Path]:
    """PNG charts of reach by month, topic and place, with the bundled CJK font (no boxes for Chinese)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    from bot.reporting.certificate import REGULAR

    font_manager.fontManager.addfont(str(REGULAR))
    family = font_manager.FontProperties(fname=str(REGULAR)).get_name()
    plt.rcParams["font.family"] = family
    plt.rcParams["axes.unicode_minus"] = False
    names = {
        "topic": {t.id: t.title for t in catalog.topics} | {"other": "其他"},
        "place": {p.id: p.name for p in catalog.places} | {"unknown": "未设置"},
        "month": {},
    }
    titles = {"month": "各月普法推送", "topic": "各专题普法推送", "place": "各村（社区）、学校普法推送"}
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for dimension in ("month", "topic", "place"):
        data = statistics.by[dimension]
        labels = [names[dimension].get(key, key) for key in data]
        figure, axis = plt.subplots(figsize=(9, 5), dpi=100)
        positions = range(len(labels))
        axis.bar(
            [p - 0.2 for p in positions],
            [v.deliveries for v in data.values()],
            0.4,
            label="推送人次",
            color="#b22222",
        )
        axis.bar(
            [p + 0.2 for p in positions], [v.reached for v in data.values()], 0.4, label="覆盖人数", color="#c9a227"
        )
        axis.set_xticks(list(positions), labels, rotation=30 if len(labels) > 6 else 0)
        axis.set_title(f"{titles[dimension]}（{statistics.period.first} – {statistics.period.last}）")
        axis.legend()
        figure.tight_layout()
        path = directory / f"reach-by-{dimension}.png"
        figure.savefig(path)
        plt.close(figure)
        written.append(path)
    return written
