"""Ledger activity types (普法台账) and the unit each one's count is measured in, read from data."""

from __future__ import annotations

from pathlib import Path

import yaml

ACTIVITY_TYPES_FILE = Path(__file__).with_name("activity_types.yaml")


def _load(path: Path) -> dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"{path}: expected a mapping of activity type to unit")
    return dict(data)


# Insertion order is the order offices see them in (menus, usage texts, templates).
ACTIVITY_TYPES: dict[str, str] = _load(ACTIVITY_TYPES_FILE)


def unit_of(activity_type: str) -> str:
    return ACTIVITY_TYPES.get(activity_type, "次")
