"""Topics and what they hold (tips, quiz questions), and the citations and dates every item carries.

`ItemReader` reads them for the loader: one problem per mistake, each with its file:line, and ids checked for
duplicates across every file of the directory.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.fields import ProblemSink, Section, check_text
from bot.content.mentions import LawNames, old_number_warning
from bot.content.model import Citation, Law, QuizQuestion, Tip, Topic
from bot.content.numerals import article_numbers
from bot.content.problems import Severity
from bot.textnorm import normalize

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
    "ask": 60,
}
MAX_ASKS = 12
ANSWER_LETTERS = string.ascii_uppercase[:4]



@dataclass
class FirstSeen:
    """Where each id was first defined, to name both places of a duplicate."""

    seen: dict[tuple[str, str], str] = field(default_factory=dict)

    def claim(self, sink: ProblemSink, kind: str, item_id: str, line: int) -> bool:
        key = (kind, item_id)
        here = f"{sink.file}:{line}"
        if key in self.seen and kind == "ask":
            sink.error(line, f"ask '{item_id}' is already an ask of another tip (at {self.seen[key]})")
            return False
        if key in self.seen:
            hint = " — is this file a copy?" if kind == "topic" else ""
            sink.error(line, f"duplicate {kind} id '{item_id}' (first defined at {self.seen[key]}){hint}")
            return False
        self.seen[key] = here
        return True


class ItemReader:
    def __init__(self, directory: Path, today: dt.date, ids: FirstSeen) -> None:
        self.directory = directory
        self.today = today
        self.ids = ids
        self.laws_unreadable = False  # laws.yaml could not be parsed: citations are not checked one by one
        self.broken_law_ids: set[str] = set()  # laws.yaml entries with errors of their own: citing them is no error
        self.broken_law_names: set[str] = set()
        self.law_names: LawNames | None = None  # names of the laws, to check law names written in text
        self.declared_tips: set[str] = set()  # every tip id written in a topic file, even of a tip with errors

    def topic(self, sink: ProblemSink, data: Any, laws: dict[str, Law]) -> Topic | None:
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
            self.ids = FirstSeen()
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
            optional=["image", "valid_until", "asks"],
        )
        tip_id = s.identifier()
        if tip_id:
            self.declared_tips.add(tip_id)
        if tip_id and not self.ids.claim(sink, "tip", tip_id, s.line_of("id")):
            tip_id = None
        title, body = s.text("title", LIMITS["tip_title"]), s.text("body", LIMITS["tip_body"])
        keywords = [
            kw
            for kw_line, value in s.sequence("keywords", min_items=1)
            if (kw := _keyword(sink, kw_line, value)) is not None
        ]
        asks = self._asks(sink, s, tip_id)
        sources = self.sources(sink, s, laws)
        cited = self.check_law_mentions(sink, s, ["title", "body"])
        reviewed_on, valid_until = self._review_dates(sink, s, f"tip '{tip_id or '?'}'")
        self._reviewed_before_renumbering(sink, s, f"tip '{tip_id or '?'}'", reviewed_on, sources, cited)
        image = s.text("image")
        if image is not None and not self._image_exists(image):
            sink.error(s.line_of("image"), f"image '{image}' not found under the content directory")
        if not (tip_id and title and body and keywords and sources and reviewed_on):
            return None
        return Tip(tip_id, topic_id, title, body, tuple(keywords), sources, reviewed_on, valid_until, image, asks)

    def _asks(self, sink: ProblemSink, s: Section, tip_id: str | None) -> tuple[str, ...]:
        """Example questions in residents' words. One question belongs to one tip: the same question
        under two tips would make the answerer guess, so the second is an error naming the first."""
        asks: list[str] = []
        seen_here: set[str] = set()
        for line, value in s.sequence("asks", min_items=1, max_items=MAX_ASKS):
            ask = check_text(sink, value, line, "ask", LIMITS["ask"])
            if ask is None:
                continue
            key = normalize(ask)
            if len(key) < 2:
                sink.error(line, f"ask '{ask}' is too short to match anything")
                continue
            if key in seen_here:
                sink.error(line, f"ask '{ask}' is listed twice for this tip")
                continue
            seen_here.add(key)
            if tip_id is not None and not self.ids.claim(sink, "ask", key, line):
                continue
            asks.append(ask)
        return tuple(asks)

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
        sources = self.sources(sink, s, laws)
        cited = self.check_law_mentions(sink, s, ["question", "explanation"])
        for opt_line, value in raw_options:
            if isinstance(value, str):
                cited.update(self._mentions(sink, value, lambda _offset, line=opt_line: line))
        reviewed_on, valid_until = self._review_dates(sink, s, f"quiz question '{qid or '?'}'")
        self._reviewed_before_renumbering(sink, s, f"quiz question '{qid or '?'}'", reviewed_on, sources, cited)
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

    def sources(self, sink: ProblemSink, s: Section, laws: dict[str, Law]) -> tuple[Citation, ...]:
        citations = []
        for line, item in s.sequence("source", min_items=1):
            cs = Section(sink, "source", item, line, required=["law"], optional=["article"])
            law_id, article = cs.text("law"), cs.text("article")
            if law_id is None:
                continue
            law = laws.get(law_id)
            if law is None and (self.laws_unreadable or law_id in self.broken_law_ids):
                continue  # laws.yaml's own error says what is wrong; "unknown law" here would mislead
            if law is None:
                sink.error(cs.line_of("law"), f"unknown law '{law_id}': add it to laws.yaml or use one of its ids")
                continue
            if law.repealed_on is not None and law.repealed_on <= self.today:
                sink.error(
                    cs.line_of("law"), f"law '{law_id}' was repealed on {law.repealed_on}: cite the law in force"
                )
                continue
            if law.in_force_since is not None and law.in_force_since > self.today:
                sink.error(cs.line_of("law"), f"law '{law_id}' is not in force until {law.in_force_since}")
                continue
            if article is not None and not law.has_articles:
                sink.error(
                    cs.line_of("article"),
                    f"'{law_id}' is a {law.kind}, not a law: it has no articles (leave out 'article')",
                )
                continue
            if article is not None and law.amended_in_force is not None and law.amended_in_force > self.today:
                sink.error(
                    cs.line_of("article"),
                    f"the {law.version or 'amended'} text of {law.short} takes effect on {law.amended_in_force}: "
                    "its article numbers are not in force yet",
                )
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
                moved = old_number_warning(law, article, numbers)
                if moved:
                    sink.warning(cs.line_of("article"), moved)
            citations.append(Citation(law, article))
        return tuple(citations)

    def check_law_mentions(self, sink: ProblemSink, s: Section, keys: list[str]) -> dict[str, Law]:
        """Law names and 第X条 written in these text fields, each problem at its own line; the laws cited by article."""
        cited: dict[str, Law] = {}
        for key in keys:
            value = s.data.get(key) if s.valid else None
            if isinstance(value, str):
                cited.update(self._mentions(sink, value, lambda offset, key=key: s.line_in_text(key, offset)))
        return cited

    def _mentions(self, sink: ProblemSink, text: str, line_of: Callable[[int], int]) -> dict[str, Law]:
        if self.law_names is None:
            return {}  # laws.yaml is missing or unreadable: its own problem says so
        result = self.law_names.check(text)
        for finding in result.findings:
            if finding.severity is Severity.WARNING:
                sink.warning(line_of(finding.offset), finding.message)
            else:
                sink.error(line_of(finding.offset), finding.message)
        return result.cited

    def _reviewed_before_renumbering(
        self,
        sink: ProblemSink,
        s: Section,
        what: str,
        reviewed_on: dt.date | None,
        sources: tuple[Citation, ...],
        cited: dict[str, Law],
    ) -> None:
        """An item last reviewed before a law it cites by article was renumbered may carry the old numbers."""
        if reviewed_on is None:
            return
        laws = dict(cited)
        laws.update((c.law.id, c.law) for c in sources if c.article)
        for law in laws.values():
            if law.renumbered_on is not None and reviewed_on < law.renumbered_on:
                sink.warning(
                    s.line_of("reviewed_on"),
                    f"{what} was reviewed on {reviewed_on}, before {law.short} was renumbered on "
                    f"{law.renumbered_on}: check its article numbers against the current text, then update "
                    "reviewed_on",
                )

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
