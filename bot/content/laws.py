"""Reads content/laws.yaml: the laws, regulations and documents that every citation points into.

`LawReader` reads them for the loader, like `ItemReader` reads topics: one problem per mistake, each with its
file:line; law ids are checked for duplicates with every other id of the directory.
"""

from __future__ import annotations

from typing import Any

from bot.content.fields import ProblemSink, Section
from bot.content.items import FirstSeen, ItemReader
from bot.content.mentions import LawNames
from bot.content.model import LAW_KINDS, TEXT_KINDS, Law
from bot.content.numerals import article_numbers
from bot.content.problems import msg
from bot.content.yamlsource import LocatedDict

DATE_KEYS = ("in_force_since", "amended_in_force", "published_on", "repealed_on", "renumbered_on")


class LawReader:
    def __init__(self, items: ItemReader, ids: FirstSeen) -> None:
        self.items = items
        self.ids = ids

    def laws(self, sink: ProblemSink, data: Any) -> dict[str, Law]:
        """Every valid entry by id. Tells `items` which law ids and names are broken and which names are known."""
        laws: dict[str, Law] = {}
        top = Section(sink, msg("thing.laws_file"), data, 1, required=["laws"])
        for line, item in top.sequence("laws", min_items=1):
            law = self._law(sink, item, line)
            if law is not None and self.ids.claim(sink, "law", law.id, line):
                laws[law.id] = law
        self.items.broken_law_ids -= set(laws)
        self.items.broken_law_names -= {n for law in laws.values() for n in law.names()}
        self.items.law_names = LawNames(laws, self.items.today, self.items.broken_law_names)
        return laws

    def _law(self, sink: ProblemSink, item: Any, line: int) -> Law | None:
        """One laws.yaml entry. Dates: see `Law` and docs/content.md (one convention for every entry)."""
        s = Section(
            sink,
            msg("thing.law"),
            item,
            line,
            required=["id", "name", "short", "kind"],
            optional=[
                "version",
                "in_force_since",
                "amended_in_force",
                "published_on",
                "articles",
                "repealed_on",
                "renumbered_on",
                "old_numbers",
            ],
        )
        law_id = s.identifier(max_len=40)  # law ids never travel in button payloads
        name, short, kind = s.text("name"), s.text("short"), s.text("kind")
        # Remember every entry's id and names, even a broken one: what cites it is not "unknown" (no cascade).
        if law_id:
            self.items.broken_law_ids.add(law_id)
        for text in (name, short):
            if text:
                self.items.broken_law_names.update(Law("?", text, text, "law").names())
        if kind and kind not in LAW_KINDS + TEXT_KINDS:
            sink.error(s.line_of("kind"), "law_kind", kind=kind, kinds=LAW_KINDS + TEXT_KINDS)
            return None
        dates = {key: s.date(key) for key in DATE_KEYS}
        if kind in TEXT_KINDS:
            # A letter or publicity is not "in force": it has no in-force date, no articles, no renumbering.
            for key in ("in_force_since", "amended_in_force", "articles", "renumbered_on", "old_numbers"):
                if s.has(key):
                    sink.error(s.line_of(key), "text_kind_key", kind=kind, key=key)
                    return None
        elif kind:
            if s.valid and not s.has("in_force_since"):
                sink.error(s.line, "missing_in_force_since", kind=kind)
                return None
            if s.has("published_on"):
                sink.error(s.line_of("published_on"), "law_published_on", kind=kind)
                return None
        since, amended = dates["in_force_since"], dates["amended_in_force"]
        if amended is not None and not s.has("version"):
            sink.error(s.line_of("amended_in_force"), "amended_needs_version")
        if since is not None and amended is not None and amended <= since:
            line = s.line_of("amended_in_force")
            sink.error(line, "amended_not_after", amended=amended, since=since)
            return None
        renumbered = dates["renumbered_on"]
        if since is not None and renumbered is not None and renumbered < since:
            sink.error(s.line_of("renumbered_on"), "renumbered_before", renumbered=renumbered, since=since)
            return None
        articles = s.integer("articles", 1)
        old_numbers = _old_numbers(sink, s, articles)
        if old_numbers and dates["renumbered_on"] is None:
            sink.error(s.line_of("old_numbers"), "old_numbers_need_date")
            return None
        if not (law_id and name and short and kind) or old_numbers is None:
            return None
        return Law(
            id=law_id,
            name=name,
            short=short,
            kind=kind,
            in_force_since=since,
            version=s.text("version"),
            articles=articles,
            repealed_on=dates["repealed_on"],
            amended_in_force=amended,
            published_on=dates["published_on"],
            renumbered_on=dates["renumbered_on"],
            old_numbers=old_numbers,
        )


def _old_numbers(sink: ProblemSink, s: Section, articles: int | None) -> tuple[tuple[int, int], ...] | None:
    """`old_numbers: {第七十二条: 第八十四条}` — known provisions and where the renumbering moved them."""
    if not s.has("old_numbers"):
        return ()
    mapping = s.data["old_numbers"]
    if not isinstance(mapping, LocatedDict):
        sink.error(s.line_of("old_numbers"), "old_numbers_not_mapping")
        return None
    pairs = []
    for old, new in mapping.items():
        line = mapping.key_lines.get(old, s.line_of("old_numbers"))
        old_n, new_n = article_numbers(str(old)), article_numbers(str(new))
        if not old_n or not new_n or len(old_n) != 1 or len(new_n) != 1:
            sink.error(line, "old_numbers_pair", old=str(old), new=str(new))
            return None
        if articles is not None and new_n[0] > articles:
            sink.error(line, "old_numbers_beyond", old=str(old), new=str(new), count=articles)
            return None
        pairs.append((old_n[0], new_n[0]))
    return tuple(pairs)
