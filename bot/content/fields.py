"""Reading one YAML mapping against a declared set of keys, collecting problems.

A `Section` never raises: each accessor returns None when the value is missing or
wrong and records a `Problem` at the value's line, so one run reports everything.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from bot.content.problems import Problem, Severity
from bot.content.yamlsource import LocatedDict, LocatedList

ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
ID_MAX_LEN = 24  # ids travel inside 64-byte Telegram button payloads
DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ProblemSink:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def warning(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message, Severity.WARNING))


class Section:
    """One mapping (a tip, a question, a place...) being validated."""

    def __init__(
        self,
        sink: ProblemSink,
        what: str,
        data: Any,
        line: int,
        required: Iterable[str],
        optional: Iterable[str] = (),
    ) -> None:
        self.sink = sink
        self.what = what
        self.valid = isinstance(data, dict)
        self.data: LocatedDict = data if self.valid else LocatedDict()
        self.line = getattr(data, "line", line)
        if not self.valid:
            sink.error(line, f"{what} must be a mapping of keys to values, not {_kind(data)}")
            return
        required, optional = list(required), list(optional)
        allowed = set(required) | set(optional)
        for key in self.data:
            if key not in allowed:
                sink.error(
                    self.line_of(key),
                    f"unknown key '{key}' in {what} (allowed: {', '.join(required + optional)})",
                )
        for key in required:
            if key not in self.data or self.data[key] is None:
                where = self.line_of(key) if key in self.data else self.line
                sink.error(where, f"{what} is missing required key '{key}'")

    def line_of(self, key: str) -> int:
        return self.data.key_lines.get(key, self.line) if self.valid else self.line

    def has(self, key: str) -> bool:
        return self.valid and self.data.get(key) is not None

    def text(self, key: str, max_len: int | None = None) -> str | None:
        if not self.has(key):
            return None
        return check_text(self.sink, self.data[key], self.line_of(key), f"'{key}' of {self.what}", max_len)

    def identifier(self, key: str = "id", max_len: int = ID_MAX_LEN) -> str | None:
        value = self.text(key)
        if value is not None and (not ID_PATTERN.match(value) or len(value) > max_len):
            self.sink.error(
                self.line_of(key),
                f"{self.what} id '{value}' is not valid: use lowercase letters, digits and '-', "
                f"at most {max_len} characters",
            )
            return None
        return value

    def integer(self, key: str, minimum: int = 0) -> int | None:
        if not self.has(key):
            return None
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.sink.error(
                self.line_of(key), f"'{key}' of {self.what} must be a whole number ≥ {minimum}, got {value!r}"
            )
            return None
        return value

    def date(self, key: str) -> dt.date | None:
        if not self.has(key):
            return None
        value = self.data[key]
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            if DATE_SHAPE.match(text):  # 2026-02-30: shaped like a date, but no such day
                message = f"'{key}' of {self.what}: {text} is not a date in the calendar ({exc})"
            else:
                message = f"'{key}' of {self.what} must be a date YYYY-MM-DD, got {value!r}"
            self.sink.error(self.line_of(key), message)
            return None

    def line_in_text(self, key: str, offset: int) -> int:
        """The line of character `offset` of a text value: its own line inside a `key: |` block, else the key's."""
        first = getattr(self.data, "text_lines", {}).get(key) if self.valid else None
        if first is None or not isinstance(self.data.get(key), str):
            return self.line_of(key)
        return first + self.data[key].count("\n", 0, offset)

    def sequence(self, key: str, min_items: int = 0, max_items: int | None = None) -> list[tuple[int, Any]]:
        """Items of a list with their lines; [] (and a problem) when the value is not a list."""
        if not self.has(key):
            return []
        value = self.data[key]
        line = self.line_of(key)
        if not isinstance(value, LocatedList):
            self.sink.error(line, f"'{key}' of {self.what} must be a list, not {_kind(value)}")
            return []
        if len(value) < min_items or (max_items is not None and len(value) > max_items):
            bounds = f"{min_items}–{max_items}" if max_items is not None else f"at least {min_items}"
            self.sink.error(line, f"'{key}' of {self.what} must have {bounds} items, has {len(value)}")
        return list(zip(value.item_lines, value, strict=True))


def check_text(sink: ProblemSink, value: Any, line: int, what: str, max_len: int | None = None) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        hint = " (YAML reads yes/no/true/false as booleans: put the text in quotes)" if isinstance(value, bool) else ""
        sink.error(line, f"{what} must be text, not {_kind(value)}{hint}")
        return None
    text = str(value).strip()
    if not text:
        sink.error(line, f"{what} is empty")
        return None
    if max_len is not None and len(text) > max_len:
        sink.error(line, f"{what} is too long: {len(text)} characters, at most {max_len}")
        return None
    return text


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    return f"{type(value).__name__} {value!r}"
