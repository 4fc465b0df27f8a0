"""Chinese numerals as used in article numbers (第一百四十三条)."""

from __future__ import annotations

import re

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUM = "[零〇一二两三四五六七八九十百千]+"

# 第三十一条 / 第三十一条第一款 / 第二百八十七条之二 / 第十六条第（一）项 / 第二十九条第（一）项
ARTICLE_PATTERN = re.compile(
    rf"^第(?P<number>{_NUM})条(?:之(?:{_NUM}))?(?:第(?:{_NUM})款)?(?:第（(?:{_NUM})）项)?"
    rf"(?:、第(?:{_NUM})条)*$"
)


def chinese_to_int(text: str) -> int:
    """Parse 一百四十三 → 143, 十六 → 16, 二百零八 → 208. Raises ValueError on anything else."""
    if not text:
        raise ValueError("empty numeral")
    total, digit = 0, None
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        else:
            raise ValueError(f"not a Chinese numeral: {char!r}")
    return total + (digit or 0)


def article_numbers(article: str) -> list[int] | None:
    """The article numbers an `article` string names, or None if it is malformed."""
    if not ARTICLE_PATTERN.match(article):
        return None
    return [chinese_to_int(m) for m in re.findall(rf"第({_NUM})条", article)]
