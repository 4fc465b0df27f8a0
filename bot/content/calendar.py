"""Date rules of the publicity calendar: when a campaign occurs.

"12-04"                               every year on that day
"2026-12-20"                          once
"last monday of march"                first|second|third|fourth|last <weekday> of <month>, every year
"every saturday from 07-01 to 08-31"  weekly within a yearly window (e.g. the summer holidays)
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

WEEKDAYS = {
    name: i for i, name in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])
}
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}

_YEARLY = re.compile(r"^(\d{2})-(\d{2})$")
_ONCE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_NTH = re.compile(r"^(first|second|third|fourth|last) (\w+) of (\w+)$")
_WEEKLY = re.compile(r"^every (\w+) from (\d{2})-(\d{2}) to (\d{2})-(\d{2})$")


@dataclass(frozen=True)
class DateRule:
    text: str

    def dates(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Occurrences from `start` to `end`, both included."""
        found: list[dt.date] = []
        for year in range(start.year, end.year + 1):
            found.extend(d for d in self._in_year(year) if start <= d <= end)
        return sorted(set(found))

    def _in_year(self, year: int) -> list[dt.date]:
        text = self.text
        if match := _ONCE.match(text):
            day = dt.date(int(match[1]), int(match[2]), int(match[3]))
            return [day] if day.year == year else []
        if match := _YEARLY.match(text):
            month, day = int(match[1]), int(match[2])
            if month == 2 and day == 29 and not calendar.isleap(year):
                return []
            return [dt.date(year, month, day)]
        if match := _NTH.match(text):
            ordinal, weekday, month = ORDINALS[match[1]], WEEKDAYS[match[2]], MONTHS[match[3]]
            days = [
                dt.date(year, month, d)
                for d in range(1, calendar.monthrange(year, month)[1] + 1)
                if dt.date(year, month, d).weekday() == weekday
            ]
            return [days[ordinal - 1 if ordinal > 0 else -1]]
        if match := _WEEKLY.match(text):
            weekday = WEEKDAYS[match[1]]
            first = dt.date(year, int(match[2]), int(match[3]))
            last = dt.date(year, int(match[4]), int(match[5]))
            return [
                first + dt.timedelta(days=n)
                for n in range((last - first).days + 1)
                if (first + dt.timedelta(days=n)).weekday() == weekday
            ]
        return []


def parse_rule(text: str) -> DateRule:
    """A rule, or ValueError saying which forms are accepted."""
    normalized = " ".join(str(text).strip().lower().split())
    try:
        if match := _ONCE.match(normalized):
            dt.date(int(match[1]), int(match[2]), int(match[3]))
        elif match := _YEARLY.match(normalized):
            dt.date(2024, int(match[1]), int(match[2]))  # a leap year: 02-29 is allowed
        elif match := _NTH.match(normalized):
            if match[2] not in WEEKDAYS or match[3] not in MONTHS:
                raise ValueError
        elif match := _WEEKLY.match(normalized):
            if match[1] not in WEEKDAYS:
                raise ValueError
            if (int(match[2]), int(match[3])) > (int(match[4]), int(match[5])):
                raise ValueError
            dt.date(2024, int(match[2]), int(match[3]))
            dt.date(2024, int(match[4]), int(match[5]))
        else:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"'when: {text}' is not a date rule; use MM-DD, YYYY-MM-DD, 'last monday of march' or "
            "'every saturday from 07-01 to 08-31'"
        ) from None
    return DateRule(normalized)


def parse_time(text: str) -> dt.time:
    try:
        return dt.datetime.strptime(str(text).strip(), "%H:%M").time()
    except ValueError:
        raise ValueError(f"'time: {text}' is not HH:MM (24-hour, e.g. 09:00)") from None
