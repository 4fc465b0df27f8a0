"""Answer quality on the labelled set: top-1/top-3 accuracy, urgent recall, false alarms.

python bench/qa_quality.py [--labelled tests/data/questions.yaml] [--misses]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import REPO

sys.path.insert(0, str(REPO))

from qa_eval import TARGETS, evaluate

from bot.content.loader import load_catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labelled", type=Path, default=REPO / "tests" / "data" / "questions.yaml")
    parser.add_argument("--misses", action="store_true", help="list every miss")
    args = parser.parse_args()
    catalog = load_catalog(REPO / "content").catalog
    assert catalog is not None, "content has errors: python -m bot content check"
    quality = evaluate(catalog, args.labelled)
    f = quality.figures
    print(
        f"questions {quality.questions}: top-1 {f['top1']:.1%}, top-3 {f['top3']:.1%} (target ≥ {TARGETS['top3']:.0%})"
    )
    print(f"urgent {quality.urgent}: recall {f['urgent_recall']:.1%} (target 100%)")
    print(
        f"near misses {quality.near_miss}: false alarms {f['false_alarms']:.1%} "
        f"(target ≤ {TARGETS['false_alarms']:.0%})"
    )
    print("meets targets" if quality.meets_targets() else "BELOW TARGET")
    if args.misses:
        print("\n".join(quality.misses))


if __name__ == "__main__":
    main()
