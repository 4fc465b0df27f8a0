"""Typos by sound: residents type what they hear (正信 for 征信, 野永 for 野泳, 贩du for 贩毒).

A bigram of the question that no tip has is replaced by the tips' bigrams that sound the same, read in pinyin
without tones (pypinyin) and with the sounds many southern speakers do not tell apart merged (zh/z, ch/c, sh/s,
n/l, -ing/-in, -eng/-en). Only unknown bigrams are read this way, so a word the tips do use is never second-guessed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from pypinyin import Style, lazy_pinyin

_LATIN_SYLLABLE = re.compile(r"[a-z]+")
_MERGED = [(re.compile(r"^([zcs])h"), r"\1"), (re.compile(r"^l"), "n"), (re.compile(r"(i|e)ng$"), r"\1n")]


def _plain(syllable: str) -> str:
    for pattern, replacement in _MERGED:
        syllable = pattern.sub(replacement, syllable)
    return syllable


def sound(text: str) -> tuple[str, ...] | None:
    """The merged syllables of a Chinese bigram ("征信" → ("zen", "xin")); None when it has no Chinese to read."""
    if not any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return None
    return tuple(_plain(s) for s in lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: list(chars)))


class SoundAlikes:
    def __init__(self, known_bigrams: Iterable[str]) -> None:
        self._by_sound: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for bigram in known_bigrams:
            if len(bigram) == 2 and (key := sound(bigram)) is not None and len(key) == 2:
                self._by_sound[key].add(bigram)

    def alikes(self, unknown: Iterable[str], normalized: str) -> set[str]:
        """Known bigrams that sound like the unknown ones, and like a Chinese character followed by a typed
        syllable ("贩du" → 贩毒)."""
        found: set[str] = set()
        for bigram in unknown:
            key = sound(bigram)
            if key is not None and len(key) == 2:
                found |= self._by_sound.get(key, set())
        for match in _LATIN_SYLLABLE.finditer(normalized):
            start = match.start()
            if start and "\u4e00" <= normalized[start - 1] <= "\u9fff":
                before = sound(normalized[start - 1])
                if before:
                    found |= self._by_sound.get((before[0], _plain(match.group())), set())
        return found
