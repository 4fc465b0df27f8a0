"""The 2026-11-29 legal review (legal-facts.md §14): each finding stays fixed, and the checker catches its kind.

Fixture content is written to tmp_path; the findings are asserted on the loaded starter catalog.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.content.checker import check_directory
from bot.content.loader import load_catalog
from bot.content.model import LAW_KINDS, TEXT_KINDS, Catalog
from bot.content.problems import Severity
from bot.content.store import ContentError, ContentStore

from .conftest import CONTENT, TODAY

LAWS = """\
laws:
  - id: anti-fraud-law
    name: 中华人民共和国反电信网络诈骗法
    short: 反电信网络诈骗法
    kind: law
    in_force_since: 2022-12-01
    articles: 50
  - id: psap
    name: 中华人民共和国治安管理处罚法
    short: 治安管理处罚法
    kind: law
    version: 2025年修订
    in_force_since: 2026-01-01
    articles: 144
    renumbered_on: 2026-01-01
    old_numbers:
      第七十二条: 第八十四条
  - id: police-tips
    name: 公安部刑侦局反诈提示
    short: 公安部反诈提示
    kind: publicity
"""

PLACES = """\
town: 测试镇
places:
  - id: east-village
    name: 东村
    kind: village
"""

TOPIC = """\
id: fraud
title: 反诈
tips:
  - id: fz-unknown
    title: 不认识的法律
    body: |
      第一行没有法律。
      根据《反诈法》第三十一条，银行卡不能出借。
    keywords: [银行卡]
    source:
      - law: anti-fraud-law
    reviewed_on: 2026-11-27
  - id: fz-too-far
    title: 条号超出范围
    body: |
      《反电信网络诈骗法》第三十一条规定，不能出租银行卡；
      违反的，依照第五十一条处罚。
    keywords: [出租]
    source:
      - law: anti-fraud-law
        article: 第三十一条
    reviewed_on: 2026-11-27
  - id: fz-bad-date
    title: 不存在的日期
    body: 卡不能借给别人。
    keywords: [借卡]
    source:
      - law: police-tips
    reviewed_on: 2026-02-30
  - id: fz-old-number
    title: 旧条号
    body: 吸毒的，依照《治安管理处罚法》第七十二条处罚。
    keywords: [吸毒]
    source:
      - law: psap
        article: 第八十四条
    reviewed_on: 2025-12-01
quiz:
  - id: fz-q01
    question: 出借银行卡违法吗？
    options: [违法, 不违法]
    answer: A
    explanation: 《中华人民共和国反电信网络诈骗法》第三十一条禁止出借银行卡，大气污染防治法第八十二条与此无关。
    source:
      - law: anti-fraud-law
        article: 第三十一条
    reviewed_on: 2026-11-27
"""

CAMPAIGNS = """\
campaigns:
  - id: fraud-day
    name: 反诈日
    when: "12-01"
    time: "09:00"
    text: 《反电信网络诈骗法》第八条要求加强宣传；《反诈宣传条例》第二条也这样说。
    to: [all]
  - id: fraud-tip
    name: 反诈贴士
    when: "12-02"
    time: "09:00"
    item: fz-bad-date
    to: [place:east-village]
"""


def write_content(root: Path, **overrides: str) -> Path:
    files = {"laws.yaml": LAWS, "places.yaml": PLACES, "topics/fraud.yaml": TOPIC, "campaigns.yaml": CAMPAIGNS}
    files.update(overrides)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def problems(tmp_path: Path) -> list[str]:
    root = write_content(tmp_path / "content")
    return [p.render("en") for p in load_catalog(root, TODAY, display_root=tmp_path).problems]


# -- the checker: law names and articles inside text ---------------------------------------------


def test_an_unknown_law_in_a_tip_is_an_error_on_its_own_line(problems: list[str]) -> None:
    line = line_of(TOPIC, "《反诈法》")
    assert (
        f"content/topics/fraud.yaml:{line}: 《反诈法》 is not in laws.yaml: name a law as laws.yaml does "
        "(its name or short name), or add it there"
    ) in problems


def test_an_article_beyond_the_law_is_an_error_also_when_written_bare(problems: list[str]) -> None:
    """「依照第五十一条」 after 《反电信网络诈骗法》 is that law's article 51 — it has 50."""
    line = line_of(TOPIC, "依照第五十一条")
    assert (
        f"content/topics/fraud.yaml:{line}: 《反电信网络诈骗法》第五十一条 does not exist: "
        "反电信网络诈骗法 has 50 articles"
    ) in problems


def test_an_impossible_date_is_a_file_line_error_not_a_crash(tmp_path: Path, problems: list[str]) -> None:
    line = line_of(TOPIC, "2026-02-30")
    assert (
        f"content/topics/fraud.yaml:{line}: 'reviewed_on' of tip: 2026-02-30 is not a date in the calendar "
        "(day is out of range for month)"
    ) in problems
    chinese = [str(p) for p in load_catalog(tmp_path / "content", TODAY, display_root=tmp_path).problems]
    assert (
        f"content/topics/fraud.yaml:{line}: 小贴士的 'reviewed_on' 写的 2026-02-30 不是日历上的日期（这个月没有这一天）"
    ) in chinese
    report = check_directory(tmp_path / "content", TODAY)
    assert report.failed and "error(s)" in report.render("en")[-1]
    with pytest.raises(ContentError):  # the bot refuses the content with a list of problems; it does not crash
        ContentStore.load(tmp_path / "content", lambda: TODAY)


def test_an_unbracketed_unknown_law_in_a_quiz_explanation_is_an_error(problems: list[str]) -> None:
    line = line_of(TOPIC, "大气污染防治法第八十二条")
    assert any(
        p.startswith(f"content/topics/fraud.yaml:{line}: '") and "大气污染防治法第八十二条': no law in laws.yaml" in p
        for p in problems
    ), problems
    # the full name of a known law is recognised like its short name
    assert not any("中华人民共和国反电信网络诈骗法" in p for p in problems)


def test_campaign_text_is_checked_like_a_tip(problems: list[str]) -> None:
    line = line_of(CAMPAIGNS, "《反诈宣传条例》")
    assert any(p.startswith(f"content/campaigns.yaml:{line}: 《反诈宣传条例》 is not in laws.yaml") for p in problems)
    assert not any("第八条" in p for p in problems)  # 《反电信网络诈骗法》第八条 exists


def test_a_pre_renumbering_article_warns_and_so_does_a_review_before_the_renumbering(tmp_path: Path) -> None:
    root = write_content(tmp_path / "content")
    result = load_catalog(root, TODAY, display_root=tmp_path)
    warnings = [p.render("en") for p in result.problems if p.severity is Severity.WARNING]
    assert (
        f"content/topics/fraud.yaml:{line_of(TOPIC, '第七十二条处罚')}: warning: 《治安管理处罚法》第七十二条 "
        "is an article number from before 治安管理处罚法 was renumbered on 2026-01-01; that provision is now 第八十四条"
    ) in warnings
    assert (
        f"content/topics/fraud.yaml:{line_of(TOPIC, '2025-12-01')}: warning: tip 'fz-old-number' was reviewed on "
        "2025-12-01, before 治安管理处罚法 was renumbered on 2026-01-01: check its article numbers against the "
        "current text, then update reviewed_on"
    ) in warnings


def test_an_old_number_in_a_source_article_warns(tmp_path: Path) -> None:
    topic = TOPIC.replace("        article: 第八十四条\n", "        article: 第七十二条\n")
    root = write_content(tmp_path / "content", **{"topics/fraud.yaml": topic})
    warnings = [p.render("en") for p in load_catalog(root, TODAY, display_root=tmp_path).problems]
    assert any("article '第七十二条' is a number from before 治安管理处罚法 was renumbered" in w for w in warnings)


def test_publicity_has_no_articles_and_no_in_force_date(tmp_path: Path) -> None:
    laws = LAWS + "    in_force_since: 2021-03-01\n"
    topic = TOPIC.replace("      - law: police-tips\n", "      - law: police-tips\n        article: 第一条\n")
    root = write_content(tmp_path / "content", **{"laws.yaml": laws})
    problems = [p.render("en") for p in load_catalog(root, TODAY, display_root=tmp_path).problems]
    assert any("a publicity has no 'in_force_since'" in p for p in problems), problems
    root = write_content(tmp_path / "other", **{"topics/fraud.yaml": topic})
    problems = [p.render("en") for p in load_catalog(root, TODAY, display_root=tmp_path).problems]
    assert any("'police-tips' is a publicity, not a law: it has no articles" in p for p in problems), problems


# -- one broken file does not cascade ------------------------------------------------------------


def test_a_broken_topic_file_is_named_once_not_as_unknown_campaign_items(tmp_path: Path) -> None:
    root = write_content(tmp_path / "content", **{"topics/fraud.yaml": TOPIC + "  - id: [unclosed\n"})
    report = check_directory(root, TODAY)
    lines = report.render("en")
    assert report.failed
    assert "topics/fraud.yaml" in lines[0] and "YAML syntax error" in lines[0]
    assert not any("is not a tip id" in line for line in lines), lines
    notes = [line for line in lines if "could not be read" in line]
    assert len(notes) == 1 and "campaigns.yaml" in notes[0] and "topics/fraud.yaml" in notes[0]


def test_a_campaign_item_whose_tip_has_errors_is_not_reported_as_unknown(problems: list[str]) -> None:
    """fz-bad-date is in the topic file with a bad date: that error is the one the editor needs."""
    assert not any("campaign item 'fz-bad-date'" in p for p in problems)


def test_a_broken_places_file_does_not_make_every_place_unknown(tmp_path: Path) -> None:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    places = target / "places.yaml"
    places.write_text(places.read_text(encoding="utf-8") + "\n  - id: [unclosed\n", encoding="utf-8")
    report = check_directory(target, TODAY)
    lines = report.render("en")
    assert report.failed and "places.yaml" in lines[0]
    assert not any("unknown place" in line or "no place with id" in line for line in lines), lines
    notes = [line for line in lines if "could not be read" in line]
    assert {line.split(":")[0].rsplit("/", 1)[-1] for line in notes} == {"campaigns.yaml", "office.yaml"}


# -- the seven findings stay fixed in the starter content ----------------------------------------


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    result = load_catalog(CONTENT, TODAY)
    assert result.catalog is not None, [str(p) for p in result.problems]
    assert result.problems == []  # 0 warnings too
    return result.catalog


def items(catalog: Catalog) -> list[tuple[str, str, set[tuple[str, str | None]]]]:
    """(id, every text residents read, citations) of each tip and quiz question."""
    found = []
    for topic in catalog.topics:
        for tip in topic.tips:
            found.append((tip.id, f"{tip.title}\n{tip.body}", {(c.law.id, c.article) for c in tip.sources}))
        for q in topic.quiz:
            text = "\n".join([q.question, *q.options, q.explanation])
            found.append((q.id, text, {(c.law.id, c.article) for c in q.sources}))
    return found


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"[。！？\n]", text) if s]


def test_au01_open_burning_is_not_presented_as_allowed(catalog: Catalog) -> None:
    fire_day = next(c for c in catalog.campaigns if c.id == "fire-day")
    assert fire_day.text is not None
    assert not re.search(r"烧[^。]*要有人看着", fire_day.text)
    assert "《大气污染防治法》第八十二条" in fire_day.text and "《森林防火条例》第二十五条" in fire_day.text


def test_au02_carrying_drugs_is_not_cited_to_article_17_paragraph_2(catalog: Catalog) -> None:
    for item_id, text, _ in items(catalog):
        for sentence in sentences(text):
            if "第十七条第二款" in sentence:
                assert not re.search(r"送|带货|运输|携带", sentence), (item_id, sentence)
    nianling = catalog.tip("jd-nianling")
    assert nianling is not None
    carrying = [s for s in sentences(nianling.body) if "送" in s]
    assert carrying and all("第十七条第二款" not in s for s in carrying)
    assert any("第十七条第五款" in s for s in carrying)
    assert {c.article for c in nianling.sources} >= {"第十七条第二款", "第十七条第五款"}


def test_au03_drug_use_is_not_said_to_mean_detention_always(catalog: Catalog) -> None:
    tip = catalog.tip("jd-xidu-chufa")
    assert tip is not None
    assert "拘留" not in tip.title
    assert "情节较轻的，处5日以下拘留或者1000元以下罚款" in tip.body
    assert not any("要被拘留" in t.title for t in catalog.all_tips())


def test_au04_12381_is_cited_to_miit_and_mps(catalog: Catalog) -> None:
    mentioning = [(i, cites) for i, text, cites in items(catalog) if "12381" in text]
    assert mentioning
    for item_id, cites in mentioning:
        assert ("miit-mps-12381", None) in cites, item_id
    assert "工业和信息化部" in catalog.laws["miit-mps-12381"].name


def test_au05_rescue_steps_are_not_cited_to_the_moe_letter_alone(catalog: Catalog) -> None:
    """The letter says only 避免手拉手盲目施救、立即寻求成人帮助; other steps are education-department publicity."""
    steps = re.compile(r"110|120|竹竿|救生圈|木板|呼救|能抛不递")
    texts = [(i, t, {law for law, _ in cites}) for i, t, cites in items(catalog)]
    texts += [(u.id, u.reply, {c.law.id for c in u.sources}) for u in catalog.urgent if u.id == "person-in-water"]
    checked = 0
    for item_id, text, laws in texts:
        if "moe-parents-letter-2022" in laws and steps.search(text):
            assert "edu-drowning-tips" in laws, item_id
            checked += 1
    assert checked >= 5
    assert catalog.laws["edu-drowning-tips"].kind == "publicity"
    rescue = catalog.tip("ns-anshang-jiu")
    assert rescue is not None and "能抛不递" in rescue.title + rescue.body
    water = next(u for u in catalog.urgent if u.id == "person-in-water")
    assert "能抛不递" in water.reply


def test_au06_selling_personal_information_cites_pipl_article_10(catalog: Catalog) -> None:
    tip = catalog.tip("fz-geren-xinxi")
    assert tip is not None
    assert ("pipl", "第十条") in {(c.law.id, c.article) for c in tip.sources}
    assert "《个人信息保护法》第十条" in tip.body and "不得非法买卖、提供或者公开他人个人信息" in tip.body


def test_laws_follow_one_date_convention(catalog: Catalog) -> None:
    cyber = catalog.laws["cybersecurity-law"]
    assert str(cyber.in_force_since) == "2017-06-01"
    assert str(cyber.amended_in_force) == "2026-01-01" and cyber.version == "2025年修正"
    assert cyber.renumbered_on is not None and (42, 44) in cyber.old_numbers
    assert catalog.laws["mps-fraud-warnings"].in_force_since is None
    for law in catalog.laws.values():
        if law.kind in LAW_KINDS:
            assert law.in_force_since is not None and law.published_on is None, law.id
        else:
            assert law.kind in TEXT_KINDS and law.in_force_since is None and law.articles is None, law.id
        if law.amended_in_force is not None:
            assert law.version and law.in_force_since and law.amended_in_force > law.in_force_since, law.id


# legal-facts.md §13 (JB-01…JB-12): the articles of 反家庭暴力法 it states, 12338 (JB-12), and JB-11's law
# (治安管理处罚法, cited without its article: the fact sheet's article number is one laws.yaml lists as renumbered).
DOMESTIC_VIOLENCE_FACTS = {
    ("anti-domestic-violence-law", article)
    for article in (
        None,
        "第二条",
        "第十三条",
        "第十四条",
        "第十六条",
        "第二十三条",
        "第二十八条",
        "第二十九条",
        "第三十条",
        "第三十四条",
    )
} | {("acwf-12338", None), ("public-security-penalties-law", None)}


def test_the_domestic_violence_topic_is_complete_and_cites_only_section_13(catalog: Catalog) -> None:
    topic = next(t for t in catalog.topics if t.id == "domestic-violence")
    assert len(topic.tips) >= 8 and len(topic.quiz) >= 12
    cited = {(c.law.id, c.article) for item in (*topic.tips, *topic.quiz) for c in item.sources}
    assert cited <= DOMESTIC_VIOLENCE_FACTS, cited - DOMESTIC_VIOLENCE_FACTS
    assert all(tip.asks for tip in topic.tips)
    bodies = " ".join(tip.body for tip in topic.tips)
    for must in ("告诫书", "人身安全保护令", "72小时", "24小时", "12338", "110"):
        assert must in bodies.replace(" ", ""), must
