"""The JSON Schemas editors' tools use must agree with the checker on the starter content."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .conftest import CONTENT, REPO

SCHEMAS = REPO / "docs" / "schema"


def _as_json(value: Any) -> Any:
    """YAML reads dates as dates; JSON-Schema tools see them as strings."""
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted((CONTENT / "topics").glob("*.yaml")), ids=lambda p: p.name)
def test_topic_files_match_the_schema(path: Path) -> None:
    data = _as_json(yaml.safe_load(path.read_text(encoding="utf-8")))
    errors = [e.message for e in _validator("topic.schema.json").iter_errors(data)]
    assert errors == []


def test_places_and_laws_match_their_schemas() -> None:
    pairs = (
        ("places.yaml", "places.schema.json"),
        ("laws.yaml", "laws.schema.json"),
        ("campaigns.yaml", "campaigns.schema.json"),
    )
    for file, schema in pairs:
        data = _as_json(yaml.safe_load((CONTENT / file).read_text(encoding="utf-8")))
        assert [e.message for e in _validator(schema).iter_errors(data)] == [], file


def test_schema_rejects_what_the_checker_rejects() -> None:
    bad_question = {
        "id": "q",
        "question": "?",
        "options": ["a"],
        "answer": "E",
        "explanation": "x",
        "source": [{"law": "anti-fraud-law", "article": "第38条"}],
        "reviewed_on": "2026-01-01",
    }
    topic = {"id": "Bad_Id", "title": "t", "tips": [], "quiz": [bad_question], "titel": "typo"}
    messages = " ".join(e.message for e in _validator("topic.schema.json").iter_errors(topic))
    for fragment in ("Bad_Id", "titel", "'E' is not one of", "should be non-empty"):
        assert fragment in messages, fragment


def test_ui_catalogs_have_the_same_keys_and_placeholders() -> None:
    from bot.content.checker import check_catalogs

    assert check_catalogs() == []
