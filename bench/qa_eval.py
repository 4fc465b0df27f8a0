"""Measuring answer quality on a labelled set (tests/data/questions.yaml): top-1/top-3 accuracy, urgent recall
and the false-alarm rate. Used by bench/qa_quality.py (prints the figures) and by the test suite (enforces them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.content.model import Catalog
from bot.core.answers import MAX_HITS, RELATIVE, threshold
from bot.core.search import build_index, detect_urgent

TARGETS = {"top3": 0.90, "urgent_recall": 1.0, "false_alarms": 0.05}


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

    @property
    def figures(self) -> dict[str, float]:
        return {
            "top1": self.top1 / self.questions if self.questions else 0.0,
            "top3": self.top3 / self.questions if self.questions else 0.0,
            "urgent_recall": self.urgent_found / self.urgent if self.urgent else 0.0,
            "false_alarms": self.false_alarms / self.near_miss if self.near_miss else 0.0,
        }

    def meets_targets(self) -> bool:
        f = self.figures
        return (
            f["top3"] >= TARGETS["top3"]
            and f["urgent_recall"] >= TARGETS["urgent_recall"]
            and f["false_alarms"] <= TARGETS["false_alarms"]
        )


def evaluate(catalog: Catalog, labelled: Path) -> Quality:
    data = yaml.safe_load(labelled.read_text(encoding="utf-8"))
    index = build_index(catalog)
    quality = Quality()
    for item in data.get("questions", []):
        quality.questions += 1
        question, expected = str(item["q"]), set(item["expect"])
        if detect_urgent(catalog.urgent, question, catalog.synonyms) is not None:
            quality.misses.append(f"answered as urgent: {question}")
            continue
        hits, term_count = index.lookup(question, MAX_HITS)
        bar = threshold(term_count)
        shown = [h.tip.id for h in hits if hits[0].score >= bar and h.score >= max(bar, RELATIVE * hits[0].score)]
        if shown[:1] and shown[0] in expected:
            quality.top1 += 1
        if expected & set(shown[:3]):
            quality.top3 += 1
        else:
            quality.misses.append(f"{question} -> {shown} (expected {sorted(expected)})")
    for item in data.get("urgent", []):
        quality.urgent += 1
        intent = detect_urgent(catalog.urgent, str(item["q"]), catalog.synonyms)
        if intent is not None and intent.id == item["intent"]:
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
