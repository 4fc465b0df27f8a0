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
from bot.content.problems import Msg, msg
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
            msg("thing.office_file"),
            data,
            1,
            required=["office", "hotline", "disputes", "source"],
            optional=["mediation", "legal_aid"],
        )
        office = None
        if top.has("office"):
            office = self._contact(
                sink, msg("thing.office"), top.data["office"], top.line_of("office"), ("name", "address", "hours")
            )
        mediation = self._mediation(sink, top, places, declared_places or set(), unreadable)
        legal_aid = (
            self._contact(sink, msg("thing.legal_aid"), top.data["legal_aid"], top.line_of("legal_aid"), ("name",))
            if top.has("legal_aid")
            else None
        )
        hotline = _phone(sink, top, "hotline", msg("thing.hotline")) if top.has("hotline") else None
        disputes = self._disputes(sink, top, tips)
        sources = self.items.sources(sink, top, laws)
        if not (top.valid and office and hotline and disputes and sources) or mediation is None:
            return None
        return Office(office, mediation, legal_aid, hotline, tuple(disputes), sources)

    def _contact(self, sink: ProblemSink, what: Msg, data: Any, line: int, required: tuple[str, ...]) -> Contact | None:
        s = Section(sink, what, data, line, required=required, optional=[k for k in CONTACT_KEYS if k not in required])
        texts = {key: s.text(key, limit) for key, limit in CONTACT_LIMITS.items()}
        phone = _phone(sink, s, "phone", msg("thing.phone_of", what=what)) if s.has("phone") else None
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
                sink.error(top.line_of("mediation"), "mediation_not_mapping")
                return None
            for place_id, value in mapping.items():
                line = mapping.key_lines.get(place_id, top.line_of("mediation"))
                place = known.get(place_id)
                committee = msg("thing.committee_of", place=str(place_id))
                contact = self._contact(sink, committee, value, line, ("name", "address"))
                if place is None and (unreadable or place_id in declared):
                    unchecked += 1  # places.yaml could not be read, or this place has errors there
                    ok = False
                elif place is None:
                    sink.error(line, "unknown_place", id=place_id)
                    ok = False
                elif place.kind is PlaceKind.SCHOOL:
                    sink.error(line, "committee_of_school", id=place_id)
                    ok = False
                elif contact is not None:
                    committees[place_id] = contact
                ok = ok and contact is not None
        if unchecked and unreadable:
            sink.warning(top.line_of("mediation"), "committees_unchecked", count=unchecked, file=unreadable)
        if top.valid and places:
            for place in places:
                if place.kind is not PlaceKind.SCHOOL and place.id not in committees and ok:
                    sink.warning(top.line_of("mediation"), "no_committee", id=place.id, name=place.name)
        return committees if ok else None

    def _disputes(self, sink: ProblemSink, top: Section, tips: list[Tip]) -> list[DisputeKind]:
        tip_keywords: dict[str, str] = {}
        for tip in tips:
            for keyword in tip.keywords:
                tip_keywords.setdefault(normalize(keyword), tip.id)
        keyword_owner: dict[str, str] = {}
        disputes = []
        for line, item in top.sequence("disputes", min_items=1):
            s = Section(sink, msg("thing.dispute"), item, line, required=["id", "name", "keywords"])
            dispute_id, name = s.identifier(), s.text("name", DISPUTE_NAME_MAX)
            if dispute_id and not self.ids.claim(sink, "dispute", dispute_id, s.line_of("id")):
                dispute_id = None
            keywords: list[str] = []
            for kw_line, value in s.sequence("keywords", min_items=1):
                text = check_text(sink, value, kw_line, msg("thing.keyword"), LIMITS["keyword"])
                if text is None:
                    continue
                keyword = normalize(text)
                if not keyword:
                    sink.error(kw_line, "keyword_no_letters", keyword=text)
                elif keyword in keyword_owner:
                    sink.error(kw_line, "keyword_taken", keyword=text, dispute=keyword_owner[keyword])
                else:
                    keyword_owner[keyword] = dispute_id or "?"
                    keywords.append(keyword)
                    if keyword in tip_keywords:
                        sink.warning(kw_line, "keyword_of_tip", keyword=text, tip=tip_keywords[keyword])
            if dispute_id and name and keywords:
                disputes.append(DisputeKind(dispute_id, name, tuple(keywords)))
        return disputes

    # -- names.yaml --------------------------------------------------------------------------

    def blocked_words(self, sink: ProblemSink, data: Any) -> tuple[str, ...]:
        top = Section(sink, msg("thing.names_file"), data, 1, required=["blocked"])
        first: dict[str, int] = {}
        for line, value in top.sequence("blocked", min_items=1):
            text = check_text(sink, value, line, msg("thing.blocked_word"), BLOCKED_WORD_MAX)
            if text is None:
                continue
            word = normalize(text)
            if not word:
                sink.error(line, "blocked_no_letters", word=text)
            elif word in first:
                sink.error(line, "blocked_twice", word=text, where=f"{sink.file}:{first[word]}")
            else:
                first[word] = line
        return tuple(first)


def _phone(sink: ProblemSink, s: Section, key: str, what: Msg) -> str | None:
    value = s.data[key]
    line = s.line_of(key)
    if isinstance(value, int) and not isinstance(value, bool):
        sink.error(line, "phone_unquoted", what=what)
        return None
    text = check_text(sink, value, line, what)
    if text is None:
        return None
    if not PHONE_PATTERN.match(text):
        sink.error(line, "bad_phone", what=what, phone=text)
        return None
    return text
