"""`python -m bot content check`: the editor's report over the loader's problems."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bot.content.loader import load_catalog
from bot.content.problems import Severity
from bot.i18n import check_catalogs


@dataclass(frozen=True)
class Report:
    lines: list[str]
    failed: bool


def check_directory(directory: Path, today: dt.date | None = None) -> Report:
    result = load_catalog(directory, today or dt.date.today())
    problems = result.problems + check_catalogs()
    errors = [p for p in problems if p.severity is Severity.ERROR]
    warnings = [p for p in problems if p.severity is Severity.WARNING]
    lines = [str(p) for p in problems]
    if errors or result.catalog is None:
        lines.append(f"{len(errors)} error(s), {len(warnings)} warning(s) in {result.files} file(s)")
        return Report(lines, failed=True)
    catalog = result.catalog
    per_topic = ", ".join(f"{t.id} {len(t.tips)} tips/{len(t.quiz)} questions" for t in catalog.topics)
    lines.append(
        f"OK: {len(catalog.topics)} topics ({per_topic}); {len(catalog.places)} places; "
        f"{len(catalog.laws)} laws; {len(catalog.campaigns)} campaigns; {len(warnings)} warning(s)"
    )
    return Report(lines, failed=False)
