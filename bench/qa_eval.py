"""Measuring answer quality on a labelled set: top-1/top-3 accuracy, the confident-wrong rate, urgent recall, the
false-alarm rate and top-1 per way of typing. Used by bench/qa_quality.py (prints the figures) and by the test suite
(enforces TARGETS on tests/data/questions.yaml).

Sets (tests/data/):
  questions.yaml             written next to the content (the targets were set on it);
  questions-colloquial.yaml  typed the way villagers type, written from the subjects before labelling; it has
                             "no tip" questions (`expect: []`), a `form:` per question and optional `urgent_ok:`.

The answer is the bot's own decision (bot/core/deciding.py): urgent help, one tip shown in full (with related
tips as buttons), a choice 「您是想问……」 of up to 3 tips, the office, or "not found".

What counts, per question (`questions:`):
  top-1      a labelled question whose first tip offered (shown in full, or the first choice of 「您是想问」) is in
             `expect`, or which got the urgent help of an intent in `urgent_ok`; over the labelled questions only.
  top-3      same, with any of the (up to 3) tips offered.
  asked back the answer was 「您是想问」 (reported, so that asking back cannot hide a weak answerer).
  held back  a no-tip question that got no tip: the office, "not found", or urgent help allowed by `urgent_ok`.
  confident  a tip shown in full that is wrong: a labelled question whose tip shown is not in `expect`, or a
  wrong      no-tip question that got a tip shown in full; over all questions.
Urgent recall is over `urgent:`; false alarms are over `near_miss:` (calm questions that set off urgent help are
counted apart, as `urgent_on_questions`).

`referrals=False` skips the office step (for the set written before the office existed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.content.model import Catalog
from bot.core.deciding import Kind, decide
from bot.core.search import TipIndex, build_index, detect_urgent
from bot.textnorm import normalize

TARGETS = {"top3": 0.90, "urgent_recall": 1.0, "false_alarms": 0.05}
# Issue 14's targets for questions typed the way villagers type; the suite fails below them.
COLLOQUIAL_TARGETS = {"top1": 0.90, "confident_wrong": 0.05, "urgent_recall": 1.0, "false_alarms": 0.05}
NO_FORM = "-"


@dataclass(frozen=True)
class Outcome:
    """What a resident gets for one message: urgent help, the office, tips (first = shown in full), a choice."""

    urgent: str | None = None
    referral: str | None = None
    shown: tuple[str, ...] = ()
    asked_back: bool = False  # `shown` were offered as 「您是想问」 choices, none shown in full

    def describe(self) -> str:
        if self.urgent:
            return f"urgent:{self.urgent}"
        if self.referral:
            return f"office:{self.referral}"
        if self.asked_back:
            return "asked back: " + ", ".join(self.shown)
        return ", ".join(self.shown) if self.shown else "not found"


def answer(catalog: Catalog, index: TipIndex, question: str, *, referrals: bool = True) -> Outcome:
    decision = decide(catalog, index, normalize(question, catalog.synonyms), office=referrals)
    if decision.urgent is not None:
        return Outcome(urgent=decision.urgent.id)
    if decision.dispute is not None:
        return Outcome(referral=decision.dispute.id)
    return Outcome(shown=tuple(tip.id for tip in decision.tips), asked_back=decision.kind is Kind.ASK_BACK)


def _ids(value: object) -> set[str]:
    if value is None:
        return set()
    return {str(v) for v in value} if isinstance(value, list) else {str(value)}


@dataclass
class FormQuality:
    questions: int = 0
    labelled: int = 0
    top1: int = 0
    confident_wrong: int = 0


@dataclass
class Quality:
    questions: int = 0
    top1: int = 0
    top3: int = 0
    urgent: int = 0
    urgent_found: int = 0
    near_miss: int = 0
    false_alarms: int = 0
    misses: list[str] = field(default_factory=list)
    labelled: int = 0  # questions with at least one acceptable tip
    no_tip: int = 0  # questions the tips do not answer (`expect: []`)
    held_back: int = 0  # no-tip questions that got no tip (office or "not found")
    referred: int = 0  # no-tip questions sent to the office
    no_tip_tipped: int = 0  # no-tip questions that got any tip (one or several)
    confident_wrong: int = 0
    asked_back: int = 0
    wrong_referrals: int = 0  # labelled questions sent to the office instead
    urgent_on_questions: int = 0  # calm questions that got urgent help they did not need
    forms: dict[str, FormQuality] = field(default_factory=lambda: defaultdict(FormQuality))
    wrong: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (question, answer given, expected)

    @property
    def figures(self) -> dict[str, float]:
        def ratio(a: int, b: int) -> float:
            return a / b if b else 0.0

        return {
            "top1": ratio(self.top1, self.labelled),
            "top3": ratio(self.top3, self.labelled),
            "urgent_recall": ratio(self.urgent_found, self.urgent),
            "false_alarms": ratio(self.false_alarms, self.near_miss),
            "confident_wrong": ratio(self.confident_wrong, self.questions),
            "held_back": ratio(self.held_back, self.no_tip),
            "asked_back": ratio(self.asked_back, self.questions),
        }

    def form_top1(self) -> dict[str, tuple[int, float]]:
        """Per way of typing: labelled questions and top-1 among them."""
        return {
            form: (f.labelled, f.top1 / f.labelled if f.labelled else 0.0)
            for form, f in sorted(self.forms.items(), key=lambda item: -item[1].questions)
        }

    def meets_targets(self) -> bool:
        f = self.figures
        return (
            f["top3"] >= TARGETS["top3"]
            and f["urgent_recall"] >= TARGETS["urgent_recall"]
            and f["false_alarms"] <= TARGETS["false_alarms"]
        )

    def shortfalls(self, targets: dict[str, float]) -> list[str]:
        """The targets missed, each as 'name figure (target)'; [] when all are met."""
        f = self.figures
        missed = []
        for name, target in targets.items():
            upper = name in ("confident_wrong", "false_alarms")
            if (f[name] > target) if upper else (f[name] < target):
                missed.append(f"{name} {f[name]:.1%} ({'≤' if upper else '≥'} {target:.0%})")
        return missed


def evaluate(catalog: Catalog, labelled: Path, *, referrals: bool = False) -> Quality:
    data = yaml.safe_load(labelled.read_text(encoding="utf-8"))
    index = build_index(catalog)
    quality = Quality()
    for item in data.get("questions", []):
        question, expected = str(item["q"]), _ids(item["expect"])
        form = quality.forms[str(item.get("form", NO_FORM))]
        quality.questions += 1
        form.questions += 1
        outcome = answer(catalog, index, question, referrals=referrals)
        quality.asked_back += outcome.asked_back
        if expected:
            quality.labelled += 1
            form.labelled += 1
        else:
            quality.no_tip += 1
        if outcome.urgent is not None:
            if outcome.urgent in _ids(item.get("urgent_ok")):
                if expected:
                    quality.top1 += 1
                    quality.top3 += 1
                    form.top1 += 1
                else:
                    quality.held_back += 1
                continue
            quality.urgent_on_questions += 1
            quality.misses.append(f"answered as urgent: {question}")
            continue
        shown = list(outcome.shown)
        if not expected:
            if not shown:
                quality.held_back += 1
                quality.referred += outcome.referral is not None
                continue
            quality.no_tip_tipped += 1
            quality.misses.append(f"no tip, answered anyway: {question} -> {shown}")
            if not outcome.asked_back:
                quality.confident_wrong += 1
                form.confident_wrong += 1
                quality.wrong.append((question, shown[0], []))
            continue
        if outcome.referral is not None:
            quality.wrong_referrals += 1
        if shown[:1] and shown[0] in expected:
            quality.top1 += 1
            form.top1 += 1
        elif shown and not outcome.asked_back:
            quality.confident_wrong += 1
            form.confident_wrong += 1
            quality.wrong.append((question, shown[0], sorted(expected)))
        if expected & set(shown[:3]):
            quality.top3 += 1
        else:
            quality.misses.append(f"{question} -> {outcome.describe()} (expected {sorted(expected)})")
    for item in data.get("urgent", []):
        quality.urgent += 1
        intent = detect_urgent(catalog.urgent, str(item["q"]), catalog.synonyms)
        if intent is not None and intent.id in _ids(item["intent"]):
            quality.urgent_found += 1
        else:
            quality.misses.append(f"urgent missed: {item['q']} -> {intent.id if intent else None}")
    for item in data.get("near_miss", []):
        quality.near_miss += 1
        intent = detect_urgent(catalog.urgent, str(item["q"]), catalog.synonyms)
        if intent is not None:
            quality.false_alarms += 1
            quality.misses.append(f"false alarm: {item['q']} -> {intent.id}")
    return quality
