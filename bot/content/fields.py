"""Reading one YAML mapping against a declared set of keys, collecting problems.

A `Section` never raises: each accessor returns None when the value is missing or
wrong and records a `Problem` at the value's line, so one run reports everything.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from bot.content.problems import Msg, Problem, Severity, msg
from bot.content.yamlsource import LocatedDict, LocatedList

ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
ID_MAX_LEN = 24  # ids travel inside 64-byte Telegram button payloads
DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ProblemSink:
    """The problems of one file. A problem is a key of the catalog's `checker:` section and its values (a value
    may be a `Msg` itself); its words are rendered when it is printed."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def error(self, line: int, key: str | Msg, /, **values: Any) -> None:
        self.problems.append(Problem(self.file, line, _detail(key, values)))

    def warning(self, line: int, key: str | Msg, /, **values: Any) -> None:
        self.problems.append(Problem(self.file, line, _detail(key, values), Severity.WARNING))


def _detail(key: str | Msg, values: dict[str, Any]) -> Msg:
    if isinstance(key, Msg):
        assert not values, "a ready Msg takes no more values"
        return key
    return Msg(key, tuple(values.items()))


class Section:
    """One mapping (a tip, a question, a place...) being validated."""

    def __init__(
        self,
        sink: ProblemSink,
        what: Msg,
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
            sink.error(line, "not_mapping", what=what, kind=_kind(data))
            return
        required, optional = list(required), list(optional)
        allowed = set(required) | set(optional)
        for key in self.data:
            if key not in allowed:
                sink.error(self.line_of(key), "unknown_key", key=key, what=what, allowed=tuple(required + optional))
        for key in required:
            if key not in self.data or self.data[key] is None:
                where = self.line_of(key) if key in self.data else self.line
                sink.error(where, "missing_key", what=what, key=key)

    def line_of(self, key: str) -> int:
        return self.data.key_lines.get(key, self.line) if self.valid else self.line

    def has(self, key: str) -> bool:
        return self.valid and self.data.get(key) is not None

    def text(self, key: str, max_len: int | None = None) -> str | None:
        if not self.has(key):
            return None
        what = msg("thing.key_of", key=key, what=self.what)
        return check_text(self.sink, self.data[key], self.line_of(key), what, max_len)

    def identifier(self, key: str = "id", max_len: int = ID_MAX_LEN) -> str | None:
        value = self.text(key)
        if value is not None and (not ID_PATTERN.match(value) or len(value) > max_len):
            self.sink.error(self.line_of(key), "bad_id", what=self.what, id=value, max_len=max_len)
            return None
        return value

    def integer(self, key: str, minimum: int = 0) -> int | None:
        if not self.has(key):
            return None
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.sink.error(
                self.line_of(key), "not_whole_number", key=key, what=self.what, minimum=minimum, value=repr(value)
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
        except ValueError:
            if DATE_SHAPE.match(text):  # 2026-02-30: shaped like a date, but no such day
                reason = _date_reason(text)
                self.sink.error(self.line_of(key), "not_in_calendar", key=key, what=self.what, date=text, reason=reason)
            else:
                self.sink.error(self.line_of(key), "not_date", key=key, what=self.what, value=repr(value))
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
            self.sink.error(line, "not_list", key=key, what=self.what, kind=_kind(value))
            return []
        if len(value) < min_items or (max_items is not None and len(value) > max_items):
            bounds = (
                msg("bounds_between", low=min_items, high=max_items)
                if max_items is not None
                else msg("bounds_at_least", low=min_items)
            )
            self.sink.error(line, "list_size", key=key, what=self.what, bounds=bounds, count=len(value))
        return list(zip(value.item_lines, value, strict=True))


def check_text(sink: ProblemSink, value: Any, line: int, what: Msg, max_len: int | None = None) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        if isinstance(value, bool):  # YAML reads yes/no/true/false as booleans: the message says to quote the text
            sink.error(line, "not_text_boolean", what=what, kind=_kind(value))
        else:
            sink.error(line, "not_text", what=what, kind=_kind(value))
        return None
    text = str(value).strip()
    if not text:
        sink.error(line, "empty", what=what)
        return None
    if max_len is not None and len(text) > max_len:
        sink.error(line, "too_long", what=what, length=len(text), max_len=max_len)
        return None
    return text


def _kind(value: Any) -> Msg:
    """What a YAML value is, for "must be text, not …"."""
    if isinstance(value, dict):
        return msg("kind.mapping")
    if isinstance(value, list):
        return msg("kind.list")
    if value is None:
        return msg("kind.nothing")
    if isinstance(value, bool):
        return msg("kind.boolean", value=str(value).lower())
    shown = repr(value)
    if isinstance(value, int):
        return msg("kind.int", value=shown)
    if isinstance(value, float):
        return msg("kind.float", value=shown)
    if isinstance(value, str):
        return msg("kind.str", value=shown)
    if isinstance(value, dt.datetime):
        return msg("kind.datetime", value=shown)
    if isinstance(value, dt.date):
        return msg("kind.date", value=shown)
    return msg("kind.other", type=type(value).__name__, value=shown)


def _date_reason(text: str) -> Msg:
    """Why YYYY-MM-DD is no day of the calendar (the words of Python's own message, in either language)."""
    year, month, _ = (int(part) for part in text.split("-"))
    if year < dt.MINYEAR:
        return msg("date_reason.year", year=year)
    if not 1 <= month <= 12:
        return msg("date_reason.month")
    return msg("date_reason.day")
