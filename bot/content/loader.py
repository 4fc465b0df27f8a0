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
from bot.content.model import Campaign, Catalog, Law, Office, Place, PlaceKind, Topic, UrgentIntent
from bot.content.office import OfficeReader
from bot.content.problems import Problem, has_errors
from bot.content.yamlsource import YamlSyntaxError, parse_yaml
from bot.textnorm import normalize

LAWS_FILE = "laws.yaml"
CAMPAIGNS_FILE = "campaigns.yaml"
URGENT_FILE = "urgent.yaml"
SYNONYMS_FILE = "synonyms.yaml"
PLACES_FILE = "places.yaml"
OFFICE_FILE = "office.yaml"
NAMES_FILE = "names.yaml"
TOPICS_DIR = "topics"
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
            law_section = Section(
                sink,
                "law",
                item,
                line,
                required=["id", "name", "short", "kind", "in_force_since"],
                optional=["version", "articles", "repealed_on"],
            )
            law_id = law_section.identifier(max_len=40)  # law ids never travel in button payloads
            name, short = law_section.text("name"), law_section.text("short")
            kind = law_section.text("kind")
            if kind and kind not in {"law", "regulation", "decision", "notice", "document"}:
                sink.error(
                    law_section.line_of("kind"),
                    f"law kind '{kind}' is not one of law, regulation, decision, notice, document",
                )
            since = law_section.date("in_force_since")
            if law_id and name and short and kind and since and self.ids.claim(sink, "law", law_id, law_section.line):
                laws[law_id] = Law(
                    id=law_id,
                    name=name,
                    short=short,
                    kind=kind,
                    in_force_since=since,
                    version=law_section.text("version"),
                    articles=law_section.integer("articles", 1),
                    repealed_on=law_section.date("repealed_on"),
                )
        self._finish(sink)
        return laws

    # -- places ------------------------------------------------------------------------------

    def _load_places(self) -> tuple[str, list[Place]]:
        path = self.directory / PLACES_FILE
        if not path.exists():
            self.problems.append(Problem(self._display(path), 1, "missing file: places.yaml names the town"))
            return "", []
        parsed = self._parse(path)
        if parsed is None:
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
            if (item_id is None) == (text is None):
                sink.error(s.line, "a campaign needs exactly one of 'item' (a tip id) or 'text'")
            tip = tips.get(item_id) if item_id else None
            if item_id and tip is None:
                sink.error(s.line_of("item"), f"campaign item '{item_id}' is not a tip id in topics/")
            elif tip is not None and not tip.is_served_on(self.today):
                sink.warning(s.line_of("item"), f"campaign item '{item_id}' has expired; the campaign will not send")
            if topic_id and topic_id not in topic_ids:
                sink.error(s.line_of("topic"), f"unknown topic '{topic_id}'")
            audience = []
            for spec_line, spec in s.sequence("to", min_items=1):
                spec_text = str(spec)
                kind, _, value = spec_text.partition(":")
                known = {"lang": {"zh-CN", "en"}, "topic": topic_ids, "place": place_ids}
                if spec_text == "all" or value in known.get(kind, ()):
                    audience.append(spec_text)
                elif kind in ("topic", "place"):
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
        self._finish(sink)
        return campaigns

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
        office = self.office_reader.office(sink, data, laws, places, tips)
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
                continue
            sink, data = parsed
            topic = self.items.topic(sink, data, laws)
            self._finish(sink)
            if topic is not None:
                topics.append(topic)
        return topics
