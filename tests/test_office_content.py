"""First contact, content side: the town's own help (office.yaml), nickname rules (names.yaml), urgent intents by who
is at risk (urgent.yaml)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.content.loader import load_catalog
from bot.content.model import Catalog, Contact, DisputeKind, Office, PlaceKind
from bot.content.problems import Severity
from bot.core.search import detect_urgent
from bot.textnorm import normalize

from .conftest import CONTENT, REPO, TODAY

SCHEMAS = REPO / "docs" / "schema"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    result = load_catalog(CONTENT, TODAY)
    assert result.catalog is not None, [str(p) for p in result.problems]
    assert result.problems == []
    return result.catalog


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def _problems(directory: Path) -> list[str]:
    return [p.render("en") for p in load_catalog(directory, TODAY).problems]


# -- office.yaml -------------------------------------------------------------------------------


def test_the_starter_office_is_loaded_as_typed_objects(catalog: Catalog) -> None:
    office = catalog.office
    assert isinstance(office, Office)
    assert isinstance(office.office, Contact) and office.office.name.endswith("司法所")
    assert office.office.address and office.office.hours
    assert office.hotline == "12348"
    villages = {p.id for p in catalog.places if p.kind in (PlaceKind.VILLAGE, PlaceKind.COMMUNITY)}
    assert set(office.mediation) == villages
    assert all(isinstance(c, Contact) and "人民调解委员会" in c.name and c.address for c in office.mediation.values())
    assert office.legal_aid is not None and "法律援助" in office.legal_aid.name
    assert {c.law.id for c in office.sources} == {"people-mediation-law", "legal-aid-law"}
    assert all(c.article is None for c in office.sources)  # the articles are not in legal-facts.md


def test_the_sample_office_invents_no_phone_number(catalog: Catalog) -> None:
    office = catalog.office
    assert office is not None
    contacts = [office.office, *office.mediation.values(), *([office.legal_aid] if office.legal_aid else [])]
    assert all(c.phone is None for c in contacts)


def test_dispute_kinds_cover_what_the_tips_do_not(catalog: Catalog) -> None:
    office = catalog.office
    assert office is not None
    assert all(isinstance(d, DisputeKind) for d in office.disputes)
    by_id = {d.id: d for d in office.disputes}
    for dispute_id, words in {
        "marriage-family": ("离婚", "彩礼", "抚养费"),
        "inheritance": ("继承", "遗产"),
        "homestead": ("宅基地",),
        "land-contract": ("土地承包",),
        "neighbour": ("邻里", "和邻居"),
        "unpaid-wages": ("讨薪", "拖欠工资", "劳动报酬"),
        "debt": ("借钱不还", "欠款"),
    }.items():
        assert set(words) <= set(by_id[dispute_id].keywords), dispute_id
    keywords = [k for d in office.disputes for k in d.keywords]
    assert len(keywords) == len(set(keywords))
    assert all(k == normalize(k) and k for k in keywords)
    tip_keywords = {normalize(k) for tip in catalog.all_tips() for k in tip.keywords}
    assert not tip_keywords & set(keywords)


def test_office_and_names_files_are_optional(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    (target / "office.yaml").unlink()
    (target / "names.yaml").unlink()
    result = load_catalog(target, TODAY)
    assert result.catalog is not None and result.problems == []
    assert result.catalog.office is None and result.catalog.blocked_name_words == ()


BROKEN_OFFICE = """\
office:
  name: 青石镇司法所
  address: 镇政府
  hours: 周一至周五
  fax: '0731-1234567'
mediation:
  no-such-village:
    name: 无名村人民调解委员会
    address: 村部
  qingshi-primary:
    name: 学校调解委员会
    address: 学校
  hexi-village:
    name: 河西村人民调解委员会
    address: 村部
    phone: 'call me'
legal_aid:
  name: 县法律援助中心
  phone: 07311234567
hotline: '12'
disputes:
  - id: debt
    name: 欠款
    keywords: [借钱不还, 这是一个远远超过二十个字的关键词所以检查器一定要报告它]
  - id: debt
    name: 又是欠款
    keywords: [借钱不还, 借钱]
source:
  - law: no-such-law
"""


def test_a_broken_office_file_reports_every_problem_by_line(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    (target / "office.yaml").write_text(BROKEN_OFFICE, encoding="utf-8")
    result = load_catalog(target, TODAY)
    assert result.catalog is None
    path = str(target / "office.yaml")
    problems = [p.render("en") for p in result.problems if p.file == path]
    expected = [
        f"{path}:5: unknown key 'fax' in office (司法所) (allowed: name, address, hours, phone)",
        f"{path}:7: unknown place 'no-such-village': use a village or community id from places.yaml",
        f"{path}:10: place 'qingshi-primary' is a school: mediation committees belong to villages and communities",
        f"{path}:16: phone of mediation committee of 'hexi-village' 'call me' is not a phone number: "
        "5–20 digits, '-' and spaces (e.g. '0731-1234567')",
        f"{path}:19: phone of legal_aid (法律援助中心) must be in quotes",
        f"{path}:20: hotline '12' is not a phone number",
        f"{path}:24: keyword is too long: 27 characters, at most 20",
        f"{path}:25: duplicate dispute id 'debt' (first defined at {path}:22)",
        f"{path}:27: keyword '借钱不还' is already listed for dispute 'debt'",
        f"{path}:27: warning: keyword '借钱' is also a keyword of tip 'fz-daikuan'",
        f"{path}:29: unknown law 'no-such-law': add it to laws.yaml or use one of its ids",
    ]
    assert len(problems) == len(expected), problems
    for line, want in zip(problems, expected, strict=True):
        assert line.startswith(want), (line, want)


def test_a_village_without_a_committee_is_a_warning_not_an_error(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    office = target / "office.yaml"
    text = office.read_text(encoding="utf-8")
    block = "  tangfang-village:\n    name: 塘坊村人民调解委员会\n    address: 塘坊村村部（村民委员会）\n"
    assert block in text
    office.write_text(text.replace(block, ""), encoding="utf-8")
    result = load_catalog(target, TODAY)
    assert result.catalog is not None and result.catalog.office is not None
    assert "tangfang-village" not in result.catalog.office.mediation
    (warning,) = result.problems
    assert warning.severity is Severity.WARNING and warning.key == "no_committee"
    assert "no mediation committee for 'tangfang-village'" in warning.message("en")
    assert warning.message().startswith("'tangfang-village'（塘坊村）没有人民调解委员会")  # Chinese unless asked


# -- names.yaml --------------------------------------------------------------------------------


def test_blocked_name_words_are_loaded_normalised(catalog: Catalog) -> None:
    words = catalog.blocked_name_words
    for word in ("习近平", "主席", "书记", "县长", "村长", "所长", "派出所", "法院", "司法所", "警察", "客服", "官方"):
        assert word in words
    assert all(w == normalize(w) and w for w in words)
    assert len(words) == len(set(words))
    assert "傻b" in words  # latin letters lower-cased like everything residents type


def test_names_file_problems_are_reported_by_line(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    (target / "names.yaml").write_text(
        "blocked:\n  - 所长\n  - ''\n  - 所 长\n  - '!!!'\n  - true\nextra: 1\n", encoding="utf-8"
    )
    path = str(target / "names.yaml")
    problems = [p for p in _problems(target) if p.startswith(path)]
    assert problems == [
        f"{path}:3: blocked word is empty",
        f"{path}:4: blocked word '所 长' appears twice (first at {path}:2)",
        f"{path}:5: blocked word '!!!' has no Chinese characters, letters or digits",
        f"{path}:6: blocked word must be text, not the boolean true "
        "(YAML reads yes/no/true/false as booleans: put the text in quotes)",
        f"{path}:7: unknown key 'extra' in names file (allowed: blocked)",
    ]


# -- urgent.yaml -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("小孩落水", "person-in-water"),
        ("有人落水", "person-in-water"),
        ("孩子掉水里", "person-in-water"),
        ("被骗了", "scam-in-progress"),
        ("我被骗了", "scam-in-progress"),
        ("我在KTV有人给我递K粉", "drugs-to-adult"),
        ("有人给我家孩子递烟", "drugs-to-child"),
        ("同学让我吸一口那个", "drugs-to-child"),
        ("我儿子玩游戏被人骗了八百块", "scam-to-child"),
        ("孩子说免费领皮肤，用我手机扫码付了钱", "scam-to-child"),
        ("有人冒充我孙子打电话要钱，我转了五千", "scam-in-progress"),
        ("他把伢子打得全身是伤", "violence-to-child"),
        ("我男人喝醉了又打我，我带着伢子跑出来了", "domestic-violence"),
    ],
)
def test_urgent_intents_by_who_is_at_risk(catalog: Catalog, message: str, intent: str) -> None:
    found = detect_urgent(catalog.urgent, message, catalog.synonyms)
    assert found is not None and found.id == intent


@pytest.mark.parametrize(
    "message", ["打孩子犯法吗", "孩子被打了一针疫苗", "过年给孩子买烟花", "KTV里常见的毒品有哪些", "怎么教孩子防骗"]
)
def test_questions_about_the_same_words_are_not_urgent(catalog: Catalog, message: str) -> None:
    assert detect_urgent(catalog.urgent, message, catalog.synonyms) is None


def test_child_intents_come_first_and_every_trigger_names_a_child(catalog: Catalog) -> None:
    order = [i.id for i in catalog.urgent]
    # a child, or the place children are: "学校门口+奶茶粉" names the school gate
    child_words = ("孩", "伢", "娃", "崽", "儿子", "女儿", "孙", "学生", "同学", "小朋友", "未成年", "校门口")
    for child, adult in (
        ("violence-to-child", "domestic-violence"),
        ("drugs-to-child", "drugs-to-adult"),
        ("scam-to-child", "scam-in-progress"),
    ):
        assert order.index(child) < order.index(adult)
        intent = next(i for i in catalog.urgent if i.id == child)
        for trigger in intent.triggers:
            assert any(c in word for word in trigger for c in child_words), (child, trigger)


def test_every_urgent_reply_cites_its_facts(catalog: Catalog) -> None:
    for intent in catalog.urgent:
        assert intent.sources and len(intent.reply) <= 300, intent.id
    adult_drugs = next(i for i in catalog.urgent if i.id == "drugs-to-adult")
    assert ("public-security-penalties-law", "第八十四条") in {(c.law.id, c.article) for c in adult_drugs.sources}
    assert "3000元" in adult_drugs.reply and "110" in adult_drugs.reply


def test_alternatives_in_a_trigger_expand_and_are_bounded(tmp_path: Path) -> None:
    target = _copy(tmp_path)
    (target / "urgent.yaml").write_text(
        "urgent:\n"
        "  - id: test-intent\n"
        "    name: 测试\n"
        "    triggers: ['甲|乙+丙', '丁|+戊']\n"
        "    reply: 回复\n"
        "    source: [{law: mps-fraud-warnings}]\n"
        "  - id: too-many\n"
        "    name: 太多\n"
        f"    triggers: ['{'|'.join('一二三四五六七八九十'[i % 10] + str(i) for i in range(30))}"
        f"+{'|'.join(str(i) for i in range(20))}']\n"
        "    reply: 回复\n"
        "    source: [{law: mps-fraud-warnings}]\n",
        encoding="utf-8",
    )
    result = load_catalog(target, TODAY)
    path = str(target / "urgent.yaml")
    messages = [p.render("en") for p in result.problems]
    assert f"{path}:4: trigger '丁|+戊' has an empty word (write words joined by +, alternatives by |)" in messages
    assert any(m.startswith(f"{path}:9: trigger") and "600 word combinations, at most 500" in m for m in messages)
    (target / "urgent.yaml").write_text(
        "urgent:\n  - id: test-intent\n    name: 测试\n    triggers: ['甲|乙+丙']\n    reply: 回复\n"
        "    source: [{law: mps-fraud-warnings}]\n",
        encoding="utf-8",
    )
    catalog = load_catalog(target, TODAY).catalog
    assert catalog is not None
    assert catalog.urgent[0].triggers == (("甲", "丙"), ("乙", "丙"))


# -- schemas -----------------------------------------------------------------------------------


def _as_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@pytest.mark.parametrize(
    ("file", "schema"),
    [("office.yaml", "office.schema.json"), ("names.yaml", "names.schema.json"), ("urgent.yaml", "urgent.schema.json")],
)
def test_starter_files_match_their_schemas(file: str, schema: str) -> None:
    validator = jsonschema.Draft202012Validator(json.loads((SCHEMAS / schema).read_text(encoding="utf-8")))
    jsonschema.Draft202012Validator.check_schema(validator.schema)
    data = _as_json(yaml.safe_load((CONTENT / file).read_text(encoding="utf-8")))
    assert [e.message for e in validator.iter_errors(data)] == []


def test_office_schema_rejects_what_the_checker_rejects() -> None:
    validator = jsonschema.Draft202012Validator(json.loads((SCHEMAS / "office.schema.json").read_text("utf-8")))
    data = yaml.safe_load(BROKEN_OFFICE)
    messages = " ".join(e.message for e in validator.iter_errors(data))
    for fragment in ("'fax'", "'call me' does not match", "is not of type 'string'", "'12' does not match"):
        assert fragment in messages, fragment
