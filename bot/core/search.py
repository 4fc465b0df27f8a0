"""Answering residents' own words from reviewed content: urgent intents first, then BM25 over the tips.

No generative model: answers are our cited, reviewed tips. Chinese has no spaces, so text is indexed as
character bigrams (plus whole keywords and latin/digit words), after normalising what residents type:
Traditional to Simplified (OpenCC), full-width to half-width (NFKC), case, punctuation and spaces removed,
and the typos and colloquialisms listed in content/synonyms.yaml mapped to the words our tips use.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter

from bot.content.model import Catalog, Tip, UrgentIntent
from bot.core.sounds import SoundAlikes
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
        # question words of everyday and dialect speech (怎么样, 什么样, 咋个办, 么子, 啥子): no subject in them
        "么样",
        "咋个",
        "个办",
        "么子",
        "啥子",
    }
)
FIELD_WEIGHTS = {"title": 2.0, "keywords": 6.0, "body": 0.5, "asks": 1.0}
K1, B = 1.2, 0.75
ASK_SUBJECT = 1.0  # how much a word's weight in the example-question match depends on its telling the subject
ASK_WEIGHT = 2.0  # how much a close example question (`asks:`) adds, relative to the tip's own BM25 score
CANDIDATES = 50  # tips re-ranked by example questions and subject
LONG_QUESTION = 12  # terms: beyond this the coverage's denominator stops growing
UNKNOWN_WORD = 0.5  # a question's word no tip has weighs this share of a typical word in the coverage
TOPIC_FLOOR = 0.3  # a tip on a subject the question's telling words do not point to keeps this share of its score


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
    ask: float = 0.0  # cosine between the question and the tip's closest example question (0–1)
    coverage: float = 0.0  # share of the question's words (idf-weighted) that the tip has (0–1)


class TipIndex:
    """Tips scored three ways, multiplied together:

    - BM25 over the tip's weighted fields (title, keywords, body, and the residents' example questions);
    - the closest example question (`asks:`): idf-weighted cosine of bigram sets, so a question typed the way
      an ask is typed lifts its tip even when the tip's own wording is different;
    - the question's subject: each term votes for the topics whose tips use it, in proportion to how much of
      its use is in that topic (打钱, 落水 vote for one topic; 孩子, 在外打工 spread over all and barely count);
      a tip on a subject the question's telling words do not point to keeps only part of its score.
    """

    def __init__(self, tips: Iterable[Tip], synonyms: dict[str, str] | None = None) -> None:
        self.synonyms = dict(sorted((synonyms or {}).items(), key=lambda kv: -len(kv[0])))
        self.tips: list[Tip] = list(tips)
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        lengths = []
        for number, tip in enumerate(self.tips):
            weighted: Counter[str] = Counter()
            for field, weight in FIELD_WEIGHTS.items():
                texts = tip.keywords if field == "keywords" else tip.asks if field == "asks" else [getattr(tip, field)]
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
        # Typos by sound (正信 → 征信, 冰度 → 冰毒, 贩du → 贩毒): a word no tip has is read as the tips' word that
        # sounds the same.
        self.sounds = SoundAlikes(term for term in self.idf if not term.startswith("§"))
        ranked_idf = sorted(self.idf.values())
        self.typical_idf = ranked_idf[len(ranked_idf) // 2] if ranked_idf else 1.0
        self._index_subjects()
        self._index_asks()
        # Each posting's BM25 share, worked out once here rather than for every question.
        self.scored: dict[str, list[tuple[int, float]]] = {
            term: [
                (number, self.idf[term] * f * (K1 + 1) / (f + K1 * (1 - B + B * lengths[number] / self.average)))
                for number, f in posting
            ]
            for term, posting in self.postings.items()
        }

    def _index_asks(self) -> None:
        # A word weighs by its rarity and by how surely it tells the subject: question words residents use on every
        # subject (判几年, 咋个办, 是真的吗) are rare among tips yet say nothing about which tip is meant.
        self.ask_weight = {
            term: self.idf[term] * max(shares.values()) ** ASK_SUBJECT for term, shares in self.subjects.items()
        }
        self.tip_asks: list[list[tuple[frozenset[str], float]]] = []  # per tip: (terms, norm) of each ask
        for tip in self.tips:
            asks = []
            for ask in tip.asks:
                found = frozenset(terms(ask, self.synonyms)) & self.idf.keys()
                if found:
                    asks.append((found, math.sqrt(sum(self.ask_weight[t] for t in found))))
            self.tip_asks.append(asks)

    def _index_subjects(self) -> None:
        """For each term, the share of its use per topic, each topic's use scaled to the topic's size."""
        mass: dict[str, float] = defaultdict(float)
        for number, tip in enumerate(self.tips):
            mass[tip.topic_id] += self.lengths[number]
        self.subjects: dict[str, dict[str, float]] = {}
        for term, posting in self.postings.items():
            use: dict[str, float] = defaultdict(float)
            for number, frequency in posting:
                topic = self.tips[number].topic_id
                use[topic] += frequency / mass[topic]
            whole = sum(use.values())
            self.subjects[term] = {topic: value / whole for topic, value in use.items()}

    def query_terms(self, query: str, normalized: str | None = None) -> set[str]:
        """The query's bigrams and keywords; pass `normalized` when the caller normalised it already."""
        return self._query(normalize(query, self.synonyms) if normalized is None else normalized)[0]

    def _query(self, normalized: str) -> tuple[set[str], int]:
        """The query's terms (its bigrams, the tips' bigrams its unknown ones sound like, the keywords in it) and
        how many terms the question itself has (the bar for short questions counts these only)."""
        typed = set(bigrams(normalized)) | {"§" + kw for kw in self._keywords_in(normalized)}
        unknown = [term for term in typed if term not in self.idf]
        return typed | self.sounds.alikes(unknown, normalized), len(typed)

    def search(self, query: str, limit: int = 3) -> list[Hit]:
        return self.lookup(query, limit)[0]

    def lookup(self, query: str, limit: int = 3, normalized: str | None = None) -> tuple[list[Hit], int]:
        """The best hits and how many query terms there were (short questions get a lower bar)."""
        query_terms, typed = self._query(normalize(query, self.synonyms) if normalized is None else normalized)
        known = [term for term in query_terms if term in self.idf]
        scores: dict[int, float] = {}
        matched: dict[int, float] = {}
        for term in known:
            idf = self.idf[term]
            for number, contribution in self.scored[term]:
                scores[number] = scores.get(number, 0.0) + contribution
                matched[number] = matched.get(number, 0.0) + idf
        if not scores:
            return [], typed
        # Words no tip has count as ordinary ones: "今天天气怎么样" shares only 天天 with any tip, not a match.
        unknown_idf = UNKNOWN_WORD * self.typical_idf
        whole = sum(self.idf[term] for term in known) + unknown_idf * max(0, typed - len(known))
        # A long story ends with its question: its coverage is measured against a question's worth of words.
        whole = min(whole, LONG_QUESTION * self.typical_idf)
        # The example questions and the subject re-rank the best BM25 candidates; far below them nothing can win.
        candidates = heapq.nlargest(CANDIDATES, scores.items(), key=itemgetter(1))
        query = frozenset(known)
        query_norm = math.sqrt(sum(self.ask_weight[t] for t in query)) or 1.0
        subject = self._subject(known)
        ranked = []
        for number, score in candidates:
            closest = self._closest_ask(number, query, query_norm)
            share = subject.get(self.tips[number].topic_id, 0.0)
            final = score * (1 + ASK_WEIGHT * closest) * (TOPIC_FLOOR + (1 - TOPIC_FLOOR) * share)
            ranked.append(Hit(self.tips[number], final, closest, matched[number] / whole if whole else 0.0))
        ranked.sort(key=lambda hit: -hit.score)
        return ranked[:limit], typed

    def _closest_ask(self, number: int, query: frozenset[str], query_norm: float) -> float:
        """The cosine between the question and the tip's closest example question (0–1)."""
        best = 0.0
        for ask_terms, norm in self.tip_asks[number]:
            overlap = sum(self.ask_weight[t] for t in ask_terms & query)
            if overlap:
                best = max(best, overlap / (norm * query_norm))
        return best

    def _subject(self, known: list[str]) -> dict[str, float]:
        """How strongly the question points to each topic, the strongest being 1."""
        votes: dict[str, float] = defaultdict(float)
        for term in known:
            idf = self.idf[term]
            for topic, share in self.subjects[term].items():
                votes[topic] += idf * share
        top = max(votes.values(), default=0.0)
        return {topic: vote / top for topic, vote in votes.items()} if top else {}

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
    """The first urgent intent one of whose triggers matches (all its words present) and no `unless` word does.

    A `now` word (现在, 正在, 救命) overrides `unless` and lets the intent's `now_triggers` match too.
    """
    normalized = normalize(text, synonyms) if normalized is None else normalized
    for intent in intents:
        now = any(word in normalized for word in intent.now)
        if not now and any(word in normalized for word in intent.unless):
            continue
        if any(all(word in normalized for word in trigger) for trigger in intent.triggers):
            return intent
        if now and any(all(word in normalized for word in trigger) for trigger in intent.now_triggers):
            return intent
    return None


def build_index(catalog: Catalog, day: object = None) -> TipIndex:
    tips = [tip for tip in catalog.all_tips() if day is None or tip.is_served_on(day)]  # type: ignore[arg-type]
    return TipIndex(tips, catalog.synonyms)
