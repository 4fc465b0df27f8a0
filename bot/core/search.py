"""Answering residents' own words from reviewed content: urgent intents first, then BM25 over the tips.

No generative model: answers are our cited, reviewed tips. Chinese has no spaces, so text is indexed as
character bigrams (plus whole keywords and latin/digit words), after normalising what residents type:
Traditional to Simplified (OpenCC), full-width to half-width (NFKC), case, punctuation and spaces removed,
and the typos and colloquialisms listed in content/synonyms.yaml mapped to the words our tips use.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from bot.content.model import Catalog, Tip, UrgentIntent
from bot.textnorm import normalize

# Bigrams that carry no meaning in a question ("how", "what", "I", ...): dropped from queries and documents.
STOP_BIGRAMS = frozenset(
    {
        "怎么",
        "什么",
        "怎样",
        "如何",
        "可以",
        "我们",
        "你们",
        "他们",
        "一个",
        "这个",
        "那个",
        "就是",
        "还是",
        "没有",
        "是不",
        "不是",
        "有没",
        "没事",
        "请问",
        "知道",
        "问一",
        "一下",
        "应该",
        "需要",
        "时候",
        "现在",
        "自己",
        "大家",
        "为什",
        "么办",
        "是否",
        "的话",
        "了吗",
        "吗我",
        "我家",
        "我的",
        "有人",
        "这样",
        "那样",
        "会不",
        "不会",
    }
)
FIELD_WEIGHTS = {"title": 2.0, "keywords": 3.0, "body": 1.0}
K1, B = 1.2, 0.75


def bigrams(text: str) -> list[str]:
    grams = [text[i : i + 2] for i in range(len(text) - 1)]
    return [g for g in grams if g not in STOP_BIGRAMS]


def terms(text: str, synonyms: dict[str, str] | None = None) -> list[str]:
    """Index terms of a text: character bigrams, and single characters for one-character words."""
    normalized = normalize(text, synonyms)
    found = bigrams(normalized)
    if len(normalized) == 1:
        found.append(normalized)
    return found


@dataclass(frozen=True)
class Hit:
    tip: Tip
    score: float


class TipIndex:
    """An inverted index of tips with BM25 scoring over weighted fields."""

    def __init__(self, tips: Iterable[Tip], synonyms: dict[str, str] | None = None) -> None:
        self.synonyms = dict(sorted((synonyms or {}).items(), key=lambda kv: -len(kv[0])))
        self.tips: list[Tip] = list(tips)
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        lengths = []
        for number, tip in enumerate(self.tips):
            weighted: Counter[str] = Counter()
            for field, weight in FIELD_WEIGHTS.items():
                texts = tip.keywords if field == "keywords" else [getattr(tip, field)]
                for text in texts:
                    for term in terms(text, self.synonyms):
                        weighted[term] += weight
                    if field == "keywords":  # a whole keyword ("冰毒", "96110") is a term of its own
                        weighted["§" + normalize(text, self.synonyms)] += weight
            lengths.append(sum(weighted.values()))
            for term, frequency in weighted.items():
                self.postings[term].append((number, frequency))
        self.average = sum(lengths) / len(lengths) if lengths else 1.0
        self.lengths = lengths
        self.keywords = {term[1:] for term in self.postings if term.startswith("§") and len(term) > 1}
        total = len(self.tips)
        self.idf = {t: math.log(1 + (total - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()}

    def query_terms(self, query: str, normalized: str | None = None) -> set[str]:
        """The query's bigrams and keywords; pass `normalized` when the caller normalised it already."""
        normalized = normalize(query, self.synonyms) if normalized is None else normalized
        return set(bigrams(normalized)) | {"§" + kw for kw in self._keywords_in(normalized)}

    def search(self, query: str, limit: int = 3) -> list[Hit]:
        return self.lookup(query, limit)[0]

    def lookup(self, query: str, limit: int = 3, normalized: str | None = None) -> tuple[list[Hit], int]:
        """The best hits and how many query terms there were (short questions get a lower bar)."""
        query_terms = self.query_terms(query, normalized)
        scores: dict[int, float] = defaultdict(float)
        for term in query_terms:
            idf = self.idf.get(term)
            if idf is None:
                continue
            for number, frequency in self.postings[term]:
                norm = K1 * (1 - B + B * self.lengths[number] / self.average)
                scores[number] += idf * frequency * (K1 + 1) / (frequency + norm)
        ranked = sorted(scores.items(), key=lambda item: -item[1])[:limit]
        return [Hit(self.tips[number], score) for number, score in ranked], len(query_terms)

    def _keywords_in(self, normalized: str) -> set[str]:
        """Whole keywords (up to 8 characters) that appear in the query."""
        size = len(normalized)
        pieces = {normalized[i:j] for i in range(size) for j in range(i + 1, min(size, i + 8) + 1)}
        return pieces & self.keywords


def detect_urgent(
    intents: Iterable[UrgentIntent],
    text: str,
    synonyms: dict[str, str] | None = None,
    normalized: str | None = None,
) -> UrgentIntent | None:
    """The first urgent intent whose trigger matches (all its words present) and no `unless` word does."""
    normalized = normalize(text, synonyms) if normalized is None else normalized
    for intent in intents:
        if any(word in normalized for word in intent.unless):
            continue
        if any(all(word in normalized for word in trigger) for trigger in intent.triggers):
            return intent
    return None


def build_index(catalog: Catalog, day: object = None) -> TipIndex:
    tips = [tip for tip in catalog.all_tips() if day is None or tip.is_served_on(day)]  # type: ignore[arg-type]
    return TipIndex(tips, catalog.synonyms)
