"""The town's own help (content/office.yaml) and the words a public nickname must not contain (content/names.yaml).

`OfficeReader` reads them for the loader, like `ItemReader` reads topics: one problem per mistake, each with its
file:line; dispute ids are checked for duplicates with every other id of the directory.
"""

from __future__ import annotations

import re
from typing import Any

from bot.content.fields import ProblemSink, Section, check_text
from bot.content.items import LIMITS, FirstSeen, ItemReader
from bot.content.model import Contact, DisputeKind, Law, Office, Place, PlaceKind, Tip
from bot.content.yamlsource import LocatedDict
from bot.textnorm import normalize

CONTACT_KEYS = ("name", "address", "hours", "phone")
CONTACT_LIMITS = {"name": 30, "address": 60, "hours": 60}
DISPUTE_NAME_MAX = 16
BLOCKED_WORD_MAX = 20
# 5–20 characters of digits, '-' and spaces, starting and ending with a digit: 12348, 0731-1234567, 400 123 4567.
PHONE_PATTERN = re.compile(r"^[0-9][0-9 -]{3,18}[0-9]$")


class OfficeReader:
    def __init__(self, items: ItemReader, ids: FirstSeen) -> None:
        self.items = items
        self.ids = ids

    # -- office.yaml -------------------------------------------------------------------------

    def office(
        self,
        sink: ProblemSink,
        data: Any,
        laws: dict[str, Law],
        places: list[Place],
        tips: list[Tip],
        declared_places: set[str] | None = None,
        unreadable: str | None = None,
    ) -> Office | None:
        """`declared_places`: every place id in places.yaml, even of an entry with errors; `unreadable`: places.yaml
        when it could not be read. A committee of such a place is not reported as unknown (its file says why)."""
        top = Section(
            sink,
            "office file",
            data,
            1,
            required=["office", "hotline", "disputes", "source"],
            optional=["mediation", "legal_aid"],
        )
        office = None
        if top.has("office"):
            office = self._contact(
                sink, "office (司法所)", top.data["office"], top.line_of("office"), ("name", "address", "hours")
            )
        mediation = self._mediation(sink, top, places, declared_places or set(), unreadable)
        legal_aid = (
            self._contact(sink, "legal_aid (法律援助中心)", top.data["legal_aid"], top.line_of("legal_aid"), ("name",))
            if top.has("legal_aid")
            else None
        )
        hotline = _phone(sink, top, "hotline", "hotline") if top.has("hotline") else None
        disputes = self._disputes(sink, top, tips)
        sources = self.items.sources(sink, top, laws)
        if not (top.valid and office and hotline and disputes and sources) or mediation is None:
            return None
        return Office(office, mediation, legal_aid, hotline, tuple(disputes), sources)

    def _contact(self, sink: ProblemSink, what: str, data: Any, line: int, required: tuple[str, ...]) -> Contact | None:
        s = Section(sink, what, data, line, required=required, optional=[k for k in CONTACT_KEYS if k not in required])
        texts = {key: s.text(key, limit) for key, limit in CONTACT_LIMITS.items()}
        phone = _phone(sink, s, "phone", f"phone of {what}") if s.has("phone") else None
        if not s.valid or any(texts[key] is None for key in required if key != "phone"):
            return None
        return Contact(texts["name"] or "", texts["address"], texts["hours"], phone)

    def _mediation(
        self, sink: ProblemSink, top: Section, places: list[Place], declared: set[str], unreadable: str | None
    ) -> dict[str, Contact] | None:
        """place id -> its 人民调解委员会; None when the section is unusable (its problems are recorded)."""
        known = {p.id: p for p in places}
        committees: dict[str, Contact] = {}
        ok = True
        unchecked = 0
        if top.has("mediation"):
            mapping = top.data["mediation"]
            if not isinstance(mapping, LocatedDict):
                sink.error(top.line_of("mediation"), "'mediation' must map place ids to their mediation committees")
                return None
            for place_id, value in mapping.items():
                line = mapping.key_lines.get(place_id, top.line_of("mediation"))
                place = known.get(place_id)
                contact = self._contact(sink, f"mediation committee of '{place_id}'", value, line, ("name", "address"))
                if place is None and (unreadable or place_id in declared):
                    unchecked += 1  # places.yaml could not be read, or this place has errors there
                    ok = False
                elif place is None:
                    sink.error(line, f"unknown place '{place_id}': use a village or community id from places.yaml")
                    ok = False
                elif place.kind is PlaceKind.SCHOOL:
                    sink.error(
                        line,
                        f"place '{place_id}' is a school: mediation committees belong to villages and communities",
                    )
                    ok = False
                elif contact is not None:
                    committees[place_id] = contact
                ok = ok and contact is not None
        if unchecked and unreadable:
            sink.warning(
                top.line_of("mediation"),
                f"{unchecked} mediation committee(s) not checked: {unreadable} could not be read (its error is listed "
                "first)",
            )
        if top.valid and places:
            for place in places:
                if place.kind is not PlaceKind.SCHOOL and place.id not in committees and ok:
                    sink.warning(
                        top.line_of("mediation"),
                        f"no mediation committee for '{place.id}' ({place.name}): its residents are sent to the 司法所",
                    )
        return committees if ok else None

    def _disputes(self, sink: ProblemSink, top: Section, tips: list[Tip]) -> list[DisputeKind]:
        tip_keywords: dict[str, str] = {}
        for tip in tips:
            for keyword in tip.keywords:
                tip_keywords.setdefault(normalize(keyword), tip.id)
        keyword_owner: dict[str, str] = {}
        disputes = []
        for line, item in top.sequence("disputes", min_items=1):
            s = Section(sink, "dispute", item, line, required=["id", "name", "keywords"])
            dispute_id, name = s.identifier(), s.text("name", DISPUTE_NAME_MAX)
            if dispute_id and not self.ids.claim(sink, "dispute", dispute_id, s.line_of("id")):
                dispute_id = None
            keywords: list[str] = []
            for kw_line, value in s.sequence("keywords", min_items=1):
                text = check_text(sink, value, kw_line, "keyword", LIMITS["keyword"])
                if text is None:
                    continue
                keyword = normalize(text)
                if not keyword:
                    sink.error(kw_line, f"keyword '{text}' has no Chinese characters, letters or digits")
                elif keyword in keyword_owner:
                    sink.error(kw_line, f"keyword '{text}' is already listed for dispute '{keyword_owner[keyword]}'")
                else:
                    keyword_owner[keyword] = dispute_id or "?"
                    keywords.append(keyword)
                    if keyword in tip_keywords:
                        sink.warning(
                            kw_line,
                            f"keyword '{text}' is also a keyword of tip '{tip_keywords[keyword]}': "
                            "residents asking it get the tip, not the town's help",
                        )
            if dispute_id and name and keywords:
                disputes.append(DisputeKind(dispute_id, name, tuple(keywords)))
        return disputes

    # -- names.yaml --------------------------------------------------------------------------

    def blocked_words(self, sink: ProblemSink, data: Any) -> tuple[str, ...]:
        top = Section(sink, "names file", data, 1, required=["blocked"])
        first: dict[str, int] = {}
        for line, value in top.sequence("blocked", min_items=1):
            text = check_text(sink, value, line, "blocked word", BLOCKED_WORD_MAX)
            if text is None:
                continue
            word = normalize(text)
            if not word:
                sink.error(line, f"blocked word '{text}' has no Chinese characters, letters or digits")
            elif word in first:
                sink.error(line, f"blocked word '{text}' appears twice (first at {sink.file}:{first[word]})")
            else:
                first[word] = line
        return tuple(first)


def _phone(sink: ProblemSink, s: Section, key: str, what: str) -> str | None:
    value = s.data[key]
    line = s.line_of(key)
    if isinstance(value, int) and not isinstance(value, bool):
        sink.error(
            line, f"{what} must be in quotes, e.g. '0731-1234567' (YAML reads bare digits as a number: 0731… changes)"
        )
        return None
    text = check_text(sink, value, line, what)
    if text is None:
        return None
    if not PHONE_PATTERN.match(text):
        sink.error(line, f"{what} '{text}' is not a phone number: 5–20 digits, '-' and spaces (e.g. '0731-1234567')")
        return None
    return text
