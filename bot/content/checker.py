"""`python -m bot content check`: the editor's report over the loader's problems."""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from pathlib import Path

from bot.content.loader import load_catalog
from bot.content.problems import Problem, Severity
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALES_DIR, catalog_strings


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
    office = (
        f"office: {len(catalog.office.mediation)} mediation committees, {len(catalog.office.disputes)} dispute kinds; "
        if catalog.office
        else ""
    )
    names = f"{len(catalog.blocked_name_words)} blocked name words; " if catalog.blocked_name_words else ""
    lines.append(
        f"OK: {len(catalog.topics)} topics ({per_topic}); {len(catalog.places)} places; "
        f"{len(catalog.laws)} laws; {len(catalog.campaigns)} campaigns; {len(catalog.urgent)} urgent intents; "
        f"{office}{names}{len(warnings)} warning(s)"
    )
    return Report(lines, failed=False)


def check_catalogs(directory: Path = LOCALES_DIR) -> list[Problem]:
    """Every language must have the same keys and the same placeholders as the default."""
    problems: list[Problem] = []
    base = catalog_strings(DEFAULT_LANGUAGE, directory)
    for language in LANGUAGES:
        path = directory / f"{language}.yaml"
        strings = catalog_strings(language, directory)
        for key in sorted(set(base) - set(strings)):
            problems.append(Problem(str(path), 1, f"UI string '{key}' is missing"))
        for key in sorted(set(strings) - set(base)):
            problems.append(Problem(str(path), 1, f"UI string '{key}' is not in {DEFAULT_LANGUAGE}"))
        for key in sorted(set(base) & set(strings)):
            names = {f for _, f, _, _ in string.Formatter().parse(strings[key]) if f}
            expected = {f for _, f, _, _ in string.Formatter().parse(base[key]) if f}
            if names != expected:
                problems.append(
                    Problem(
                        str(path),
                        1,
                        f"UI string '{key}' has placeholders {sorted(names)}, expected {sorted(expected)}",
                    )
                )
    return problems
