"""Answer latency with 5,000 tips loaded: the 95th percentile per question (target ≤ 20 ms).

  python bench/qa_latency.py [--tips 5000] [--questions 2000]

The starter tips are multiplied into 5,000 (each copy's body shuffled by sentence and given a serial keyword so
the index really holds 5,000 distinct documents); questions come from tests/data/questions.yaml, plus urgent and
near-miss messages, each answered through the same path as a resident's (urgent check, then BM25).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import time

import yaml
from common import REPO

sys.path.insert(0, str(REPO))

from bot.content.loader import load_catalog
from bot.core.deciding import decide
from bot.core.search import TipIndex
from bot.textnorm import normalize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tips", type=int, default=5000)
    parser.add_argument("--questions", type=int, default=2000)
    args = parser.parse_args()
    catalog = load_catalog(REPO / "content").catalog
    assert catalog is not None
    rng = random.Random(1)
    base = catalog.all_tips()
    tips = []
    for number in range(args.tips):
        tip = base[number % len(base)]
        sentences = tip.body.replace("。", "。\n").split("\n")
        rng.shuffle(sentences)
        tips.append(
            dataclasses.replace(
                tip, id=f"{tip.id}-{number}", body="".join(sentences), keywords=(*tip.keywords, f"编号{number}")
            )
        )
    started = time.perf_counter()
    index = TipIndex(tips, catalog.synonyms)
    built = time.perf_counter() - started
    pool = []
    for name in ("questions.yaml", "questions-colloquial.yaml"):
        data = yaml.safe_load((REPO / "tests" / "data" / name).read_text(encoding="utf-8"))
        pool += [item["q"] for section in ("questions", "urgent", "near_miss") for item in data.get(section, [])]
    timings = []
    for number in range(args.questions):
        question = pool[number % len(pool)]
        started = time.perf_counter()  # the resident's whole path: normalise, urgent check, office, tips
        decide(catalog, index, normalize(question, catalog.synonyms))
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[int(0.95 * len(timings)) - 1]
    print(
        f"{len(tips)} tips indexed in {built:.2f} s; {len(timings)} questions: median "
        f"{statistics.median(timings):.2f} ms, p95 {p95:.2f} ms, max {timings[-1]:.2f} ms (target p95 ≤ 20 ms)"
    )


if __name__ == "__main__":
    main()
