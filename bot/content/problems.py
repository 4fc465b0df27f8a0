"""Problems found in content, reported to editors as `file:line: message`.

A problem keeps what is wrong as a key of the `checker:` section of bot/locales/*.yaml and its values; the words
are rendered only when it is printed, in the language asked for (Chinese unless told otherwise). So tests can rely
on the key, and the same load can be printed in Chinese for editors and in English for developers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.i18n import DEFAULT_LANGUAGE, translator

SECTION = "checker"  # the catalog section every checker message comes from


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Msg:
    """A checker message (or a piece of one) before it is put into words: a key under `checker:` and its values.

    A value may itself be a `Msg` (「小贴士」 / "tip"), or a tuple of values joined with the language's separator;
    both are rendered in the language of the message they are part of.
    """

    key: str
    values: tuple[tuple[str, Any], ...] = ()

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.values)

    def render(self, language: str = DEFAULT_LANGUAGE) -> str:
        words = {name: _render_value(value, language) for name, value in self.values}
        return translator(language)(f"{SECTION}.{self.key}", **words)


def msg(key: str, /, **values: Any) -> Msg:
    """`msg("unknown_law", law="no-such-law")`: the key is relative to the catalog's `checker:` section."""
    return Msg(key, tuple(values.items()))


def _render_value(value: Any, language: str) -> Any:
    if isinstance(value, Msg):
        return value.render(language)
    if isinstance(value, tuple):
        separator = translator(language)(f"{SECTION}.separator")
        return separator.join(str(_render_value(item, language)) for item in value)
    return value


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    detail: Msg
    severity: Severity = Severity.ERROR

    @property
    def key(self) -> str:
        """The stable name of what is wrong, e.g. "unknown_law" (catalog key `checker.unknown_law`)."""
        return self.detail.key

    @property
    def params(self) -> dict[str, Any]:
        return self.detail.params

    def message(self, language: str = DEFAULT_LANGUAGE) -> str:
        """The message alone, without file, line and severity."""
        return self.detail.render(language)

    def render(self, language: str = DEFAULT_LANGUAGE) -> str:
        """`file:line: message`; a warning says so before its message."""
        text = self.message(language)
        if self.severity is Severity.WARNING:
            text = translator(language)(f"{SECTION}.warning_line", message=text)
        return f"{self.file}:{self.line}: {text}"

    def __str__(self) -> str:
        return self.render()


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)
