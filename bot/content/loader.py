"""Load a content directory into a `Catalog`, collecting every problem on the way.

The loader keeps going after a problem so that one `content check` run shows an
editor everything that is wrong; a catalog is returned only when there is no error.
It opens every file and reads the topics/ directory; the entries of the other files are read by laws.py,
places.py, campaigns.py, matching.py (urgent intents, synonyms) and office.py (office, names).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.campaigns import CampaignReader, Declarations
from bot.content.fields import ProblemSink
from bot.content.items import FirstSeen, ItemReader
from bot.content.laws import LawReader
from bot.content.matching import read_synonyms, read_urgent
from bot.content.model import Campaign, Catalog, Law, Office, Place, Topic, Township, UrgentIntent
from bot.content.office import OfficeReader
from bot.content.places import read_places
from bot.content.problems import Problem, has_errors, msg
from bot.content.yamlsource import YamlSyntaxError, parse_yaml

LAWS_FILE = "laws.yaml"
CAMPAIGNS_FILE = "campaigns.yaml"
URGENT_FILE = "urgent.yaml"
SYNONYMS_FILE = "synonyms.yaml"
PLACES_FILE = "places.yaml"
OFFICE_FILE = "office.yaml"
NAMES_FILE = "names.yaml"
TOPICS_DIR = "topics"


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
        self.law_reader = LawReader(self.items, self.ids)
        self.campaign_reader = CampaignReader(self.items, self.ids)
        self.office_reader = OfficeReader(self.items, self.ids)

    def run(self) -> LoadResult:
        if not self.directory.is_dir():
            problem = Problem(self._display(self.directory), 1, msg("content_dir_missing"))
            return LoadResult(None, [problem])
        laws = self._load_laws()
        town, townships, places = self._load_places()
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
            townships=townships,
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
            sink.error(exc.line, exc.detail)
            self.roots.extend(sink.problems)
            return None
        except UnicodeDecodeError:
            sink.error(1, "not_utf8")
            self.roots.extend(sink.problems)
            return None
        except OSError as exc:
            sink.error(1, "unreadable_file", reason=exc.strerror)
            self.roots.extend(sink.problems)
            return None
        for line, key in result.duplicate_keys:
            sink.error(line, "duplicate_key", key=key)
        if result.data is None:
            sink.error(1, "empty_file")
        return sink, result.data

    def _parse_optional(self, name: str) -> tuple[ProblemSink, Any] | None:
        """An optional file (calendar, urgent intents, synonyms, office, names): None when absent or unreadable."""
        path = self.directory / name
        return self._parse(path) if path.exists() else None

    def _finish(self, sink: ProblemSink) -> None:
        self.problems.extend(sink.problems)

    # -- laws and places ---------------------------------------------------------------------

    def _load_laws(self) -> dict[str, Law]:
        path = self.directory / LAWS_FILE
        if not path.exists():
            self.problems.append(Problem(self._display(path), 1, msg("missing_laws_file")))
            return {}
        parsed = self._parse(path)
        if parsed is None:
            self.items.laws_unreadable = True  # every citation would be "unknown": the file's own error says it
            return {}
        sink, data = parsed
        laws = self.law_reader.laws(sink, data)
        self._finish(sink)
        return laws

    def _load_places(self) -> tuple[str, tuple[Township, ...], list[Place]]:
        path = self.directory / PLACES_FILE
        if not path.exists():
            self.problems.append(Problem(self._display(path), 1, msg("missing_places_file")))
            return "", (), []
        parsed = self._parse(path)
        if parsed is None:
            self.unreadable_places = self._display(path)
            return "", (), []
        sink, data = parsed
        town, townships, places = read_places(sink, data, self.ids, self.declared_places)
        self._finish(sink)
        return town, townships, places

    # -- campaigns, urgent intents, synonyms, office and names -------------------------------

    def _load_campaigns(self, topics: list[Topic], places: list[Place]) -> list[Campaign]:
        parsed = self._parse_optional(CAMPAIGNS_FILE)
        if parsed is None:
            return []
        sink, data = parsed
        declarations = Declarations(
            tips=self.items.declared_tips,
            topics=self.declared_topics,
            places=self.declared_places,
            unreadable_topics=self.unreadable_topics,
            unreadable_places=self.unreadable_places,
        )
        campaigns = self.campaign_reader.campaigns(sink, data, topics, places, declarations)
        self._finish(sink)
        return campaigns

    def _load_urgent(self, laws: dict[str, Law]) -> list[UrgentIntent]:
        parsed = self._parse_optional(URGENT_FILE)
        if parsed is None:
            return []
        sink, data = parsed
        intents = read_urgent(sink, data, laws, self.items, self.ids)
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
        synonyms = read_synonyms(sink, data)
        self._finish(sink)
        return synonyms

    # -- topics ------------------------------------------------------------------------------

    def _load_topics(self, laws: dict[str, Law]) -> list[Topic]:
        topics_dir = self.directory / TOPICS_DIR
        files = sorted(topics_dir.glob("*.yaml")) + sorted(topics_dir.glob("*.yml"))
        if not files:
            self.problems.append(Problem(self._display(topics_dir), 1, msg("no_topic_files")))
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
