"""Ledger activity types (普法台账), the unit each one's count is measured in, and the other names offices
write for them, read from data."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import yaml

ACTIVITY_TYPES_FILE = Path(__file__).with_name("activity_types.yaml")
AUDIENCE_UNIT = "人次"  # a type counted in 人次 is an audience: people who were there


def _load(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(type -> unit, any name or alias -> type)."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of activity type to unit")
    units: dict[str, str] = {}
    names: dict[str, str] = {}
    for kind, spec in data.items():
        unit, aliases = _spec(path, kind, spec)
        units[kind] = unit
        for name in (kind, *aliases):
            if _key(name) in names:
                raise ValueError(f"{path}: {name!r} names two activity types")
            names[_key(name)] = kind
    return units, names


def _spec(path: Path, kind: Any, spec: Any) -> tuple[str, list[str]]:
    if isinstance(kind, str) and isinstance(spec, str):
        return spec, []
    if isinstance(kind, str) and isinstance(spec, dict) and isinstance(spec.get("unit"), str):
        aliases = spec.get("aliases") or []
        if isinstance(aliases, list) and all(isinstance(a, str) for a in aliases):
            return spec["unit"], aliases
    raise ValueError(f"{path}: {kind!r}: expected a unit, or a mapping with unit and a list of aliases")


def _key(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split()).lower()


# Insertion order is the order offices see them in (menus, usage texts, templates).
ACTIVITY_TYPES, _NAMES = _load(ACTIVITY_TYPES_FILE)


def unit_of(activity_type: str) -> str:
    return ACTIVITY_TYPES.get(activity_type, "次")


def canonical_type(text: str) -> str | None:
    """The activity type `text` names (the type itself or one of its aliases), or None."""
    return _NAMES.get(_key(text))


def is_audience(activity_type: str) -> bool:
    """Whether the type's count is people (人次), so it cannot exceed the place's population."""
    return activity_type in ACTIVITY_TYPES and unit_of(activity_type) == AUDIENCE_UNIT
