"""Load a content directory into a `Catalog`, collecting every problem on the way.

The loader keeps going after a problem so that one `content check` run shows an
editor everything that is wrong; a catalog is returned only when there is no error.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.calendar import parse_rule, parse_time
from bot.content.fields import ProblemSink, Section, check_text
from bot.content.model import Campaign, Catalog, Citation, Law, Place, PlaceKind, QuizQuestion, Tip, Topic, UrgentIntent
from bot.content.numerals import article_numbers
from bot.content.problems import Problem, has_errors
from bot.content.yamlsource import YamlSyntaxError, parse_yaml
from bot.textnorm import normalize

LAWS_FILE = "laws.yaml"
CAMPAIGNS_FILE = "campaigns.yaml"
URGENT_FILE = "urgent.yaml"
SYNONYMS_FILE = "synonyms.yaml"
PLACES_FILE = "places.yaml"
TOPICS_DIR = "topics"

LIMITS = {
    "topic_title": 16,
    "summary": 60,
    "tip_title": 30,
    "tip_body": 300,
    "question": 250,
    "option": 100,
    "explanation": 200,
    "place_name": 16,
    "keyword": 20,
}
ANSWER_LETTERS = string.ascii_uppercase[:4]


@dataclass
class LoadResult:
    catalog: Catalog | None
    problems: list[Problem] = field(default_factory=list)
    files: int = 0

    @property
    def ok(self) -> bool:
        return self.catalog is not None


@dataclass
class _FirstSeen:
    """Where each id was first defined, to name both places of a duplicate."""

    seen: dict[tuple[str, str], str] = field(default_factory=dict)

    def claim(self, sink: ProblemSink, kind: str, item_id: str, line: int) -> bool:
        key = (kind, item_id)
        here = f"{sink.file}:{line}"
        if key in self.seen:
            hint = " — is this file a copy?" if kind == "topic" else ""
            sink.error(line, f"duplicate {kind} id '{item_id}' (first defined at {self.seen[key]}){hint}")
            return False
        self.seen[key] = here
        return True


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
        self.ids = _FirstSeen()
        self.files = 0

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
        self.problems.sort(key=lambda p: (p.file, p.line))
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
            self.problems.extend(sink.problems)
            return None
        except UnicodeDecodeError:
            sink.error(1, "file is not UTF-8 text (save it as UTF-8)")
            self.problems.extend(sink.problems)
            return None
        except OSError as exc:
            sink.error(1, f"cannot read file: {exc.strerror}")
            self.problems.extend(sink.problems)
            return None
        for line, key in result.duplicate_keys:
            sink.error(line, f"key '{key}' appears twice in the same mapping")
        if result.data is None:
            sink.error(1, "file is empty")
        return sink, result.data

    def _parse_optional(self, name: str) -> tuple[ProblemSink, Any] | None:
        """An optional file (calendar, urgent intents, synonyms): None when absent or unreadable."""
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
                words = tuple(normalize(word) for word in text.split("+"))
                if not all(words):
                    sink.error(trigger_line, f"trigger '{text}' has an empty word (write words joined by +)")
                    continue
                triggers.append(words)
            unless = [
                normalize(text)
                for unless_line, value in s.sequence("unless")
                if (text := check_text(sink, value, unless_line, "unless word"))
            ]
            sources = self._sources(sink, s, laws)
            if intent_id and not self.ids.claim(sink, "urgent intent", intent_id, s.line_of("id")):
                intent_id = None
            if intent_id and name and reply and triggers and sources:
                intents.append(UrgentIntent(intent_id, name, tuple(triggers), tuple(unless), reply, sources))
        self._finish(sink)
        return intents

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
            topic = self._topic(sink, data, laws)
            self._finish(sink)
            if topic is not None:
                topics.append(topic)
        return topics

    def _topic(self, sink: ProblemSink, data: Any, laws: dict[str, Law]) -> Topic | None:
        section = Section(
            sink,
            "topic",
            data,
            1,
            required=["id", "title", "tips", "quiz"],
            optional=["title_en", "emoji", "summary", "order"],
        )
        topic_id = section.identifier()
        title = section.text("title", LIMITS["topic_title"])
        duplicate = topic_id is not None and not self.ids.claim(sink, "topic", topic_id, section.line_of("id"))
        saved_ids = self.ids
        if duplicate:
            # A copied topic file would repeat every item id; its own duplicate-topic line says enough.
            self.ids = _FirstSeen()
        tips = [self._tip(sink, line, item, topic_id or "", laws) for line, item in section.sequence("tips", 1)]
        quiz = [self._question(sink, line, item, topic_id or "", laws) for line, item in section.sequence("quiz", 1)]
        self.ids = saved_ids
        if duplicate or not (topic_id and title):
            return None
        return Topic(
            id=topic_id,
            title=title,
            tips=tuple(t for t in tips if t is not None),
            quiz=tuple(q for q in quiz if q is not None),
            title_en=section.text("title_en", 30),
            emoji=section.text("emoji", 4),
            summary=section.text("summary", LIMITS["summary"]),
            order=section.integer("order") or 100,
        )

    def _tip(self, sink: ProblemSink, line: int, data: Any, topic_id: str, laws: dict[str, Law]) -> Tip | None:
        s = Section(
            sink,
            "tip",
            data,
            line,
            required=["id", "title", "body", "keywords", "source", "reviewed_on"],
            optional=["image", "valid_until"],
        )
        tip_id = s.identifier()
        if tip_id and not self.ids.claim(sink, "tip", tip_id, s.line_of("id")):
            tip_id = None
        title, body = s.text("title", LIMITS["tip_title"]), s.text("body", LIMITS["tip_body"])
        keywords = [
            kw
            for kw_line, value in s.sequence("keywords", min_items=1)
            if (kw := _keyword(sink, kw_line, value)) is not None
        ]
        sources = self._sources(sink, s, laws)
        reviewed_on, valid_until = self._review_dates(sink, s, f"tip '{tip_id or '?'}'")
        image = s.text("image")
        if image is not None and not self._image_exists(image):
            sink.error(s.line_of("image"), f"image '{image}' not found under the content directory")
        if not (tip_id and title and body and keywords and sources and reviewed_on):
            return None
        return Tip(tip_id, topic_id, title, body, tuple(keywords), sources, reviewed_on, valid_until, image)

    def _question(
        self, sink: ProblemSink, line: int, data: Any, topic_id: str, laws: dict[str, Law]
    ) -> QuizQuestion | None:
        s = Section(
            sink,
            "quiz question",
            data,
            line,
            required=["id", "question", "options", "answer", "explanation", "source", "reviewed_on"],
            optional=["valid_until"],
        )
        qid = s.identifier()
        if qid and not self.ids.claim(sink, "quiz question", qid, s.line_of("id")):
            qid = None
        question = s.text("question", LIMITS["question"])
        raw_options = s.sequence("options", min_items=2, max_items=4)
        options = [_option(sink, opt_line, value, i) for i, (opt_line, value) in enumerate(raw_options)]
        answer = self._answer(sink, s, len(options))
        explanation = s.text("explanation", LIMITS["explanation"])
        sources = self._sources(sink, s, laws)
        reviewed_on, valid_until = self._review_dates(sink, s, f"quiz question '{qid or '?'}'")
        if not (
            qid
            and question
            and options
            and all(options)
            and answer is not None
            and explanation
            and sources
            and reviewed_on
            and 2 <= len(options) <= 4
        ):
            return None
        return QuizQuestion(
            qid,
            topic_id,
            question,
            tuple(o for o in options if o),
            answer,
            explanation,
            sources,
            reviewed_on,
            valid_until,
        )

    def _answer(self, sink: ProblemSink, s: Section, option_count: int) -> int | None:
        if not s.has("answer"):
            return None
        raw = str(s.data["answer"]).strip().upper()
        line = s.line_of("answer")
        if len(raw) != 1 or raw not in ANSWER_LETTERS:
            sink.error(line, f"answer must be one letter A–D naming the correct option, got {s.data['answer']!r}")
            return None
        index = ANSWER_LETTERS.index(raw)
        if option_count >= 2 and index >= option_count:
            sink.error(
                line,
                f"answer {raw} is out of range: the question has only {option_count} options "
                f"(A–{ANSWER_LETTERS[option_count - 1]})",
            )
            return None
        return index

    def _sources(self, sink: ProblemSink, s: Section, laws: dict[str, Law]) -> tuple[Citation, ...]:
        citations = []
        for line, item in s.sequence("source", min_items=1):
            cs = Section(sink, "source", item, line, required=["law"], optional=["article"])
            law_id, article = cs.text("law"), cs.text("article")
            if law_id is None:
                continue
            law = laws.get(law_id)
            if law is None:
                sink.error(cs.line_of("law"), f"unknown law '{law_id}': add it to laws.yaml or use one of its ids")
                continue
            if law.repealed_on is not None and law.repealed_on <= self.today:
                sink.error(
                    cs.line_of("law"), f"law '{law_id}' was repealed on {law.repealed_on}: cite the law in force"
                )
                continue
            if law.in_force_since > self.today:
                sink.error(cs.line_of("law"), f"law '{law_id}' is not in force until {law.in_force_since}")
                continue
            if article is not None:
                numbers = article_numbers(article)
                if numbers is None:
                    sink.error(
                        cs.line_of("article"),
                        f"article '{article}' is not in the form 第X条 (e.g. 第三十一条, 第三十一条第一款, "
                        "第二百八十七条之二)",
                    )
                    continue
                too_big = [n for n in numbers if law.articles is not None and n > law.articles]
                if too_big:
                    sink.error(
                        cs.line_of("article"),
                        f"article '{article}' does not exist: {law.short} has {law.articles} articles",
                    )
                    continue
            citations.append(Citation(law, article))
        return tuple(citations)

    def _review_dates(self, sink: ProblemSink, s: Section, what: str) -> tuple[dt.date | None, dt.date | None]:
        reviewed_on, valid_until = s.date("reviewed_on"), s.date("valid_until")
        if reviewed_on and reviewed_on > self.today:
            sink.error(s.line_of("reviewed_on"), f"reviewed_on {reviewed_on} is in the future")
        if valid_until and valid_until < self.today:
            sink.warning(s.line_of("valid_until"), f"{what} expired on {valid_until}; it is not served")
        return reviewed_on, valid_until

    def _image_exists(self, relative: str) -> bool:
        path = (self.directory / relative).resolve()
        return path.is_file() and self.directory.resolve() in path.parents


def _keyword(sink: ProblemSink, line: int, value: Any) -> str | None:
    return check_text(sink, value, line, "keyword", LIMITS["keyword"])


def _option(sink: ProblemSink, line: int, value: Any, index: int) -> str | None:
    return check_text(
        sink, value, line, f"option {ANSWER_LETTERS[index] if index < 4 else index + 1}", LIMITS["option"]
    )
