"""`python -m bot demo`: a separate database with a plausible year, lived through the real core."""

# SQLite only: `demo --db` makes a SQLite file of its own (never the real BOT_DB).

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.reporting.demo import plan_year, shares
from bot.reporting.statistics import Period, Statistics, collect
from bot.storage import Storage

from .conftest import CONTENT

YEAR = 2025  # a year that is over: the demo lives a year under way only up to today
RESIDENTS = 45


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One small demo year, shared by the tests below: (its database, what the command printed)."""
    folder = tmp_path_factory.mktemp("demo")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        _environment(patch, folder)
        patch.setattr("sys.stdout", out)
        code = main(["demo", "--db", str(folder / "demo.sqlite3"), "--year", str(YEAR), "--residents", str(RESIDENTS)])
    assert code == 0, out.getvalue()
    yield folder / "demo.sqlite3", out.getvalue()


def _environment(patch: pytest.MonkeyPatch, folder: Path) -> None:
    patch.chdir(folder)  # no .env of the developer's
    patch.setenv("BOT_DB", str(folder / "bot.sqlite3"))  # the "real" database, which the demo must never touch
    patch.setenv("BOT_CONTENT_DIR", str(CONTENT))


def _statistics(db: Path, content: ContentStore) -> Statistics:
    async def read() -> Statistics:
        storage = await Storage.open(db)
        try:
            period = Period(dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31), Settings().zone)
            return await collect(storage, content.catalog, period)
        finally:
            await storage.close()

    return asyncio.run(read())


def test_the_demo_year_has_residents_in_every_place_reading_all_year(
    demo: tuple[Path, str], content: ContentStore
) -> None:
    statistics = _statistics(demo[0], content)
    assert statistics.new_residents == RESIDENTS
    by_place = statistics.by["place"]
    for place in content.catalog.places:
        assert by_place.get(place.id) and by_place[place.id].reached >= 2, place.id
    months = [month for month, reach in statistics.by["month"].items() if reach.deliveries]
    assert len(months) >= 10, months
    assert set(statistics.by["channel"]) == {"wecom"}  # never the console, which no statistic counts


def test_the_demo_year_has_quizzes_broadcasts_ledger_rows_and_requests(
    demo: tuple[Path, str], content: ContentStore
) -> None:
    statistics = _statistics(demo[0], content)
    quiz = statistics.quiz
    assert quiz.answers > 0 and quiz.participants > RESIDENTS // 2
    assert quiz.accuracy is not None and 0.55 < quiz.accuracy < 0.95  # plausible: neither all wrong nor all right
    assert statistics.broadcasts.count >= 10 and statistics.broadcasts.delivered > 0
    assert statistics.campaign_pushes >= 5  # the publicity calendar's days, sent by the real worker
    assert statistics.offline_activities >= 20
    kinds = {activity.kind for activity in statistics.offline}
    assert {"进村宣传", "进校园", "发放资料", "村村响广播"} <= kinds


def test_the_demo_prints_progress_a_summary_and_the_commands_to_try(demo: tuple[Path, str]) -> None:
    db, printed = demo
    assert f"{YEAR}-12  residents" in printed  # a line per month
    for word in ("residents", "deliveries", "quiz answers", "broadcasts", "ledger rows"):
        assert word in printed
    assert f"BOT_DB={db} python -m bot report --year {YEAR}" in printed
    assert f"BOT_DB={db} python -m bot stats" in printed and f"BOT_DB={db} python -m bot export" in printed


def test_the_report_on_the_demo_database_names_a_campaign(
    demo: tuple[Path, str],
    content: ContentStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = demo[0]
    _environment(monkeypatch, db.parent)
    monkeypatch.setenv("BOT_DB", str(db))
    assert main(["report", "--year", str(YEAR)]) == 0
    paragraph = capsys.readouterr().out
    names = [campaign.name for campaign in content.catalog.campaigns]
    assert "宪法日" in paragraph or any(name in paragraph for name in names), paragraph
    assert "我镇" in paragraph and "人次" in paragraph


def test_the_demo_never_writes_the_real_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _environment(monkeypatch, tmp_path)
    for given in ("bot.sqlite3", str(tmp_path / "sub" / ".." / "bot.sqlite3")):
        assert main(["demo", "--db", given, "--year", str(YEAR), "--residents", "10"]) == 2
        assert "real database" in capsys.readouterr().err
    assert not (tmp_path / "bot.sqlite3").exists()


def test_a_database_with_residents_is_refused_unless_forced(
    demo: tuple[Path, str],
    content: ContentStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    copy = tmp_path / "copy.sqlite3"
    _copy_database(demo[0], copy)
    _environment(monkeypatch, tmp_path)
    assert main(["demo", "--db", str(copy), "--year", str(YEAR), "--residents", "10"]) == 1
    refusal = capsys.readouterr().err
    assert f"already has {RESIDENTS} residents" in refusal and "--force" in refusal
    assert _statistics(copy, content).new_residents == RESIDENTS  # untouched
    assert main(["demo", "--db", str(copy), "--year", str(YEAR), "--residents", "10", "--force"]) == 0
    assert _statistics(copy, content).new_residents == 10  # started afresh, not added on top


def _copy_database(source: Path, target: Path) -> None:
    import sqlite3

    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def test_the_plan_is_the_same_for_the_same_seed_and_differs_for_another(content: ContentStore) -> None:
    catalog = content.catalog
    first = plan_year(catalog, YEAR, 60, seed=7)
    assert first == plan_year(catalog, YEAR, 60, seed=7)
    assert first != plan_year(catalog, YEAR, 60, seed=8)
    assert len(first.residents) == 60 and first.last == dt.date(YEAR, 12, 31)
    assert all(entry.day.startswith(str(YEAR)) for entry in first.ledger)


def test_a_year_under_way_is_planned_up_to_today_only(content: ContentStore) -> None:
    catalog = content.catalog
    plan = plan_year(catalog, YEAR, 60, seed=1, until=dt.date(YEAR, 6, 30))
    assert plan.last == dt.date(YEAR, 6, 30)
    assert all(person.joins <= plan.last for person in plan.residents)
    assert all(visit.day <= plan.last for visit in plan.visits)
    assert all(entry.day <= "2025-06-30" for entry in plan.ledger)


def test_every_place_gets_residents_in_proportion(content: ContentStore) -> None:
    import random

    catalog = content.catalog
    counts = shares(catalog.places, 600, random.Random(1))
    assert sum(counts.values()) == 600
    assert all(counts[place.id] >= 2 for place in catalog.places)
    assert counts["zhenjie-community"] > counts["chayuan-village"]  # 3,600 people against 980
    assert 0 < counts[None] < 60  # a few never say where they live


async def test_the_console_banner_says_console_chats_are_not_counted(core: Core, tmp_path: Path) -> None:
    from bot.channels.console import chat

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for language, words in (("zh-CN", "不计入统计"), ("en", "not counted")):
        out = io.StringIO()
        await chat(core, "alice", language, tmp_path, stdin=Terminal(""), stdout=out)
        banner = out.getvalue()
        assert words in banner and "python -m bot demo" in banner
