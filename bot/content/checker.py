"""`python -m bot content check`: the editor's report over the loader's problems.

The report keeps the problems and the summary as catalog keys with values (`checker:` in bot/locales/*.yaml);
`Report.render(language)` puts them into words: Chinese by default, English with `--lang en`.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from pathlib import Path

from bot.content.loader import load_catalog
from bot.content.problems import Msg, Problem, Severity, msg
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALES_DIR, catalog_strings


@dataclass(frozen=True)
class Report:
    problems: list[Problem]
    summary: Msg
    failed: bool

    def render(self, language: str = DEFAULT_LANGUAGE) -> list[str]:
        """One `file:line: message` line per problem, then the summary line."""
        return [p.render(language) for p in self.problems] + [self.summary.render(language)]

    @property
    def lines(self) -> list[str]:
        """The report in the default language (Chinese)."""
        return self.render()


def check_directory(directory: Path, today: dt.date | None = None) -> Report:
    result = load_catalog(directory, today or dt.date.today())
    problems = result.problems + check_catalogs()
    errors = [p for p in problems if p.severity is Severity.ERROR]
    warnings = [p for p in problems if p.severity is Severity.WARNING]
    if errors or result.catalog is None:
        summary = msg("summary.failed", errors=len(errors), warnings=len(warnings), files=result.files)
        return Report(problems, summary, failed=True)
    catalog = result.catalog
    per_topic = tuple(msg("summary.topic", id=t.id, tips=len(t.tips), questions=len(t.quiz)) for t in catalog.topics)
    office = (
        msg("summary.office", mediation=len(catalog.office.mediation), disputes=len(catalog.office.disputes))
        if catalog.office
        else ""
    )
    names = msg("summary.names", count=len(catalog.blocked_name_words)) if catalog.blocked_name_words else ""
    summary = msg(
        "summary.ok",
        topics=len(catalog.topics),
        per_topic=per_topic,
        places=len(catalog.places),
        laws=len(catalog.laws),
        campaigns=len(catalog.campaigns),
        urgent=len(catalog.urgent),
        office=office,
        names=names,
        warnings=len(warnings),
    )
    return Report(problems, summary, failed=False)


def check_catalogs(directory: Path = LOCALES_DIR) -> list[Problem]:
    """Every language must have the same keys and the same placeholders as the default."""
    problems: list[Problem] = []
    base = catalog_strings(DEFAULT_LANGUAGE, directory)
    for language in LANGUAGES:
        path = directory / f"{language}.yaml"
        strings = catalog_strings(language, directory)
        for key in sorted(set(base) - set(strings)):
            problems.append(Problem(str(path), 1, msg("ui_missing", key=key)))
        for key in sorted(set(strings) - set(base)):
            problems.append(Problem(str(path), 1, msg("ui_extra", key=key, language=DEFAULT_LANGUAGE)))
        for key in sorted(set(base) & set(strings)):
            names = placeholders(strings[key])
            expected = placeholders(base[key])
            if names != expected:
                problems.append(
                    Problem(
                        str(path),
                        1,
                        msg("ui_placeholders", key=key, names=str(sorted(names)), expected=str(sorted(expected))),
                    )
                )
    return problems


def placeholders(template: str) -> set[str]:
    """The `{names}` of one catalog string."""
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}
