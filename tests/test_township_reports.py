"""Townships as tenants, in the reports: a county's figures by township, and one township's figures alone.

A known history in two townships (周家店镇: 青石村, 河西村, 镇街社区; 青石镇: the other places), plus a resident
without a place (county-level) and one who moved from one township to the other, on both backends. Every figure of
a township counts only its places; the county's figures are the sum of the townships' where they add up; the
command line (`--town`), the report (「我镇」 / 「全县」 with the table by township), the workbook's 各乡镇 sheet
and the Word file agree with `collect`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.content.loader import load_catalog
from bot.content.model import Catalog
from bot.content.store import ContentStore
from bot.reporting.export import sheets
from bot.reporting.figures import Period, Statistics
from bot.reporting.paragraph import report_paragraph
from bot.reporting.statistics import collect, format_table, township_places
from bot.storage import Audience, Outcome, ReachEvent, Storage
from bot.storage.ledger import LedgerEntry
from bot.storage.stats import Counts, Span

from .conftest import CONTENT, REPO, TODAY

ZONE = ZoneInfo("Asia/Shanghai")
ZHOUJIADIAN = ("qingshi-village", "hexi-village", "zhenjie-community")
TOWNSHIPS = "townships:\n  - id: zhoujiadian\n    name: 周家店镇\n  - id: qingshi\n    name: 青石镇\n"
YEAR = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31), ZONE)  # whole months: the roll-ups alone
ACROSS = Period(dt.date(2026, 1, 15), dt.date(2026, 3, 20), ZONE)  # partial months at both ends: roll-ups and log


def ts(day: str, hour: int = 10) -> int:
    return int(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), ZONE).timestamp())


def two_township_content(tmp_path: Path) -> Path:
    """The shipped content, its places split between 周家店镇 (the first three) and 青石镇 (the rest)."""
    out: list[str] = []
    place = ""
    for line in (CONTENT / "places.yaml").read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("places:"):
            out.append(TOWNSHIPS)
        if line.startswith("  - id: "):
            place = line.split(":", 1)[1].strip()
        out.append(line)
        if line.startswith("    kind: "):
            out.append(f"    township: {'zhoujiadian' if place in ZHOUJIADIAN else 'qingshi'}\n")
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    (target / "places.yaml").write_text("".join(out), encoding="utf-8")
    return target


@pytest.fixture
def county(tmp_path: Path) -> Catalog:
    catalog = load_catalog(two_township_content(tmp_path), TODAY).catalog
    assert catalog is not None and catalog.multi_township
    return catalog


# -- the history ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    who: str
    place: str | None
    day: str
    kind: str = "tip"
    topic: str | None = "anti-fraud"
    item: str = "fz-shuadan"
    correct: bool | None = None


# Z1, Z2: 周家店镇; Q1, Q2 (a pupil): 青石镇; N: no place (the county's); M moved from 河西村 (周家店镇) to 茶园村
# (青石镇) in February; C: a console trial at 河西村, never counted. P (below) comes after the broadcast.
RESIDENTS = {
    "Z1": ("telegram", "hexi-village"),
    "Z2": ("wecom", "zhenjie-community"),
    "Q1": ("telegram", "fengshuling-village"),
    "Q2": ("telegram", "qingshi-primary"),
    "N": ("telegram", None),
    "M": ("telegram", "chayuan-village"),  # now; the January event below was at hexi-village
    "C": ("console", "hexi-village"),
}
DELIVERIES = (
    Delivery("Z1", "hexi-village", "2026-01-10"),
    Delivery("Z1", "hexi-village", "2026-01-10"),  # the same tip twice: 2 deliveries, 1 resident
    Delivery("Z2", "zhenjie-community", "2026-02-20", topic="anti-drug", item="jd-dingyi"),
    Delivery("Q1", "fengshuling-village", "2026-01-20", topic="drowning", item="ns-liubu"),
    Delivery("Q2", "qingshi-primary", "2026-03-15", topic="drowning", item="ns-liubu"),
    Delivery("N", None, "2026-02-01"),
    Delivery("M", "hexi-village", "2026-01-25"),  # before moving: 周家店镇's
    Delivery("M", "chayuan-village", "2026-04-10", topic="drowning", item="ns-liubu"),  # after: 青石镇's
    Delivery("Q2", "qingshi-primary", "2026-03-16", "quiz_answer", "drowning", "ns-q01", True),
    Delivery("Q2", "qingshi-primary", "2026-03-16", "quiz_answer", "drowning", "ns-q02", False),
    Delivery("Z1", "hexi-village", "2026-04-02", "quiz_answer", "anti-fraud", "fz-q01", False),
)
CONSOLE = Delivery("C", "hexi-village", "2026-02-05")
# P read a tip before choosing a place, answered a question at 河西村 (周家店镇), then moved to 茶园村 (青石镇): a quiz
# participant of 周家店镇 only, though reached in both.
LATE = (
    Delivery("P", None, "2026-01-03"),
    Delivery("P", "hexi-village", "2026-02-10", "quiz_answer", "drowning", "ns-q01", True),
    Delivery("P", "chayuan-village", "2026-04-20", topic="drowning", item="ns-liubu"),
)
# The 国家宪法日 broadcast on 1 March: delivered to Z1, Q1, N and M; Q2 had blocked the bot; Z2's failed.
BROADCAST_DAY = "2026-03-01"
BROADCAST_OUTCOMES = {"Z1": "delivered", "Q1": "delivered", "N": "delivered", "M": "delivered", "Q2": "blocked"}
BROADCAST_OUTCOMES["Z2"] = "failed"
BROADCAST_PLACES = {"Z1": "hexi-village", "Q1": "fengshuling-village", "N": None, "M": "chayuan-village"}
LEDGER = (
    LedgerEntry("2026-05-20", "进村宣传", 80, "hexi-village", "anti-fraud"),
    LedgerEntry("2026-06-26", "进校园", 450, "qingshi-primary", "anti-drug"),
    LedgerEntry("2026-06-26", "发放资料", 300, "qingshi-village", "constitution"),
    LedgerEntry("2026-09-01", "发放资料", 200, None, "constitution", location="县广场"),  # the county's
)


def all_deliveries() -> list[Delivery]:
    broadcast = [
        Delivery(who, BROADCAST_PLACES[who], BROADCAST_DAY, "broadcast", "constitution", "xf-xianfari")
        for who, status in BROADCAST_OUTCOMES.items()
        if status == "delivered"
    ]
    return [*DELIVERIES, *broadcast, *LATE]


async def build(database: str, tmp_path: Path) -> None:
    now = [ts("2026-01-05")]
    storage = await Storage.open(database, clock=lambda: now[0], data_dir=tmp_path)
    try:
        people: dict[str, int] = {}
        for key, (channel, place) in RESIDENTS.items():
            resident, _ = await storage.residents.get_or_create(channel, key.lower(), key, "zh-CN")
            await storage.residents.update(resident.id, place_id=place)
            people[key] = resident.id
        for d in (*DELIVERIES, CONSOLE):
            channel = RESIDENTS[d.who][0]
            extra = {} if d.correct is None else {"correct": d.correct}
            storage.reach.record(
                ReachEvent(people[d.who], channel, d.kind, d.topic, d.item, d.place, ts=ts(d.day), **extra)  # type: ignore[arg-type]
            )
        await storage.flush()
        # Q2 finishes a two-question quiz at the school; Z1 starts one at 河西村 and stops.
        quizzes = storage.quizzes
        session = await quizzes.start(
            people["Q2"], "topic", ["ns-q01", "ns-q02"], [[0, 1], [0, 1]], "telegram", "qingshi-primary",
            ts("2026-03-16"), topic_id="drowning",
        )  # fmt: skip
        assert session is not None
        _, session = await quizzes.answer(session, 0, 0, True, ts("2026-03-16"))
        assert session is not None
        await quizzes.answer(session, 1, 1, False, ts("2026-03-16"))
        await quizzes.start(
            people["Z1"], "topic", ["fz-q01", "fz-q02"], [[0, 1], [0, 1]], "telegram", "hexi-village",
            ts("2026-04-02"), topic_id="anti-fraud",
        )  # fmt: skip
        # The campaign broadcast, to everybody (not the console trial).
        at = ts(BROADCAST_DAY)
        broadcast = await storage.broadcasts.create(
            "calendar", Audience(), at, at, item_id="xf-xianfari", topic_id="constitution",
            campaign_id="constitution-day", occurrence=f"constitution-day@{BROADCAST_DAY}",
        )  # fmt: skip
        assert broadcast is not None
        claimed = await storage.broadcasts.claim_due("test", at, 60, ["telegram", "wecom"])
        assert claimed is not None and claimed.id == broadcast
        by_id = {rid: key for key, rid in people.items()}
        recipients = await storage.broadcasts.pending(broadcast, 100)
        assert sorted(by_id[r.resident_id] for r in recipients) == sorted(BROADCAST_OUTCOMES)
        outcomes = [Outcome(r.resident_id, BROADCAST_OUTCOMES[by_id[r.resident_id]]) for r in recipients]
        events = [
            ReachEvent(
                r.resident_id,
                r.channel,
                "broadcast",
                "constitution",
                "xf-xianfari",
                r.place_id,
                "constitution-day",
                broadcast,
                ts=at,
            )
            for r in recipients
            if BROADCAST_OUTCOMES[by_id[r.resident_id]] == "delivered"
        ]
        await storage.broadcasts.record(broadcast, outcomes, events, at)
        late, _ = await storage.residents.get_or_create("telegram", "p", "P", "zh-CN")
        await storage.residents.update(late.id, place_id="chayuan-village")
        people["P"] = late.id
        for d in LATE:
            extra = {} if d.correct is None else {"correct": d.correct}
            event = ReachEvent(late.id, "telegram", d.kind, d.topic, d.item, d.place, ts=ts(d.day), **extra)  # type: ignore[arg-type]
            storage.reach.record(event)
        await storage.flush()
        # Legal-service requests: Z2's (周家店镇), Q1's (青石镇, done), N's (no place: the county's).
        for key, day in (("Z2", "2026-05-02"), ("Q1", "2026-05-03"), ("N", "2026-05-04")):
            now[0] = ts(day)
            channel, place = RESIDENTS[key]
            request = await storage.requests.offer(people[key], channel, place, "labor", "老板拖欠工资")
            assert await storage.requests.submit(request, people[key], "13800138000")
            if key == "Q1":
                assert await storage.requests.mark_done(request, "test")
        await storage.ledger.add(list(LEDGER), "test", ts("2026-09-02"))
    finally:
        await storage.close()


async def figures(
    database: str, tmp_path: Path, catalog: Catalog, period: Period = YEAR, township: str | None = None
) -> Statistics:
    storage = await Storage.open(database, data_dir=tmp_path)
    try:
        return await collect(storage, catalog, period, township=township)
    finally:
        await storage.close()


def expected(period: Period, places: set[str] | None) -> tuple[int, int, int]:
    """(deliveries, reached, quiz participants) straight from the history: what the roll-ups and the log must
    add up to."""
    rows = [
        d
        for d in all_deliveries()
        if period.first <= dt.date.fromisoformat(d.day) <= period.last and (places is None or d.place in places)
    ]
    return len(rows), len({d.who for d in rows}), len({d.who for d in rows if d.kind == "quiz_answer"})


# -- collect --------------------------------------------------------------------------------------------------


async def test_a_townships_figures_never_include_the_others(database: str, tmp_path: Path, county: Catalog) -> None:
    await build(database, tmp_path)
    zhou = await figures(database, tmp_path, county, township="zhoujiadian")
    qing = await figures(database, tmp_path, county, township="qingshi")
    whole = await figures(database, tmp_path, county)

    # 周家店镇: Z1's two tips, quiz answer and broadcast, Z2's tip, M's January tip and P's answer at 河西村.
    assert (zhou.reach.deliveries, zhou.reach.reached) == (7, 4)
    assert set(zhou.by["place"]) == {"hexi-village", "zhenjie-community"}
    assert zhou.by["place"]["hexi-village"].as_dict() == {"deliveries": 6, "reached": 3}
    assert (zhou.quiz.answers, zhou.quiz.correct, zhou.quiz.participants) == (2, 1, 2)
    assert (zhou.quiz.quizzes_started, zhou.quiz.quizzes_finished) == (1, 0)
    assert (zhou.broadcasts.count, zhou.broadcasts.targeted) == (1, 2)  # Z1 and Z2 are its residents
    assert (zhou.broadcasts.delivered, zhou.broadcasts.failed, zhou.broadcasts.blocked) == (1, 1, 0)
    assert zhou.campaign_pushes == 1
    assert zhou.new_residents == 2  # Z1, Z2 (M and P live in 茶园村 now, N nowhere, C is a console trial)
    assert zhou.requests.as_dict() == {"made": 1, "done": 0, "open": 1}
    assert {a.kind: (a.activities, a.count) for a in zhou.offline} == {"进村宣传": (1, 80), "发放资料": (1, 300)}
    assert [row.place for row in zhou.coverage] == list(ZHOUJIADIAN)
    assert {q.id for q in zhou.questions} == {"fz-q01", "ns-q01"}
    assert zhou.township is not None and zhou.township.name == "周家店镇" and zhou.by_township == ()

    # 青石镇: Q1's tip and broadcast, Q2's tip and two answers, M's April tip and broadcast and P's tip at 茶园村.
    assert (qing.reach.deliveries, qing.reach.reached) == (8, 4)
    assert set(qing.by["place"]) == {"fengshuling-village", "qingshi-primary", "chayuan-village"}
    assert (qing.quiz.answers, qing.quiz.correct, qing.quiz.participants) == (2, 1, 1)  # not P: reached, no answer
    assert (qing.quiz.quizzes_started, qing.quiz.quizzes_finished) == (1, 1)
    assert (qing.broadcasts.targeted, qing.broadcasts.delivered, qing.broadcasts.blocked) == (3, 2, 1)
    assert qing.new_residents == 4  # Q1, Q2, M, P
    assert qing.requests.as_dict() == {"made": 1, "done": 1, "open": 0}
    assert {a.kind: (a.activities, a.count) for a in qing.offline} == {"进校园": (1, 450)}
    school = next(row for row in qing.coverage if row.place == "qingshi-primary")
    assert (school.reached, school.enrolment, school.students_completed_quiz) == (1, 620, 1)
    assert "hexi-village" not in {row.place for row in qing.coverage}

    # The county: everything, N (no place), P's first tip and the county's own ledger row included.
    assert (whole.reach.deliveries, whole.reach.reached) == (18, 7)
    assert whole.by["place"]["unknown"].as_dict() == {"deliveries": 3, "reached": 2}
    assert (whole.quiz.answers, whole.quiz.participants) == (4, 3)
    assert whole.township is None
    # What adds up: each event, answer, request, ledger row and new resident has one place, in one township or none.
    unknown = whole.by["place"]["unknown"].deliveries
    assert whole.reach.deliveries == zhou.reach.deliveries + qing.reach.deliveries + unknown
    assert whole.quiz.answers == zhou.quiz.answers + qing.quiz.answers
    assert whole.quiz.correct == zhou.quiz.correct + qing.quiz.correct
    assert whole.quiz.quizzes_started == zhou.quiz.quizzes_started + qing.quiz.quizzes_started
    assert whole.broadcasts.targeted == zhou.broadcasts.targeted + qing.broadcasts.targeted + 1  # N
    assert whole.broadcasts.delivered == zhou.broadcasts.delivered + qing.broadcasts.delivered + 1  # N
    assert whole.requests.made == zhou.requests.made + qing.requests.made + 1  # N's
    assert whole.requests.done == zhou.requests.done + qing.requests.done
    assert whole.offline_activities == zhou.offline_activities + qing.offline_activities + 1  # 县广场
    assert whole.new_residents == zhou.new_residents + qing.new_residents + 1  # N
    # What does not: M and P were reached in both townships, and each is one resident of the county.
    assert whole.reach.reached == zhou.reach.reached + qing.reach.reached + 1 - 2  # + N, - M and P counted twice


@pytest.mark.parametrize("period", [YEAR, ACROSS], ids=["whole-months", "across-months"])
async def test_reach_of_each_township_matches_the_history(
    database: str, tmp_path: Path, county: Catalog, period: Period
) -> None:
    await build(database, tmp_path)
    whole = await figures(database, tmp_path, county, period)
    assert (whole.reach.deliveries, whole.reach.reached, whole.quiz.participants) == expected(period, None)
    for township in county.townships:
        places = set(township_places(county, township.id))
        mine = await figures(database, tmp_path, county, period, township.id)
        assert (mine.reach.deliveries, mine.reach.reached, mine.quiz.participants) == expected(period, places)
        assert set(mine.by["place"]) <= places
        assert sum(v.deliveries for v in mine.by["topic"].values()) == mine.reach.deliveries
        assert sum(v.deliveries for v in mine.by["month"].values()) == mine.reach.deliveries
        row = next(r for r in whole.by_township if r.township == township.id)
        assert (row.deliveries, row.reached) == (mine.reach.deliveries, mine.reach.reached)
        assert (row.quiz_answers, row.requests, row.activities) == (
            mine.quiz.answers,
            mine.requests.made,
            mine.offline_activities,
        )


async def test_the_county_rows_by_township(database: str, tmp_path: Path, county: Catalog) -> None:
    await build(database, tmp_path)
    whole = await figures(database, tmp_path, county)
    assert [(r.township, r.name) for r in whole.by_township] == [("zhoujiadian", "周家店镇"), ("qingshi", "青石镇")]
    zhou, qing = whole.by_township
    # 周家店镇: 河西村 3 reached (Z1, M, P), 镇街社区 1 (Z2), 青石村 0, of 2150 + 1680 + 3600 residents; no school.
    assert (zhou.covered, zhou.population, zhou.coverage_rate) == (4, 7430, round(4 / 7430, 4))
    assert (zhou.pupils, zhou.enrolment, zhou.education_rate) == (0, None, None)
    # 青石镇: 枫树岭村 (Q1) and 茶园村 (M, P) of 1240 + 980 (塘坊村 has no population); Q2 of 620 + 540 + 160 pupils.
    assert (qing.covered, qing.population) == (3, 2220)
    assert (qing.pupils, qing.enrolment, qing.education_rate) == (1, 1320, round(1 / 1320, 4))
    data = whole.as_dict()
    assert list(data["by_township"]) == ["zhoujiadian", "qingshi"]
    assert data["by_township"]["qingshi"] == {
        "name": "青石镇",
        "deliveries": 8,
        "reached": 4,
        "covered": 3,
        "population": 2220,
        "coverage_rate": round(3 / 2220, 4),
        "pupils": 1,
        "enrolment": 1320,
        "education_rate": round(1 / 1320, 4),
        "quiz_answers": 2,
        "requests": 1,
        "activities": 1,
    }
    assert "township" not in data
    table = format_table(whole, county, ("place",))
    assert "各乡镇普法宣传情况" in table and "周家店镇" in table and "青石镇" in table


async def test_unknown_township_and_empty_place_lists(database: str, tmp_path: Path, county: Catalog) -> None:
    await build(database, tmp_path)
    with pytest.raises(ValueError, match=r"no township 'nowhere'.*zhoujiadian \(周家店镇\), qingshi \(青石镇\)"):
        await figures(database, tmp_path, county, township="nowhere")
    storage = await Storage.open(database, data_dir=tmp_path)
    try:
        stats = storage.stats
        for period in (YEAR, ACROSS):
            span = Span.of(period.first, period.last, ZONE)
            assert await stats.totals(span, []) == Counts(0, 0)
            assert await stats.by("place", span, period.offset, []) == {}
            assert tuple(await stats.quiz_totals(span, [])) == (0, 0, 0)
            assert await stats.question_accuracy(span, []) == []
        assert tuple(await stats.quiz_completion(YEAR.start, YEAR.end, [])) == (0, 0)
        assert await stats.broadcasts(YEAR.start, YEAR.end, []) == []
        assert await stats.new_residents(YEAR.start, YEAR.end, []) == 0
        assert tuple(await stats.requests(YEAR.start, YEAR.end, [])) == (0, 0)
        assert await stats.ledger("2026-01-01", "2026-12-31", []) == []
        assert await stats.not_finished("drowning", []) == []
        # the follow-up list of one township: its residents only
        pending = await stats.not_finished("drowning", township_places(county, "zhoujiadian"))
        assert sorted(p.display_name for p in pending) == ["Z1", "Z2"]
    finally:
        await storage.close()


async def test_a_single_town_is_unchanged_and_its_township_is_the_placed_residents(
    database: str, tmp_path: Path, content: ContentStore
) -> None:
    town = content.catalog
    await build(database, tmp_path)
    whole = await figures(database, tmp_path, town)
    assert whole.by_township == () and "by_township" not in whole.as_dict()
    assert report_paragraph(whole, town, TODAY).startswith("2026年以来（截至11月29日），我镇")
    assert [s.name for s in sheets(whole, town, [])][:2] == ["汇总", "分专题"]  # no 各乡镇 sheet
    mine = await figures(database, tmp_path, town, township="town")  # the one implicit township
    unknown = whole.by["place"]["unknown"]
    assert mine.reach.deliveries == whole.reach.deliveries - unknown.deliveries
    assert mine.as_dict()["township"] == "town"


# -- the command line -----------------------------------------------------------------------------------------


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )


def ok(env: dict[str, str], *args: str) -> str:
    result = run(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def environment(database: str, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    return {
        **base,
        "BOT_DB": database,
        "BOT_CONTENT_DIR": str(tmp_path / "content"),
        "BOT_DATA_DIR": str(tmp_path),
        "BOT_TIMEZONE": "Asia/Shanghai",
    }


FULL_YEAR = ("--from", "2026-01-01", "--to", "2026-12-31")


async def test_stats_json_by_town_matches_collect(database: str, tmp_path: Path, county: Catalog) -> None:
    await build(database, tmp_path)
    env = environment(database, tmp_path)
    for township in ("zhoujiadian", "qingshi"):
        printed = json.loads(ok(env, "stats", *FULL_YEAR, "--json", "--town", township))
        expected = (await figures(database, tmp_path, county, township=township)).as_dict()
        assert printed == json.loads(json.dumps(expected, ensure_ascii=False))
        assert printed["township"] == township and "by_township" not in printed
    whole = json.loads(ok(env, "stats", *FULL_YEAR, "--json"))
    assert whole == json.loads(json.dumps((await figures(database, tmp_path, county)).as_dict(), ensure_ascii=False))
    unplaced = whole["by_place"]["unknown"]["deliveries"]  # N's two, P's first
    assert sum(row["deliveries"] for row in whole["by_township"].values()) + unplaced == whole["deliveries"]
    table = ok(env, "stats", *FULL_YEAR, "--town", "qingshi")
    assert table.startswith("乡镇：青石镇（qingshi）") and "推送人次 8    覆盖人数 4" in table
    assert "镇街社区" not in table and "茶园村" in table  # 周家店镇's place; 青石镇's


async def test_report_by_town_and_for_the_county(database: str, tmp_path: Path, county: Catalog) -> None:
    await build(database, tmp_path)
    env = environment(database, tmp_path)
    mine = ok(env, "report", "--year", "2026", "--to", "2026-11-29", "--town", "zhoujiadian").strip()
    assert mine.startswith("2026年以来（截至11月29日），我镇依托普法宣传机器人")
    assert "推送法治知识7人次，覆盖群众4人" in mine and "全县" not in mine and "各乡镇" not in mine
    assert "受理群众法律服务诉求1件" in mine

    whole = ok(env, "report", "--year", "2026", "--to", "2026-11-29")
    paragraph, _, table = whole.strip().partition("\n\n")
    assert paragraph.startswith("2026年以来（截至11月29日），全县依托普法宣传机器人")
    assert "推送法治知识18人次，覆盖群众7人" in paragraph and "受理群众法律服务诉求3件，已办结1件" in paragraph
    lines = table.splitlines()
    assert lines[0] == "各乡镇普法宣传情况"
    assert lines[1].split() == [
        "乡镇",
        "推送人次",
        "覆盖人数",
        "覆盖率",
        "在校生受教育面",
        "答题人次",
        "法律服务诉求",
        "线下活动",
    ]
    assert lines[2].split() == ["周家店镇", "7", "4", "0.1%", "—", "2", "1", "2"]
    assert lines[3].split() == ["青石镇", "8", "4", "0.1%", "0.1%", "2", "1", "1"]

    explained = ok(env, "report", "--year", "2026", "--to", "2026-11-29", "--town", "qingshi", "--explain")
    assert "统计范围：青石镇的6个村（社区）、学校" in explained
    assert "台账 #2 2026-06-26 进校园" in explained and "台账 #1 " not in explained and "台账 #4 " not in explained
    assert "诉求 #2 " in explained and "诉求 #1 " not in explained and "诉求 #3 " not in explained

    docx = tmp_path / "报告.docx"
    ok(env, "report", "--year", "2026", "--to", "2026-11-29", "--docx", str(docx))
    from docx import Document

    document = Document(str(docx))
    texts = [p.text for p in document.paragraphs]
    assert any(text.startswith("2026年以来（截至11月29日），全县") for text in texts)
    assert "表1　各乡镇普法宣传情况" in texts
    first = document.tables[0]
    assert [cell.text for cell in first.rows[0].cells][:3] == ["乡镇", "推送人次", "覆盖人数"]
    assert [row.cells[0].text for row in first.rows[1:]] == ["周家店镇", "青石镇"]
    assert document.tables[1].rows[0].cells[0].text == "项目"  # the summary table follows, as before

    town_docx = tmp_path / "周家店镇.docx"
    ok(env, "report", "--year", "2026", "--to", "2026-11-29", "--town", "zhoujiadian", "--docx", str(town_docx))
    town_document = Document(str(town_docx))
    assert town_document.paragraphs[0].text == "周家店镇2026年普法宣传工作情况"
    assert town_document.tables[0].rows[0].cells[0].text == "项目"  # no table by township


async def test_export_has_the_township_sheet(database: str, tmp_path: Path, county: Catalog) -> None:
    await build(database, tmp_path)
    env = environment(database, tmp_path)
    out = tmp_path / "全县.xlsx"
    ok(env, "export", *FULL_YEAR, "--out", str(out))
    workbook = load_workbook(out, read_only=True)
    assert workbook.sheetnames[:3] == ["汇总", "各乡镇", "分专题"]
    rows = [row for row in workbook["各乡镇"].iter_rows(values_only=True) if row and row[0] is not None]
    workbook.close()
    body = {row[0]: row for row in rows[1:]}
    assert rows[0][:3] == ("乡镇", "推送人次", "覆盖人数")
    assert body["周家店镇"][1:6] == (7, 4, 4, 7430, round(4 / 7430, 4))
    assert body["青石镇"][1:3] == (8, 4) and body["青石镇"][9:12] == (2, 1, 1)
    assert body["未设置"][1:3] == (3, 2) and body["未设置"][9:12] == (0, 1, 1)  # N and P's first tip, 县广场
    total = body["合计"]
    assert (total[1], total[9], total[10], total[11]) == (18, 4, 3, 4)  # the county's figures

    mine = tmp_path / "周家店镇.xlsx"
    ok(env, "export", *FULL_YEAR, "--out", str(mine), "--town", "zhoujiadian")
    workbook = load_workbook(mine, read_only=True)
    assert "各乡镇" not in workbook.sheetnames
    cover = next(workbook["汇总"].iter_rows(values_only=True))
    assert cover[0] == "周家店镇2026年普法宣传工作统计表"
    summary = {row[0]: row[1] for row in workbook["汇总"].iter_rows(min_row=7, values_only=True)}
    assert summary["推送人次"] == 7 and summary["覆盖人数"] == 4 and summary["法律服务诉求"] == 1
    places = [row[0] for row in workbook["分地点"].iter_rows(min_row=2, values_only=True)]
    assert places[:4] == ["青石村", "河西村", "镇街社区", "合计"]
    ledger = [row[0] for row in workbook["普法台账"].iter_rows(min_row=2, values_only=True)]
    assert ledger == [1, 3]
    requests = [row[2] for row in workbook["群众诉求"].iter_rows(min_row=2, values_only=True)]
    assert requests == ["镇街社区"]
    workbook.close()


async def test_lists_by_town_and_an_unknown_town(database: str, tmp_path: Path, county: Catalog) -> None:
    await build(database, tmp_path)
    env = environment(database, tmp_path)
    listed = ok(env, "requests", "list", "--all", "--town", "qingshi")
    assert "枫树岭村" in listed and "镇街社区" not in listed and "未设置" not in listed
    assert len(listed.strip().splitlines()) == 2  # the header and Q1's
    everything = ok(env, "requests", "list", "--all")
    assert len(everything.strip().splitlines()) == 4
    ledger = ok(env, "ledger", "list", *FULL_YEAR, "--town", "zhoujiadian")
    assert "河西村" in ledger and "青石村" in ledger and "县广场" not in ledger and "进校园" not in ledger
    for args in (
        ("stats", "--json", "--town", "nowhere"),
        ("report", "--year", "2026", "--town", "nowhere"),
        ("export", *FULL_YEAR, "--out", str(tmp_path / "x.xlsx"), "--town", "nowhere"),
        ("requests", "list", "--town", "nowhere"),
        ("ledger", "list", "--town", "nowhere"),
    ):
        result = run(env, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "no township 'nowhere'" in result.stderr and "zhoujiadian (周家店镇), qingshi (青石镇)" in result.stderr
        assert result.stdout == ""
    assert not (tmp_path / "x.xlsx").exists()


async def test_a_broadcast_sent_for_one_town_reaches_only_its_residents(
    database: str, tmp_path: Path, county: Catalog
) -> None:
    """`broadcast send --town`: 'all' means the township's places; another township's place is refused."""
    await build(database, tmp_path)
    env = environment(database, tmp_path)
    broadcast_id = int(ok(env, "broadcast", "send", "--text", "周家店镇通知", "--town", "zhoujiadian").strip())
    refused = run(env, "broadcast", "send", "--text", "x", "--town", "zhoujiadian", "--to", "place:chayuan-village")
    assert refused.returncode == 2 and "chayuan-village" in refused.stderr
    unknown = run(env, "broadcast", "send", "--text", "x", "--town", "nowhere")
    assert unknown.returncode == 2 and "not a township" in unknown.stderr
    storage = await Storage.open(database, data_dir=tmp_path)
    try:
        broadcast = await storage.broadcasts.get(broadcast_id)
        assert broadcast is not None and set(broadcast.audience.places) == set(township_places(county, "zhoujiadian"))
        channels = ["telegram", "wecom"]
        reached = await storage.broadcasts.count_audience(broadcast.audience, None, channels)
        everybody = await storage.broadcasts.count_audience(Audience(), None, channels)
        assert reached == await storage.broadcasts.count_audience(Audience(places=ZHOUJIADIAN), None, channels)
        assert 0 < reached < everybody  # 周家店镇's residents only: not 青石镇's, not those without a place
    finally:
        await storage.close()
