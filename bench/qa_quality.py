"""Answer quality per labelled set: top-1/top-3, confident-wrong rate, urgent recall, false alarms, top-1 per form.

python bench/qa_quality.py [--labelled FILE ...] [--tips-only] [--misses] [--wrong N]

By default both sets (tests/data/questions.yaml, written next to the content, and questions-colloquial.yaml,
typed the way villagers type) are measured along the resident's path: urgent help, then the office for a dispute
the tips do not cover, then the tips. --tips-only skips the office, as the measure did when the targets were set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import REPO

sys.path.insert(0, str(REPO))

from qa_eval import COLLOQUIAL_TARGETS, TARGETS, Quality, evaluate

from bot.content.loader import load_catalog

SETS = [REPO / "tests" / "data" / "questions.yaml", REPO / "tests" / "data" / "questions-colloquial.yaml"]


def report(name: str, quality: Quality, wrong: int) -> None:
    f = quality.figures
    print(f"== {name}")
    print(
        f"questions {quality.questions} ({quality.labelled} with a tip, {quality.no_tip} no tip): "
        f"top-1 {f['top1']:.1%}, top-3 {f['top3']:.1%} (target ≥ {TARGETS['top3']:.0%}); "
        f"confident-wrong {f['confident_wrong']:.1%} ({quality.confident_wrong}); "
        f"asked back 「您是想问」 {f['asked_back']:.1%} ({quality.asked_back})"
    )
    if quality.no_tip:
        print(
            f"no tip {quality.no_tip}: held back {f['held_back']:.1%} ({quality.referred} to the office), "
            f"answered with a tip {quality.no_tip_tipped}"
        )
    print(
        f"urgent {quality.urgent}: recall {f['urgent_recall']:.1%} (target 100%); "
        f"near misses {quality.near_miss}: false alarms {f['false_alarms']:.1%} "
        f"(target ≤ {TARGETS['false_alarms']:.0%}); calm questions answered as urgent {quality.urgent_on_questions}; "
        f"labelled questions sent to the office {quality.wrong_referrals}"
    )
    forms = quality.form_top1()
    if list(forms) != ["-"]:
        print(
            "top-1 per form: "
            + ", ".join(
                f"{form} {top1:.0%} ({n}, {quality.forms[form].confident_wrong} wrong)"
                for form, (n, top1) in forms.items()
            )
        )
    if "colloquial" in name:
        missed = quality.shortfalls(COLLOQUIAL_TARGETS)
        print("meets the colloquial targets" if not missed else "BELOW TARGET: " + "; ".join(missed))
    else:
        print("meets targets" if quality.meets_targets() else "BELOW TARGET")
    for question, given, expected in quality.wrong[:wrong]:
        print(f"  wrong: {question} -> {given} (expected {expected or 'no tip'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labelled", type=Path, action="append", help="a labelled set (repeatable); default both")
    parser.add_argument("--tips-only", action="store_true", help="skip the office referral step")
    parser.add_argument("--misses", action="store_true", help="list every miss")
    parser.add_argument("--wrong", type=int, default=0, metavar="N", help="list the first N confident-wrong answers")
    args = parser.parse_args()
    catalog = load_catalog(REPO / "content").catalog
    assert catalog is not None, "content has errors: python -m bot content check"
    for labelled in args.labelled or SETS:
        quality = evaluate(catalog, labelled, referrals=not args.tips_only)
        report(labelled.name, quality, args.wrong)
        if args.misses:
            print("\n".join(quality.misses))


if __name__ == "__main__":
    main()
