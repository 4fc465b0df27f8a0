"""Load a content directory into a `Catalog`, collecting every problem on the way.

The loader keeps going after a problem so that one `content check` run shows an
editor everything that is wrong; a catalog is returned only when there is no error.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.calendar import parse_rule, parse_time
from bot.content.fields import ProblemSink, Section, check_text
from bot.content.items import LIMITS, FirstSeen, ItemReader
from bot.content.mentions import LawNames
from bot.content.model import (
    LAW_KINDS,
    TEXT_KINDS,
    Campaign,
    Catalog,
    Law,
    Office,
    Place,
    PlaceKind,
    Topic,
    UrgentIntent,
)
from bot.content.numerals import article_numbers
from bot.content.office import OfficeReader
from bot.content.problems import Problem, has_errors
from bot.content.yamlsource import LocatedDict, YamlSyntaxError, parse_yaml
from bot.textnorm import normalize

LAWS_FILE = "laws.yaml"
CAMPAIGNS_FILE = "campaigns.yaml"
URGENT_FILE = "urgent.yaml"
SYNONYMS_FILE = "synonyms.yaml"
PLACES_FILE = "places.yaml"
OFFICE_FILE = "office.yaml"
NAMES_FILE = "names.yaml"
TOPICS_DIR = "topics"
DATE_KEYS = ("in_force_since", "amended_in_force", "published_on", "repealed_on", "renumbered_on")
MAX_TRIGGER_EXPANSION = 500  # one trigger line with "|" alternatives stands for at most this many triggers

@dataclass
class LoadResult:
    catalog: Catalog | None
    problems: list[Problem] = field(default_factory=list)
    files: int = 0

    @property
    def ok(self) -> bool:
        return self.catalog is not None


def load_catalog(directory: Path, today: dt.date | None = None, display_root: Path | None = None) -> LoadResult:
    """Read laws, places and topics under `directory`. Never raises for bad content."""
    today = today or dt.date.today()
    loader = _Loader(directory, today, display_root)
    return loader.run()


class _Loader:
    def __init__(self, directory: Path, today: dt.date, display_root: Path | None) -> None:
        self.directory = directory
        self.today = today
        self.display_root = display_root
        self.problems: list[Problem] = []
        self.ids = FirstSeen()
        self.files = 0
        self.roots: list[Problem] = []  # files that could not be parsed at all
        # Cross-file references into a file that could not be read, or to an entry with errors of its own, are not
        # reported one by one ("unknown item" would mislead): the root problem says what is wrong.
        self.unreadable_topics: list[str] = []
        self.unreadable_places: str | None = None
        self.declared_places: set[str] = set()
        self.declared_topics: set[str] = set()
        self.items = ItemReader(directory, today, self.ids)
        self.office_reader = OfficeReader(self.items, self.ids)

    def run(self) -> LoadResult:
        if not self.directory.is_dir():
            problem = Problem(self._display(self.directory), 1, "content directory not found")
            return LoadResult(None, [problem])
        laws = self._load_laws()
        town, places = self._load_places()
        topics = self._load_topics(laws)
        campaigns = self._load_campaigns(topics, places)
        urgent = self._load_urgent(laws)
        synonyms = self._load_synonyms()
        office = self._load_office(laws, places, topics)
        blocked_name_words = self._load_names()
        # A file that cannot be read at all is the root cause of what follows from it: name it first.
        self.problems = sorted(self.roots, key=lambda p: (p.file, p.line)) + sorted(
            self.problems, key=lambda p: (p.file, p.line)
        )
        if has_errors(self.problems):
            return LoadResult(None, self.problems, self.files)
        catalog = Catalog(
            campaigns=tuple(campaigns),
            urgent=tuple(urgent),
            synonyms=synonyms,
            town=town,
            topics=tuple(sorted(topics, key=lambda t: (t.order, t.id))),
            places=tuple(places),
            laws=laws,
            office=office,
            blocked_name_words=blocked_name_words,
        )
        return LoadResult(catalog, self.problems, self.files)

    # -- files -------------------------------------------------------------------------------

    def _display(self, path: Path) -> str:
        if self.display_root is not None:
            try:
                return str(path.relative_to(self.display_root))
            except ValueError:
                pass
        return str(path)

    def _parse(self, path: Path) -> tuple[ProblemSink, Any] | None:
        sink = ProblemSink(self._display(path))
        self.files += 1
        try:
            result = parse_yaml(path)
        except YamlSyntaxError as exc:
            sink.error(exc.line, exc.message)
            self.roots.extend(sink.problems)
            return None
        except UnicodeDecodeError:
            sink.error(1, "file is not UTF-8 text (save it as UTF-8)")
            self.roots.extend(sink.problems)
            return None
        except OSError as exc:
            sink.error(1, f"cannot read file: {exc.strerror}")
            self.roots.extend(sink.problems)
            return None
        for line, key in result.duplicate_keys:
            sink.error(line, f"key '{key}' appears twice in the same mapping")
        if result.data is None:
            sink.error(1, "file is empty")
        return sink, result.data

    def _parse_optional(self, name: str) -> tuple[ProblemSink, Any] | None:
        """An optional file (calendar, urgent intents, synonyms, office, names): None when absent or unreadable."""
        path = self.directory / name
        return self._parse(path) if path.exists() else None

    def _finish(self, sink: ProblemSink) -> None:
        self.problems.extend(sink.problems)

    # -- laws --------------------------------------------------------------------------------

    def _load_laws(self) -> dict[str, Law]:
        path = self.directory / LAWS_FILE
        laws: dict[str, Law] = {}
        if not path.exists():
            self.problems.append(Problem(self._display(path), 1, "missing file: every citation needs laws.yaml"))
            return laws
        parsed = self._parse(path)
        if parsed is None:
            self.items.laws_unreadable = True  # every citation would be "unknown": the file's own error says it
            return laws
        sink, data = parsed
        top = Section(sink, "laws file", data, 1, required=["laws"])
        for line, item in top.sequence("laws", min_items=1):
            law = self._law(sink, item, line)
            if law is not None and self.ids.claim(sink, "law", law.id, line):
                laws[law.id] = law
        self._finish(sink)
        self.items.broken_law_ids -= set(laws)
        self.items.broken_law_names -= {n for law in laws.values() for n in law.names()}
        self.items.law_names = LawNames(laws, self.today, self.items.broken_law_names)
        return laws

    def _law(self, sink: ProblemSink, item: Any, line: int) -> Law | None:
        """One laws.yaml entry. Dates: see `Law` and docs/content.md (one convention for every entry)."""
        s = Section(
            sink,
            "law",
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
            sink.error(s.line_of("kind"), f"law kind '{kind}' is not one of {', '.join(LAW_KINDS + TEXT_KINDS)}")
            return None
        dates = {key: s.date(key) for key in DATE_KEYS}
        if kind in TEXT_KINDS:
            # A letter or publicity is not "in force": it has no in-force date, no articles, no renumbering.
            for key in ("in_force_since", "amended_in_force", "articles", "renumbered_on", "old_numbers"):
                if s.has(key):
                    sink.error(
                        s.line_of(key),
                        f"a {kind} has no '{key}': only laws, regulations, decisions and notices do "
                        "(a document may have 'published_on')",
                    )
                    return None
        elif kind:
            if s.valid and not s.has("in_force_since"):
                sink.error(s.line, f"{kind} is missing required key 'in_force_since' (the date its text says it "
                                   "takes effect, 本法自…起施行)")
                return None
            if s.has("published_on"):
                sink.error(s.line_of("published_on"), f"a {kind} has 'in_force_since', not 'published_on'")
                return None
        since, amended = dates["in_force_since"], dates["amended_in_force"]
        if amended is not None and not s.has("version"):
            sink.error(s.line_of("amended_in_force"), "'amended_in_force' needs 'version' naming the amended text")
        if since is not None and amended is not None and amended <= since:
            line = s.line_of("amended_in_force")
            sink.error(line, f"'amended_in_force' {amended} is not after in_force_since {since}")
            return None
        renumbered = dates["renumbered_on"]
        if since is not None and renumbered is not None and renumbered < since:
            sink.error(s.line_of("renumbered_on"), f"'renumbered_on' {renumbered} is before in_force_since {since}")
            return None
        articles = s.integer("articles", 1)
        old_numbers = self._old_numbers(sink, s, articles)
        if old_numbers and dates["renumbered_on"] is None:
            sink.error(s.line_of("old_numbers"), "'old_numbers' needs 'renumbered_on' (when the articles moved)")
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

    def _old_numbers(self, sink: ProblemSink, s: Section, articles: int | None) -> tuple[tuple[int, int], ...] | None:
        """`old_numbers: {第七十二条: 第八十四条}` — known provisions and where the renumbering moved them."""
        if not s.has("old_numbers"):
            return ()
        mapping = s.data["old_numbers"]
        if not isinstance(mapping, LocatedDict):
            sink.error(s.line_of("old_numbers"), "'old_numbers' must map an old article (第七十二条) to its new one")
            return None
        pairs = []
        for old, new in mapping.items():
            line = mapping.key_lines.get(old, s.line_of("old_numbers"))
            old_n, new_n = article_numbers(str(old)), article_numbers(str(new))
            if not old_n or not new_n or len(old_n) != 1 or len(new_n) != 1:
                sink.error(line, f"old_numbers '{old}: {new}' must map one 第X条 to one 第X条")
                return None
            if articles is not None and new_n[0] > articles:
                sink.error(line, f"old_numbers '{old}: {new}': the law has only {articles} articles")
                return None
            pairs.append((old_n[0], new_n[0]))
        return tuple(pairs)

    # -- places ------------------------------------------------------------------------------

    def _load_places(self) -> tuple[str, list[Place]]:
        path = self.directory / PLACES_FILE
        if not path.exists():
            self.problems.append(Problem(self._display(path), 1, "missing file: places.yaml names the town"))
            return "", []
        parsed = self._parse(path)
        if parsed is None:
            self.unreadable_places = self._display(path)
            return "", []
        sink, data = parsed
        top = Section(sink, "places file", data, 1, required=["town", "places"])
        town = top.text("town", LIMITS["place_name"]) or ""
        places: list[Place] = []
        for line, item in top.sequence("places", min_items=1):
            section = Section(
                sink, "place", item, line, required=["id", "name", "kind"], optional=["population", "enrolment"]
            )
            place_id, name = section.identifier(), section.text("name", LIMITS["place_name"])
            if place_id:
                self.declared_places.add(place_id)
            kind_text = section.text("kind")
            kind = None
            if kind_text is not None:
                try:
                    kind = PlaceKind(kind_text)
                except ValueError:
                    sink.error(
                        section.line_of("kind"), f"place kind '{kind_text}' is not one of village, community, school"
                    )
            population, enrolment = section.integer("population", 1), section.integer("enrolment", 1)
            if kind is PlaceKind.SCHOOL and section.has("population"):
                sink.error(section.line_of("population"), "a school has 'enrolment', not 'population'")
            if kind in (PlaceKind.VILLAGE, PlaceKind.COMMUNITY) and section.has("enrolment"):
                sink.error(section.line_of("enrolment"), "a village or community has 'population', not 'enrolment'")
            if place_id and name and kind and self.ids.claim(sink, "place", place_id, section.line):
                places.append(Place(place_id, name, kind, population, enrolment))
        self._finish(sink)
        return town, places

    # -- campaigns ---------------------------------------------------------------------------

    def _load_campaigns(self, topics: list[Topic], places: list[Place]) -> list[Campaign]:
        parsed = self._parse_optional(CAMPAIGNS_FILE)
        if parsed is None:
            return []
        sink, data = parsed
        tips = {tip.id: tip for topic in topics for tip in topic.tips}
        topic_ids, place_ids = {t.id for t in topics}, {p.id for p in places}
        top = Section(sink, "campaigns file", data, 1, required=["campaigns"])
        campaigns = []
        unchecked: list[int] = []  # lines whose references may be in a file that could not be read
        for line, item in top.sequence("campaigns", min_items=1):
            s = Section(
                sink,
                "campaign",
                item,
                line,
                required=["id", "name", "when", "time", "to"],
                optional=["item", "text", "topic"],
            )
            campaign_id, name = s.identifier(), s.text("name", 40)
            rule = when = None
            if s.has("when"):
                try:
                    rule = parse_rule(str(s.data["when"]))
                except ValueError as exc:
                    sink.error(s.line_of("when"), str(exc))
            if s.has("time"):
                try:
                    when = parse_time(str(s.data["time"]))
                except ValueError as exc:
                    sink.error(s.line_of("time"), str(exc))
            item_id, text, topic_id = s.text("item"), s.text("text", LIMITS["tip_body"]), s.text("topic")
            self.items.check_law_mentions(sink, s, ["text"])  # 「《消防法》第四十四条规定」: the law and article exist
            if (item_id is None) == (text is None):
                sink.error(s.line, "a campaign needs exactly one of 'item' (a tip id) or 'text'")
            tip = tips.get(item_id) if item_id else None
            if item_id and tip is None:
                if self._unchecked("tip", item_id, s.line_of("item"), unchecked):
                    sink.error(s.line_of("item"), f"campaign item '{item_id}' is not a tip id in topics/")
            elif tip is not None and not tip.is_served_on(self.today):
                sink.warning(s.line_of("item"), f"campaign item '{item_id}' has expired; the campaign will not send")
            topic_line = s.line_of("topic")
            if topic_id and topic_id not in topic_ids and self._unchecked("topic", topic_id, topic_line, unchecked):
                sink.error(topic_line, f"unknown topic '{topic_id}'")
            audience = []
            for spec_line, spec in s.sequence("to", min_items=1):
                spec_text = str(spec)
                kind, _, value = spec_text.partition(":")
                known = {"lang": {"zh-CN", "en"}, "topic": topic_ids, "place": place_ids}
                if spec_text == "all" or value in known.get(kind, ()):
                    audience.append(spec_text)
                elif kind in ("topic", "place"):
                    if self._unchecked(kind, value, spec_line, unchecked):
                        sink.error(spec_line, f"audience '{spec_text}': no {kind} with id '{value}'")
                else:
                    sink.error(spec_line, f"audience '{spec_text}' is not all, topic:ID, place:ID or lang:zh-CN|en")
            if campaign_id and not self.ids.claim(sink, "campaign", campaign_id, s.line_of("id")):
                campaign_id = None
            if campaign_id and name and rule and when and audience and (item_id or text):
                campaigns.append(
                    Campaign(
                        campaign_id,
                        name,
                        rule,
                        when,
                        tuple(audience),
                        item_id,
                        text,
                        topic_id or (tip.topic_id if tip else None),
                    )
                )
        if unchecked:
            broken = [*self.unreadable_topics, *([self.unreadable_places] if self.unreadable_places else [])]
            sink.warning(
                unchecked[0],
                f"{len(unchecked)} reference(s) to tips, topics or places not checked: "
                f"{', '.join(broken)} could not be read (its error is listed first)",
            )
        self._finish(sink)
        return campaigns

    def _unchecked(self, kind: str, value: str, line: int, unchecked: list[int]) -> bool:
        """True when a reference that was not found is an error here; False when another file explains it."""
        declared = {"tip": self.items.declared_tips, "topic": self.declared_topics, "place": self.declared_places}
        if value in declared[kind]:
            return False  # it is there, with an error of its own in its own file
        if (kind == "place" and self.unreadable_places) or (kind != "place" and self.unreadable_topics):
            unchecked.append(line)
            return False
        return True

    # -- urgent intents and synonyms ---------------------------------------------------------

    def _load_urgent(self, laws: dict[str, Law]) -> list[UrgentIntent]:
        parsed = self._parse_optional(URGENT_FILE)
        if parsed is None:
            return []
        sink, data = parsed
        top = Section(sink, "urgent file", data, 1, required=["urgent"])
        intents = []
        for line, item in top.sequence("urgent", min_items=1):
            s = Section(
                sink,
                "urgent intent",
                item,
                line,
                required=["id", "name", "triggers", "reply", "source"],
                optional=["unless"],
            )
            intent_id, name = s.identifier(), s.text("name", 20)
            reply = s.text("reply", LIMITS["tip_body"])
            triggers = []
            for trigger_line, trigger in s.sequence("triggers", min_items=1):
                text = check_text(sink, trigger, trigger_line, "trigger")
                if text is None:
                    continue
                # Words joined by "+" must all appear; "a|b" in a word's place means either of them.
                slots = [[normalize(word) for word in slot.split("|")] for slot in text.split("+")]
                if not all(all(slot) for slot in slots):
                    sink.error(
                        trigger_line,
                        f"trigger '{text}' has an empty word (write words joined by +, alternatives by |)",
                    )
                    continue
                expansion = 1
                for slot in slots:
                    expansion *= len(slot)
                if expansion > MAX_TRIGGER_EXPANSION:
                    sink.error(
                        trigger_line,
                        f"trigger '{text}' stands for {expansion} word combinations, at most "
                        f"{MAX_TRIGGER_EXPANSION}: split it into several triggers",
                    )
                    continue
                triggers.extend(itertools.product(*slots))
            unless = [
                normalize(text)
                for unless_line, value in s.sequence("unless")
                if (text := check_text(sink, value, unless_line, "unless word"))
            ]
            sources = self.items.sources(sink, s, laws)
            self.items.check_law_mentions(sink, s, ["reply"])
            if intent_id and not self.ids.claim(sink, "urgent intent", intent_id, s.line_of("id")):
                intent_id = None
            if intent_id and name and reply and triggers and sources:
                intents.append(UrgentIntent(intent_id, name, tuple(triggers), tuple(unless), reply, sources))
        self._finish(sink)
        return intents

    def _load_office(self, laws: dict[str, Law], places: list[Place], topics: list[Topic]) -> Office | None:
        parsed = self._parse_optional(OFFICE_FILE)
        if parsed is None:
            return None
        sink, data = parsed
        tips = [tip for topic in topics for tip in topic.tips]
        office = self.office_reader.office(
            sink, data, laws, places, tips, declared_places=self.declared_places, unreadable=self.unreadable_places
        )
        self._finish(sink)
        return office

    def _load_names(self) -> tuple[str, ...]:
        parsed = self._parse_optional(NAMES_FILE)
        if parsed is None:
            return ()
        sink, data = parsed
        words = self.office_reader.blocked_words(sink, data)
        self._finish(sink)
        return words

    def _load_synonyms(self) -> dict[str, str]:
        parsed = self._parse_optional(SYNONYMS_FILE)
        if parsed is None:
            return {}
        sink, data = parsed
        top = Section(sink, "synonyms file", data, 1, required=["synonyms"])
        synonyms: dict[str, str] = {}
        if top.has("synonyms"):
            mapping = top.data["synonyms"]
            if not isinstance(mapping, dict):
                sink.error(top.line_of("synonyms"), "'synonyms' must map what residents type to the word tips use")
            else:
                for wrong, right in mapping.items():
                    line = mapping.key_lines.get(wrong, top.line)
                    target = check_text(sink, right, line, f"synonym of '{wrong}'")
                    source = normalize(str(wrong))
                    if target and source:
                        synonyms[source] = normalize(target)
        self._finish(sink)
        return synonyms

    # -- topics ------------------------------------------------------------------------------

    def _load_topics(self, laws: dict[str, Law]) -> list[Topic]:
        topics_dir = self.directory / TOPICS_DIR
        files = sorted(topics_dir.glob("*.yaml")) + sorted(topics_dir.glob("*.yml"))
        if not files:
            self.problems.append(Problem(self._display(topics_dir), 1, "no topic files (*.yaml) found"))
        topics = []
        for path in files:
            parsed = self._parse(path)
            if parsed is None:
                self.unreadable_topics.append(self._display(path))
                continue
            sink, data = parsed
            if isinstance(data, dict) and isinstance(data.get("id"), str):
                self.declared_topics.add(data["id"])
            topic = self.items.topic(sink, data, laws)
            self._finish(sink)
            if topic is not None:
                topics.append(topic)
        return topics
