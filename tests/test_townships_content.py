"""Townships as tenants: places.yaml may declare `townships:` and name one on every place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.content.checker import check_directory
from bot.content.loader import load_catalog
from bot.content.model import TOWN_ID, Catalog, Place, PlaceKind, Township
from bot.content.problems import Problem, Severity

from .conftest import CONTENT, REPO, TODAY

# The shipped places, split between two townships: the first three places are 周家店镇's, the rest 青石镇's.
ZHOUJIADIAN = ("qingshi-village", "hexi-village", "zhenjie-community")
TOWNSHIPS = "townships:\n  - id: zhoujiadian\n    name: 周家店镇\n  - id: qingshi\n    name: 青石镇\n"


def _place_ids() -> list[str]:
    data = yaml.safe_load((CONTENT / "places.yaml").read_text(encoding="utf-8"))
    return [p["id"] for p in data["places"]]


def _assigned(township_of: dict[str, str | None], townships: str = TOWNSHIPS) -> str:
    """The shipped places.yaml with `townships` before `places:` and a `township:` after each place's `kind:` line,
    as `township_of` says (None: no `township:` line for that place)."""
    out: list[str] = []
    place = None
    for line in (CONTENT / "places.yaml").read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("places:"):
            out.append(townships)
        if line.startswith("  - id: "):
            place = line.split(":", 1)[1].strip()
        out.append(line)
        if line.startswith("    kind: ") and township_of.get(place) is not None:
            out.append(f"    township: {township_of[place]}\n")
    return "".join(out)


def _two_townships() -> dict[str, str | None]:
    return {p: "zhoujiadian" if p in ZHOUJIADIAN else "qingshi" for p in _place_ids()}


def _content(tmp_path: Path, places_yaml: str) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    (target / "places.yaml").write_text(places_yaml, encoding="utf-8")
    return target


def _line_of(text: str, fragment: str, after: str | None = None) -> int:
    """The 1-based line of the first line containing `fragment` (after the first one containing `after`), not counting
    comments (places.yaml shows the syntax in comments at its top)."""
    lines = ["" if line.lstrip().startswith("#") else line for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and fragment in line) + 1


def _errors(target: Path) -> list[Problem]:
    result = load_catalog(target, TODAY)
    assert result.catalog is None
    return [p for p in result.problems if p.severity is Severity.ERROR]


# -- two townships -----------------------------------------------------------------------------


def test_two_townships_load_and_every_place_belongs_to_one(tmp_path: Path) -> None:
    target = _content(tmp_path, _assigned(_two_townships()))
    result = load_catalog(target, TODAY)
    assert result.catalog is not None, [str(p) for p in result.problems]
    assert result.problems == []
    catalog = result.catalog
    assert catalog.townships == (Township("zhoujiadian", "周家店镇"), Township("qingshi", "青石镇"))
    assert catalog.multi_township
    assert catalog.township("zhoujiadian") == Township("zhoujiadian", "周家店镇")
    assert catalog.township("nowhere") is None and catalog.township(TOWN_ID) is None
    assert tuple(p.id for p in catalog.places_of("zhoujiadian")) == ZHOUJIADIAN
    others = tuple(p for p in _place_ids() if p not in ZHOUJIADIAN)
    assert tuple(p.id for p in catalog.places_of("qingshi")) == others
    assert catalog.places_of("nowhere") == ()
    assert catalog.township_of("hexi-village") == "zhoujiadian"
    assert catalog.township_of("hexi-primary") == "qingshi"
    assert catalog.township_of("no-such-place") is None
    assert all(catalog.township_of(p.id) == p.township_id for p in catalog.places)
    assert len(catalog.places) == len(_place_ids())
    # office.yaml and campaigns.yaml still refer to the same place ids: nothing else changes
    assert catalog.office is not None and catalog.campaigns


def test_the_check_command_passes_on_two_townships(tmp_path: Path) -> None:
    report = check_directory(_content(tmp_path, _assigned(_two_townships())), TODAY)
    assert not report.failed, report.render("en")


def test_one_declared_township_is_not_multi_township(tmp_path: Path) -> None:
    one = "townships:\n  - id: zhoujiadian\n    name: 周家店镇\n"
    target = _content(tmp_path, _assigned(dict.fromkeys(_place_ids(), "zhoujiadian"), one))
    catalog = load_catalog(target, TODAY).catalog
    assert catalog is not None
    assert catalog.townships == (Township("zhoujiadian", "周家店镇"),)
    assert not catalog.multi_township
    assert len(catalog.places_of("zhoujiadian")) == len(catalog.places)


# -- the shipped content: one town --------------------------------------------------------------


def test_shipped_content_is_one_implicit_township() -> None:
    catalog = load_catalog(CONTENT, TODAY).catalog
    assert catalog is not None
    assert catalog.townships == (Township(TOWN_ID, catalog.town),) == (Township("town", "青石镇"),)
    assert not catalog.multi_township
    assert catalog.township(TOWN_ID) == catalog.townships[0]
    assert catalog.places_of(TOWN_ID) == catalog.places
    assert {catalog.township_of(p.id) for p in catalog.places} == {TOWN_ID}


def test_a_catalog_built_without_townships_has_the_implicit_one() -> None:
    place = Place("east", "东村", PlaceKind.VILLAGE)
    catalog = Catalog(town="测试镇", topics=(), places=(place,))
    assert place.township_id == TOWN_ID
    assert catalog.townships == (Township(TOWN_ID, "测试镇"),)
    assert catalog.places_of(TOWN_ID) == (place,) and not catalog.multi_township


# -- problems, each at its file:line ------------------------------------------------------------


def test_a_place_without_a_township_is_an_error_at_the_place(tmp_path: Path) -> None:
    assignment = _two_townships() | {"chayuan-village": None}
    text = _assigned(assignment)
    target = _content(tmp_path, text)
    (problem,) = _errors(target)
    assert (problem.file, problem.line, problem.key) == (
        str(target / "places.yaml"),
        _line_of(text, "- id: chayuan-village"),
        "township_missing",
    )
    assert problem.params["id"] == "chayuan-village"
    assert problem.message() == (
        "地点 'chayuan-village' 没有写 township：places.yaml 写了 townships，"
        "每个地点都要写它属于哪个乡镇（zhoujiadian、qingshi）"
    )
    assert problem.message("en").startswith("place 'chayuan-village' has no 'township'")


def test_an_unknown_township_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = _assigned(_two_townships() | {"hexi-primary": "zhoujiadain"})
    target = _content(tmp_path, text)
    (problem,) = _errors(target)
    assert (problem.file, problem.line, problem.key) == (
        str(target / "places.yaml"),
        _line_of(text, "township: zhoujiadain"),
        "unknown_township",
    )
    assert problem.params["township"] == "zhoujiadain"
    assert problem.message() == "未知的乡镇 'zhoujiadain'：请用 townships 里写的乡镇 id（zhoujiadian、qingshi）"
    assert "unknown township 'zhoujiadain'" in problem.message("en")


def test_a_duplicate_township_id_is_an_error_naming_the_first(tmp_path: Path) -> None:
    townships = TOWNSHIPS + "  - id: qingshi\n    name: 青石乡\n"
    text = _assigned(_two_townships(), townships)
    target = _content(tmp_path, text)
    (problem,) = _errors(target)
    path = str(target / "places.yaml")
    first, second = _line_of(text, "- id: qingshi"), _line_of(text, "name: 青石乡") - 1
    assert (problem.file, problem.line, problem.key) == (path, second, "duplicate_id")
    assert problem.render() == f"{path}:{second}: 乡镇 id 'qingshi' 重复了（第一次出现在 {path}:{first}）：请换一个 id"
    assert problem.render("en") == f"{path}:{second}: duplicate township id 'qingshi' (first defined at {path}:{first})"


def test_a_township_without_townships_says_to_declare_them(tmp_path: Path) -> None:
    text = _assigned({"tangfang-village": "zhoujiadian"}, townships="")
    target = _content(tmp_path, text)
    (problem,) = _errors(target)
    assert (problem.file, problem.line, problem.key) == (
        str(target / "places.yaml"),
        _line_of(text, "township: zhoujiadian"),
        "township_undeclared",
    )
    assert problem.params == {"township": "zhoujiadian"}
    assert "没有写 townships" in problem.message() and "先在文件开头写 townships" in problem.message()
    assert "declares no townships" in problem.message("en")


def test_a_broken_township_entry_is_reported_once(tmp_path: Path) -> None:
    """A township with errors of its own: the places naming it are not reported as unknown as well."""
    townships = "townships:\n  - id: zhoujiadian\n  - id: qingshi\n    name: 青石镇\n    seat: 青石街\n"
    text = _assigned(_two_townships(), townships)
    target = _content(tmp_path, text)
    problems = _errors(target)
    assert [(p.line, p.key) for p in problems] == [
        (_line_of(text, "- id: zhoujiadian"), "missing_key"),
        (_line_of(text, "seat: 青石街"), "unknown_key"),
    ]
    assert problems[0].render("en").endswith("township is missing required key 'name'")


@pytest.mark.parametrize(
    ("townships", "key"),
    [("townships:\n", "empty"), ("townships: []\n", "list_size"), ("townships: zhoujiadian\n", "not_list")],
)
def test_townships_that_are_not_a_list_of_townships(tmp_path: Path, townships: str, key: str) -> None:
    text = _assigned(_two_townships(), townships)
    target = _content(tmp_path, text)
    problems = _errors(target)
    assert [(p.line, p.key) for p in problems] == [(_line_of(text, "townships:"), key)]  # no cascade on the places


# -- the editors' schema -------------------------------------------------------------------------


def _schema_errors(places_yaml: str) -> list[str]:
    schema = json.loads((REPO / "docs" / "schema" / "places.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [e.message for e in validator.iter_errors(yaml.safe_load(places_yaml))]


def test_the_schema_accepts_townships_and_rejects_what_the_checker_rejects() -> None:
    assert _schema_errors(_assigned(_two_townships())) == []
    assert _schema_errors(_assigned({}, townships="")) == []  # today's format
    assert _schema_errors(_assigned(_two_townships() | {"chayuan-village": None})) != []
    assert _schema_errors(_assigned({"tangfang-village": "zhoujiadian"}, townships="")) != []
    assert _schema_errors(_assigned(_two_townships(), "townships:\n  - id: Bad_Id\n    name: 某镇\n")) != []
