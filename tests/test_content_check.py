"""The content checker: every problem reported once, as file:line, never a traceback."""

from __future__ import annotations

import ast
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content.checker import check_directory, placeholders
from bot.content.loader import load_catalog
from bot.content.model import PlaceKind
from bot.content.problems import Severity
from bot.i18n import LANGUAGES, catalog_strings

from .conftest import CONTENT, REPO, TODAY

FIXTURES = Path(__file__).parent / "fixtures"

EXPECTED_BROKEN = [  # a file that cannot be parsed at all is the root cause: it comes first
    "broken/topics/gamma.yaml:7: YAML syntax error: found unexpected end of stream "
    "(while scanning a quoted scalar that starts on line 5)",
    "broken/places.yaml:9: place kind 'town' is not one of village, community, school",
    "broken/places.yaml:13: a school has 'enrolment', not 'population'",
    "broken/topics/alpha.yaml:4: tip is missing required key 'title'",
    "broken/topics/alpha.yaml:5: unknown key 'titel' in tip (allowed: id, title, body, keywords, source, "
    "reviewed_on, image, valid_until, asks)",
    "broken/topics/alpha.yaml:19: warning: tip 'alpha-two' expired on 2026-06-30; it is not served",
    "broken/topics/alpha.yaml:20: tip id 'Alpha_Three' is not valid: use lowercase letters, digits and '-', "
    "at most 24 characters",
    "broken/topics/alpha.yaml:25: unknown law 'no-such-law': add it to laws.yaml or use one of its ids",
    "broken/topics/alpha.yaml:26: law 'old-law' was repealed on 2020-01-01: cite the law in force",
    "broken/topics/alpha.yaml:28: article '第五十一条' does not exist: 反电信网络诈骗法 has 50 articles",
    "broken/topics/alpha.yaml:30: article '第38条' is not in the form 第X条 (e.g. 第三十一条, 第三十一条第一款, "
    "第二百八十七条之二)",
    "broken/topics/alpha.yaml:36: answer D is out of range: the question has only 3 options (A–C)",
    "broken/topics/alpha.yaml:43: 'options' of quiz question must have 2–4 items, has 1",
    "broken/topics/alpha.yaml:45: key 'answer' appears twice in the same mapping",
    "broken/topics/beta.yaml:4: duplicate tip id 'alpha-two' (first defined at broken/topics/alpha.yaml:12)",
    "broken/topics/beta.yaml:6: 'body' of tip is too long: 320 characters, at most 300",
    "broken/topics/beta.yaml:11: 'quiz' of topic must have at least 1 items, has 0",
]


def test_broken_fixture_reports_every_problem_with_file_and_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    report = check_directory(Path("broken"), TODAY)
    assert report.failed
    lines = report.render("en")
    assert lines[:-1] == EXPECTED_BROKEN
    assert lines[-1] == "16 error(s), 1 warning(s) in 5 file(s)"


def test_expired_item_is_a_warning_and_is_not_served(tmp_path: Path) -> None:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    topic = target / "topics" / "anti-fraud.yaml"
    text = topic.read_text(encoding="utf-8")
    first_review = "    reviewed_on: 2026-11-27\n"
    assert first_review in text
    topic.write_text(text.replace(first_review, first_review + "    valid_until: 2026-01-31\n", 1), encoding="utf-8")
    result = load_catalog(target, TODAY)
    assert result.catalog is not None
    warnings = [p for p in result.problems if p.severity is Severity.WARNING]
    assert len(warnings) == 1 and "expired on 2026-01-31" in warnings[0].message("en")
    fraud = result.catalog.topic("anti-fraud")
    assert fraud is not None
    assert len(fraud.served_tips(TODAY)) == len(fraud.tips) - 1


def test_starter_content_is_clean_and_complete() -> None:
    result = load_catalog(CONTENT, TODAY)
    assert result.catalog is not None, [str(p) for p in result.problems]
    assert result.problems == []
    catalog = result.catalog
    assert {"anti-fraud", "anti-drug", "drowning", "constitution"} <= {t.id for t in catalog.topics}
    for topic in catalog.topics:
        assert len(topic.tips) >= 8, topic.id
        assert len(topic.quiz) >= 12, topic.id
        for tip in topic.tips:
            assert tip.sources and len(tip.body) <= 300
        for question in topic.quiz:
            assert question.sources and 0 <= question.answer < len(question.options) <= 4
    kinds = [p.kind for p in catalog.places]
    assert sum(k in (PlaceKind.VILLAGE, PlaceKind.COMMUNITY) for k in kinds) >= 5
    assert kinds.count(PlaceKind.SCHOOL) >= 2
    assert catalog.town


def test_reorganised_article_numbers_are_the_new_ones() -> None:
    """The 2025 revision renumbered 治安管理处罚法; drug use is 第八十四条 now, never the old 第七十二条."""
    catalog = load_catalog(CONTENT, TODAY).catalog
    assert catalog is not None
    cited = [
        c.article
        for t in catalog.topics
        for item in (*t.tips, *t.quiz)
        for c in item.sources
        if c.law.id == "public-security-penalties-law"
    ]
    assert "第七十二条" not in cited and "第七十三条" not in cited


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def run_check(directory: Path, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "content", "check", str(directory), *options],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_check_passes_on_starter_content() -> None:
    result = run_check(Path("content"), REPO, "--lang", "en")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("OK: 6 topics")
    assert "anti-fraud" in lines[0]


def test_cli_check_names_duplicate_topic_file_and_syntax_error(tmp_path: Path) -> None:
    """Acceptance: a copied topic file and an injected YAML error are both named with file:line."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    shutil.copy(target / "topics" / "drowning.yaml", target / "topics" / "drowning-copy.yaml")
    broken = target / "topics" / "constitution.yaml"
    lines = broken.read_text(encoding="utf-8").splitlines()
    lines.insert(5, "  - id: [unclosed")
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run_check(Path("content"), tmp_path, "--lang", "en")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    out = result.stdout
    # Files are read in name order, so the copy (drowning-copy.yaml) is seen first.
    id_line = next(
        n for n, line in enumerate(lines_of(CONTENT / "topics" / "drowning.yaml"), 1) if line.startswith("id:")
    )
    duplicate = [line for line in out.splitlines() if "duplicate" in line]
    assert duplicate == [
        f"content/topics/drowning.yaml:{id_line}: duplicate topic id 'drowning' "
        f"(first defined at content/topics/drowning-copy.yaml:{id_line}) — is this file a copy?"
    ]
    syntax = [line for line in out.splitlines() if line.startswith("content/topics/constitution.yaml:")]
    assert syntax and "YAML syntax error" in syntax[0]
    assert int(syntax[0].split(":")[1]) in (6, 7)


def test_cli_check_on_missing_directory_is_one_clear_line(tmp_path: Path) -> None:
    result = run_check(tmp_path / "nope", tmp_path, "--lang", "en")
    assert result.returncode == 1
    assert "content directory not found" in result.stdout
    result = run_check(tmp_path / "nope", tmp_path)
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'nope'}:1: 找不到内容目录：请检查路径",
        "1 个错误、0 个警告，涉及 0 个文件",
    ]
    assert "Traceback" not in result.stderr


def test_non_utf8_and_empty_files_are_reported(tmp_path: Path) -> None:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    (target / "topics" / "latin1.yaml").write_bytes("title: caf\xe9".encode("latin-1"))
    (target / "topics" / "empty.yaml").write_text("", encoding="utf-8")
    problems = [p.render("en") for p in load_catalog(target, dt.date(2026, 11, 27)).problems]
    assert any("latin1.yaml:1: file is not UTF-8" in p for p in problems)
    assert any("empty.yaml:1: file is empty" in p for p in problems)


def test_campaign_problems_are_reported_by_line(tmp_path: Path) -> None:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    (target / "campaigns.yaml").write_text(
        "campaigns:\n"
        "  - id: bad-one\n"
        "    name: 坏的\n"
        "    when: every blue moon\n"
        "    time: '25:00'\n"
        "    item: no-such-tip\n"
        "    to: [place:mars, everyone]\n"
        "  - id: both\n"
        "    name: 两样都有\n"
        "    when: '12-04'\n"
        "    time: '09:00'\n"
        "    item: xf-xianfari\n"
        "    text: 也有文字\n"
        "    to: [all]\n",
        encoding="utf-8",
    )
    problems = [p.render("en") for p in load_catalog(target, TODAY).problems]
    path = str(target / "campaigns.yaml")
    assert (
        f"{path}:4: 'when: every blue moon' is not a date rule; use MM-DD, YYYY-MM-DD, 'last monday of march' "
        "or 'every saturday from 07-01 to 08-31'" in problems
    )
    assert f"{path}:5: 'time: 25:00' is not HH:MM (24-hour, e.g. 09:00)" in problems
    assert f"{path}:6: campaign item 'no-such-tip' is not a tip id in topics/" in problems
    assert f"{path}:7: audience 'place:mars': no place with id 'mars'" in problems
    assert f"{path}:7: audience 'everyone' is not all, topic:ID, place:ID or lang:zh-CN|en" in problems
    assert f"{path}:8: a campaign needs exactly one of 'item' (a tip id) or 'text'" in problems


def test_a_broken_laws_file_is_named_first_and_does_not_cascade(tmp_path: Path) -> None:
    """One YAML error in laws.yaml: the editor sees it first, not a hundred 'unknown law' lines in other files."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    laws = target / "laws.yaml"
    laws.write_text(laws.read_text(encoding="utf-8") + "\n  - id: [unclosed\n", encoding="utf-8")
    report = check_directory(target, TODAY)
    lines = report.render("en")
    assert report.failed
    assert "laws.yaml" in lines[0] and "YAML syntax error" in lines[0]
    assert not any("unknown law" in line for line in lines), lines[:5]


async def test_a_refused_reload_logs_the_problems_not_just_their_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGHUP and /reload: the operator's log says what is wrong, by file and line, in the checker's default
    language (Chinese)."""
    import logging

    from bot.content.store import ContentStore

    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    store = ContentStore.load(target, lambda: TODAY)
    topic = target / "topics" / "drowning.yaml"
    topic.write_text(topic.read_text(encoding="utf-8") + "\n  - id: [unclosed\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.content.store"):
        result = await store.reload()
    assert result.catalog is None and store.catalog.topic("drowning") is not None  # old content keeps serving
    logged = [record.getMessage() for record in caplog.records]
    assert logged[0] == "内容重新加载被拒绝：1 个错误，继续使用原来的内容"
    assert logged[1].startswith(f"内容：{topic}:") and "YAML 语法错误" in logged[1], logged


def test_cli_check_summary_counts_urgent_intents_office_and_name_words() -> None:
    result = run_check(Path("content"), REPO, "--lang", "en")
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = result.stdout.strip().splitlines()
    assert "7 urgent intents" in line and "office: 6 mediation committees" in line
    assert "blocked name words" in line and line.endswith("; 0 warning(s)")


def test_asks_are_checked_and_one_question_belongs_to_one_tip(tmp_path: Path) -> None:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    topic = target / "topics" / "anti-fraud.yaml"
    lines = topic.read_text(encoding="utf-8").splitlines(keepends=True)
    ask_lines = [i for i, line in enumerate(lines) if line.startswith("    asks:")]
    first, second = ask_lines[0], ask_lines[1]

    def replace_asks(at: int, flow: str) -> None:
        """The tip's asks (block or flow style) become one flow-style line."""
        end = at + 1
        while lines[end].startswith("      - "):
            end += 1
        lines[at:end] = [f"    asks: [{flow}]\n"]

    # The later one first, so that the earlier lines keep their place.
    replace_asks(second, "兼职刷单能赚钱吗, 'x', 兼职刷单能赚钱吗")
    replace_asks(first, "兼职刷单能赚钱吗, " + "很" * 61)
    topic.write_text("".join(lines), encoding="utf-8")
    second = [i for i, line in enumerate(lines) if line.startswith("    asks:")][1]
    report = check_directory(target, TODAY)
    assert report.failed
    lines = report.render("en")
    where = f"{target}/topics/anti-fraud.yaml"
    first_line, second_line = first + 1, second + 1
    assert f"{where}:{first_line}: ask is too long: 61 characters, at most 60" in lines
    assert (
        f"{where}:{second_line}: ask '兼职刷单能赚钱吗' is already an ask of another tip (at {where}:{first_line})"
        in lines
    )
    assert f"{where}:{second_line}: ask 'x' is too short to match anything" in lines
    assert f"{where}:{second_line}: ask '兼职刷单能赚钱吗' is listed twice for this tip" in lines


# -- the language of the messages: Chinese for editors, English on request ------------------------

EXPECTED_BROKEN_ZH = [  # some full lines of tests/fixtures/broken as `content check` prints them by default
    "broken/places.yaml:13: 学校写 'enrolment'（在校生人数），不写 'population'",
    "broken/topics/alpha.yaml:4: 小贴士缺少必填的键 'title'",
    "broken/topics/alpha.yaml:19: 警告：小贴士 'alpha-two' 已于 2026-06-30 过期，不再推送：请更新内容和 valid_until，"
    "或者删掉它",
    "broken/topics/alpha.yaml:25: 未知的法律 'no-such-law'：请先在 laws.yaml 里登记，或改用其中已有的 id",
    "broken/topics/alpha.yaml:28: 第五十一条 不存在：反电信网络诈骗法只有 50 条",
    "broken/topics/alpha.yaml:36: answer 写的是 D，但这道题只有 3 个选项（A–C）",
    "broken/topics/beta.yaml:4: 小贴士 id 'alpha-two' 重复了（第一次出现在 broken/topics/alpha.yaml:12）：请换一个 id",
    "broken/topics/beta.yaml:11: 专题的 'quiz' 应有不少于 1 项，现在是 0 项",
]


def test_cli_check_speaks_chinese_by_default_and_english_with_lang_en() -> None:
    chinese = run_check(Path("broken"), FIXTURES)
    assert chinese.returncode == 1 and "Traceback" not in chinese.stdout + chinese.stderr
    lines = chinese.stdout.splitlines()
    for expected in EXPECTED_BROKEN_ZH:
        assert expected in lines
    assert lines[-1] == "16 个错误、1 个警告，涉及 5 个文件"
    # the same problems in the same order, each at its file:line
    assert [line.split(": ", 1)[0] for line in lines[:-1]] == [line.split(": ", 1)[0] for line in EXPECTED_BROKEN]

    english = run_check(Path("broken"), FIXTURES, "--lang", "en")
    assert english.returncode == 1
    assert english.stdout.splitlines() == [*EXPECTED_BROKEN, "16 error(s), 1 warning(s) in 5 file(s)"]
    assert run_check(Path("broken"), FIXTURES, "--lang", "zh").stdout == chinese.stdout


def test_cli_check_summary_is_chinese_by_default() -> None:
    result = run_check(Path("content"), REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = result.stdout.strip().splitlines()
    assert line.startswith("检查通过：6 个专题（anti-fraud ") and "条小贴士/" in line
    assert "7 种紧急情况；司法所：6 个人民调解委员会、" in line and line.endswith("个昵称禁用词；0 个警告")


def test_one_load_prints_in_either_language_with_stable_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    report = check_directory(Path("broken"), TODAY)
    unknown = next(p for p in report.problems if p.key == "unknown_law")
    assert (unknown.file, unknown.line, unknown.params) == ("broken/topics/alpha.yaml", 25, {"law": "no-such-law"})
    assert unknown.render("en") == EXPECTED_BROKEN[7]
    assert str(unknown) == unknown.render() == EXPECTED_BROKEN_ZH[3]
    first_keys = ["yaml_syntax_from", "place_kind", "school_population", "missing_key"]
    assert [p.key for p in report.problems][:4] == first_keys
    assert report.lines == report.render("zh-CN") != report.render("en")
    for language in LANGUAGES:
        for line in report.render(language):
            assert "checker." not in line and "{" not in line, line  # no key without words, no empty placeholder


def _keys_used_by_the_checker() -> set[str]:
    """Every key that bot/content/*.py passes to msg() or to ProblemSink.error/warning, and those problems.py uses."""
    used = {"separator", "warning_line"}
    for path in sorted((REPO / "bot" / "content").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id == "msg":
                key = node.args[0]
                assert isinstance(key, ast.Constant), f"{path.name}:{node.lineno}: msg() with a key built at run time"
            elif isinstance(node.func, ast.Attribute) and node.func.attr in ("error", "warning") and len(node.args) > 1:
                key = node.args[1]  # sink.error(line, "key", ...); a Msg built elsewhere is found there
            else:
                continue
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                used.add(key.value)
    return used


def test_every_checker_key_is_in_both_catalogs_with_the_same_placeholders() -> None:
    used = _keys_used_by_the_checker()
    assert {"unknown_law", "summary.failed", "summary.ok", "thing.tip", "kind.boolean", "reload_refused"} <= used
    catalogs = {
        language: {
            k.removeprefix("checker."): v for k, v in catalog_strings(language).items() if k.startswith("checker.")
        }
        for language in LANGUAGES
    }
    for language, strings in catalogs.items():
        assert sorted(used - set(strings)) == [], f"checker keys missing from bot/locales/{language}.yaml"
        assert sorted(set(strings) - used) == [], f"checker keys in bot/locales/{language}.yaml that nothing uses"
    for key in sorted(used):
        assert placeholders(catalogs["zh-CN"][key]) == placeholders(catalogs["en"][key]), key
