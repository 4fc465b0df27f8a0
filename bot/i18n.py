"""The UI message catalog: every resident-facing string outside content/ comes from here.

Catalogs are YAML files in `bot/locales/`, nested keys flattened to dotted names
("menu.topics"). A missing key falls back to Chinese, then to the key itself, so a
half-translated catalog can never crash a conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGES = ("zh-CN", "en")


def normalize_language(code: str | None) -> str:
    """Map a client's language code (zh, zh-hans, en-GB, …) onto a catalog we have."""
    if code and code.lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@cache
def catalog_strings(language: str, directory: Path = LOCALES_DIR) -> dict[str, str]:
    """Every UI string of one language, nested keys flattened to dotted names."""
    with (directory / f"{language}.yaml").open(encoding="utf-8") as handle:
        # libyaml when PyYAML has it: the catalog is large, and every command and process start reads it
        return _flatten(yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {})


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    """`t("menu.topics")` in one language, with fallbacks."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self._strings = catalog_strings(self.language)
        self._fallback = catalog_strings(DEFAULT_LANGUAGE)

    def __call__(self, key: str, /, **values: Any) -> str:
        template = self._strings.get(key) or self._fallback.get(key) or key
        # format_map with a defaulting dict: a placeholder the caller forgot stays visible, no KeyError
        return template.format_map(_Defaulting(values)) if values or "{" in template else template


@cache
def translator(language: str) -> Translator:
    return Translator(language)
