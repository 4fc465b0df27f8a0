"""Normalising what residents type, so that 詐騙, ＡＢＣ and "刷 单！" match our tips' 诈骗, abc and 刷单.

Traditional to Simplified with OpenCC (a maintained converter: hand-made tables miss too much), full-width to
half-width with NFKC, lower case, and everything but Chinese characters, latin letters and digits dropped.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

_KEEP = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf0-9a-z]+")


@lru_cache(maxsize=1)
def _converter() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def normalize(text: str, synonyms: dict[str, str] | None = None) -> str:
    """詐騙電話！ → 诈骗电话; spaces, punctuation and emoji dropped; then `synonyms` (typo -> word) applied."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = _converter().convert(text)
    text = "".join(_KEEP.findall(text))
    if synonyms:
        for wrong, right in synonyms.items():
            if wrong in text:
                text = text.replace(wrong, right)
    return text
