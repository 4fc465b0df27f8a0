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
from bot.content.problems import Msg, Severity, msg
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
# How each kind of id is named in messages ("duplicate tip id …", 「小贴士 id … 重复了」).
KIND_NAMES = {
    "topic": msg("thing.topic"),
    "tip": msg("thing.tip"),
    "ask": msg("thing.ask"),
    "quiz question": msg("thing.quiz_question"),
    "law": msg("thing.law"),
    "place": msg("thing.place"),
    "township": msg("thing.township"),
    "campaign": msg("thing.campaign"),
    "urgent intent": msg("thing.urgent_intent"),
    "dispute": msg("thing.dispute"),
}


@dataclass
class FirstSeen:
    """Where each id was first defined, to name both places of a duplicate."""

    seen: dict[tuple[str, str], str] = field(default_factory=dict)

    def claim(self, sink: ProblemSink, kind: str, item_id: str, line: int) -> bool:
        key = (kind, item_id)
        here = f"{sink.file}:{line}"
        if key in self.seen and kind == "ask":
            sink.error(line, "ask_taken", ask=item_id, where=self.seen[key])
            return False
        if key in self.seen and kind == "topic":  # the message asks whether the file is a copy
            sink.error(line, "duplicate_topic_id", id=item_id, where=self.seen[key])
            return False
        if key in self.seen:
            sink.error(line, "duplicate_id", kind=KIND_NAMES[kind], id=item_id, where=self.seen[key])
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
            msg("thing.topic"),
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
            msg("thing.tip"),
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
        named = msg("thing.tip_named", id=tip_id or "?")
        reviewed_on, valid_until = self._review_dates(sink, s, named)
        self._reviewed_before_renumbering(sink, s, named, reviewed_on, sources, cited)
        image = s.text("image")
        if image is not None and not self._image_exists(image):
            sink.error(s.line_of("image"), "image_missing", image=image)
        if not (tip_id and title and body and keywords and sources and reviewed_on):
            return None
        return Tip(tip_id, topic_id, title, body, tuple(keywords), sources, reviewed_on, valid_until, image, asks)

    def _asks(self, sink: ProblemSink, s: Section, tip_id: str | None) -> tuple[str, ...]:
        """Example questions in residents' words. One question belongs to one tip: the same question
        under two tips would make the answerer guess, so the second is an error naming the first."""
        asks: list[str] = []
        seen_here: set[str] = set()
        for line, value in s.sequence("asks", min_items=1, max_items=MAX_ASKS):
            ask = check_text(sink, value, line, msg("thing.ask"), LIMITS["ask"])
            if ask is None:
                continue
            key = normalize(ask)
            if len(key) < 2:
                sink.error(line, "ask_too_short", ask=ask)
                continue
            if key in seen_here:
                sink.error(line, "ask_twice", ask=ask)
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
            msg("thing.quiz_question"),
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
        named = msg("thing.quiz_question_named", id=qid or "?")
        reviewed_on, valid_until = self._review_dates(sink, s, named)
        self._reviewed_before_renumbering(sink, s, named, reviewed_on, sources, cited)
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
            sink.error(line, "answer_letter", value=repr(s.data["answer"]))
            return None
        index = ANSWER_LETTERS.index(raw)
        if option_count >= 2 and index >= option_count:
            sink.error(
                line, "answer_out_of_range", answer=raw, count=option_count, last=ANSWER_LETTERS[option_count - 1]
            )
            return None
        return index

    def sources(self, sink: ProblemSink, s: Section, laws: dict[str, Law]) -> tuple[Citation, ...]:
        citations = []
        for line, item in s.sequence("source", min_items=1):
            cs = Section(sink, msg("thing.source"), item, line, required=["law"], optional=["article"])
            law_id, article = cs.text("law"), cs.text("article")
            if law_id is None:
                continue
            law = laws.get(law_id)
            if law is None and (self.laws_unreadable or law_id in self.broken_law_ids):
                continue  # laws.yaml's own error says what is wrong; "unknown law" here would mislead
            if law is None:
                sink.error(cs.line_of("law"), "unknown_law", law=law_id)
                continue
            if law.repealed_on is not None and law.repealed_on <= self.today:
                sink.error(cs.line_of("law"), "law_repealed", law=law_id, date=law.repealed_on)
                continue
            if law.in_force_since is not None and law.in_force_since > self.today:
                sink.error(cs.line_of("law"), "law_not_in_force", law=law_id, date=law.in_force_since)
                continue
            if article is not None and not law.has_articles:
                sink.error(cs.line_of("article"), "no_articles", law=law_id, kind=law.kind)
                continue
            if article is not None and law.amended_in_force is not None and law.amended_in_force > self.today:
                sink.error(
                    cs.line_of("article"),
                    "amendment_not_in_force",
                    version=law.version or msg("thing.amended"),
                    short=law.short,
                    date=law.amended_in_force,
                )
                continue
            if article is not None:
                numbers = article_numbers(article)
                if numbers is None:
                    sink.error(cs.line_of("article"), "article_form", article=article)
                    continue
                too_big = [n for n in numbers if law.articles is not None and n > law.articles]
                if too_big:
                    sink.error(
                        cs.line_of("article"), "article_too_big", article=article, short=law.short, count=law.articles
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
                sink.warning(line_of(finding.offset), finding.detail)
            else:
                sink.error(line_of(finding.offset), finding.detail)
        return result.cited

    def _reviewed_before_renumbering(
        self,
        sink: ProblemSink,
        s: Section,
        what: Msg,
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
                    "reviewed_before_renumbering",
                    what=what,
                    reviewed=reviewed_on,
                    short=law.short,
                    date=law.renumbered_on,
                )

    def _review_dates(self, sink: ProblemSink, s: Section, what: Msg) -> tuple[dt.date | None, dt.date | None]:
        reviewed_on, valid_until = s.date("reviewed_on"), s.date("valid_until")
        if reviewed_on and reviewed_on > self.today:
            sink.error(s.line_of("reviewed_on"), "reviewed_in_future", date=reviewed_on)
        if valid_until and valid_until < self.today:
            sink.warning(s.line_of("valid_until"), "expired", what=what, date=valid_until)
        return reviewed_on, valid_until

    def _image_exists(self, relative: str) -> bool:
        path = (self.directory / relative).resolve()
        return path.is_file() and self.directory.resolve() in path.parents


def _keyword(sink: ProblemSink, line: int, value: Any) -> str | None:
    return check_text(sink, value, line, msg("thing.keyword"), LIMITS["keyword"])


def _option(sink: ProblemSink, line: int, value: Any, index: int) -> str | None:
    label = ANSWER_LETTERS[index] if index < 4 else index + 1
    return check_text(sink, value, line, msg("thing.option", label=label), LIMITS["option"])
