"""What to do with a resident's own words — one decision, used by the bot and by the quality measure alike.

In order: urgent help (someone is in danger now); one tip, when the best tip is clearly the answer; the closest
tips as a choice 「您是想问……」 when two subjects are close or the best match is only fair (a wrong answer given
with confidence costs more trust than a question back); the town's own help for a dispute the tips do not cover;
otherwise "not found".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.content.model import Catalog, DisputeKind, Tip, UrgentIntent
from bot.core.referrals import find_dispute
from bot.core.search import Hit, TipIndex, detect_urgent

MIN_SCORE = 6.0  # below this nothing matched well enough
PER_TERM = 3.0  # a very short question ("诈骗") cannot score high: its bar is lower, per term it has
RELATIVE = 0.5  # further hits must score at least half the best one
MAX_HITS = 3
SURE = 2.0  # the best tip is answered outright only at this many times the bar …
CLEAR_LEAD = 1.2  # … and this many times the best tip on another subject (closer: ask back) …
MIN_COVERAGE = 0.1  # … and when it has this share of the question's words; below it, the match is a coincidence
ASK_CLOSE = 0.5  # a dispute (离婚, 车祸) goes to the office unless the question is this close to a tip's example
SAME_TOPIC_LEADS = False  # a runner-up on the best tip's own subject is shown as related, not asked back


class Kind(enum.Enum):
    URGENT = "urgent"
    TIP = "tip"  # the first tip in full, the others as related buttons
    ASK_BACK = "ask_back"  # 「您是想问……」 with the tips as choices
    REFERRAL = "referral"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Decision:
    kind: Kind
    tips: tuple[Tip, ...] = ()
    urgent: UrgentIntent | None = None
    dispute: DisputeKind | None = None


def threshold(query_terms: int) -> float:
    """The score a best hit needs to be offered at all."""
    return min(MIN_SCORE, PER_TERM * max(1, query_terms))


def decide(catalog: Catalog, index: TipIndex, normalized: str, *, office: bool = True) -> Decision:
    """`normalized`: the question after `textnorm.normalize(text, catalog.synonyms)`."""
    intent = detect_urgent(catalog.urgent, normalized, normalized=normalized)
    if intent is not None:
        return Decision(Kind.URGENT, urgent=intent)
    hits, term_count = index.lookup(normalized, MAX_HITS, normalized=normalized)
    bar = threshold(term_count)
    hits = [hit for hit in hits if hit.score >= bar and hit.coverage >= MIN_COVERAGE]
    dispute = find_dispute(catalog.office, normalized, normalized=normalized) if office else None
    if hits and is_sure(hits, bar) and (dispute is None or hits[0].ask >= ASK_CLOSE):
        return Decision(Kind.TIP, tips=_close_to_best(hits))
    if dispute is not None:
        return Decision(Kind.REFERRAL, dispute=dispute)
    if hits:
        return Decision(Kind.ASK_BACK, tips=_close_to_best(hits))
    return Decision(Kind.NOT_FOUND)


def is_sure(hits: list[Hit], bar: float) -> bool:
    best = hits[0]
    rivals = [hit for hit in hits[1:] if not (SAME_TOPIC_LEADS and hit.tip.topic_id == best.tip.topic_id)]
    runner_up = rivals[0].score if rivals else 0.0
    return best.score >= SURE * bar and best.score >= CLEAR_LEAD * runner_up


def _close_to_best(hits: list[Hit]) -> tuple[Tip, ...]:
    return tuple(hit.tip for hit in hits if hit.score >= RELATIVE * hits[0].score)
