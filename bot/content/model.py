"""Typed content objects. Built once by the loader, then read-only."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bot.content.calendar import DateRule


class PlaceKind(StrEnum):
    VILLAGE = "village"
    COMMUNITY = "community"
    SCHOOL = "school"


LAW_KINDS = ("law", "regulation", "decision", "notice")  # in force from a date, with numbered articles
TEXT_KINDS = ("document", "publicity")  # a letter, a notice to parents; police or school publicity: no articles


@dataclass(frozen=True)
class Law:
    """One entry of content/laws.yaml: a law, regulation, decision or notice, or a document or publicity source.

    Dates follow one convention (docs/content.md): `in_force_since` is the date the law's own text says it takes
    effect (本法自…起施行) — an amendment (修正) does not change it; `version` names the text we cite and
    `amended_in_force` is when that amendment took effect. Documents and publicity have no in-force date.
    """

    id: str
    name: str
    short: str
    kind: str
    in_force_since: dt.date | None = None
    version: str | None = None
    articles: int | None = None
    repealed_on: dt.date | None = None
    amended_in_force: dt.date | None = None
    published_on: dt.date | None = None
    renumbered_on: dt.date | None = None  # the text we cite renumbered the articles on this date
    old_numbers: tuple[tuple[int, int], ...] = ()  # (number before renumbering, number now) of known provisions

    @property
    def has_articles(self) -> bool:
        return self.kind in LAW_KINDS

    @property
    def current_since(self) -> dt.date | None:
        """When the text we cite (with its article numbers) took effect."""
        return self.amended_in_force or self.in_force_since

    def names(self) -> tuple[str, ...]:
        """How content may name it: the full and short names, without 《》, and any 《title》 inside them."""
        found = []
        for text in (self.name, self.short):
            found.append(text.replace("《", "").replace("》", ""))
            found.extend(_TITLE.findall(text))
        return tuple(dict.fromkeys(n for n in found if n))


_TITLE = re.compile(r"《([^》]+)》")


@dataclass(frozen=True)
class Citation:
    law: Law
    article: str | None = None

    def render(self) -> str:
        """《反电信网络诈骗法》第三十八条 — the form residents see."""
        name = self.law.short if "《" in self.law.short else f"《{self.law.short}》"
        return f"{name}{self.article or ''}"


@dataclass(frozen=True)
class Tip:
    id: str
    topic_id: str
    title: str
    body: str
    keywords: tuple[str, ...]
    sources: tuple[Citation, ...]
    reviewed_on: dt.date
    valid_until: dt.date | None = None
    image: str | None = None  # path relative to the content directory
    asks: tuple[str, ...] = ()  # example questions in residents' words, matched alongside the text

    def is_served_on(self, day: dt.date) -> bool:
        return self.valid_until is None or day <= self.valid_until


@dataclass(frozen=True)
class QuizQuestion:
    id: str
    topic_id: str
    question: str
    options: tuple[str, ...]
    answer: int  # zero-based index into options
    explanation: str
    sources: tuple[Citation, ...]
    reviewed_on: dt.date
    valid_until: dt.date | None = None

    def is_served_on(self, day: dt.date) -> bool:
        return self.valid_until is None or day <= self.valid_until


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    tips: tuple[Tip, ...]
    quiz: tuple[QuizQuestion, ...]
    title_en: str | None = None
    emoji: str | None = None
    summary: str | None = None
    order: int = 100

    def name(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title

    def label(self, language: str) -> str:
        """The name with its emoji, for menu buttons."""
        return f"{self.emoji} {self.name(language)}" if self.emoji else self.name(language)

    def served_tips(self, day: dt.date) -> tuple[Tip, ...]:
        return tuple(tip for tip in self.tips if tip.is_served_on(day))


TOWN_ID = "town"  # the id of the one implicit township of a places.yaml that declares no `townships:`


@dataclass(frozen=True)
class Township:
    """A township (乡镇) served by this deployment. A places.yaml without `townships:` describes one town: its one
    township has the id "town" and the file's `town:` name."""

    id: str
    name: str


@dataclass(frozen=True)
class Place:
    id: str
    name: str
    kind: PlaceKind
    population: int | None = None
    enrolment: int | None = None
    township_id: str = TOWN_ID  # a `Township.id` of the catalog; "town" in a one-town places.yaml


@dataclass(frozen=True)
class Campaign:
    """A recurring or one-off push on the publicity calendar (content/campaigns.yaml)."""

    id: str
    name: str
    rule: DateRule
    time: dt.time
    audience: tuple[str, ...]  # audience specs: all, topic:ID, place:ID, lang:CODE
    item_id: str | None = None
    text: str | None = None
    topic_id: str | None = None


@dataclass(frozen=True)
class UrgentIntent:
    """An emergency recognised in a resident's words (content/urgent.yaml): steps first, before anything else."""

    id: str
    name: str
    triggers: tuple[tuple[str, ...], ...]  # any trigger whose words all appear
    unless: tuple[str, ...]
    reply: str
    sources: tuple[Citation, ...]
    # Words saying it is happening now (现在, 正在, 救命): they override `unless` ("他现在在打我，这算家暴吧")
    # and arm `now_triggers` ("家暴", "吸那个东西"), which alone are as often a calm question.
    now: tuple[str, ...] = ()
    now_triggers: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Contact:
    """Where a resident can go: the 司法所, a 人民调解委员会, the 法律援助中心 (content/office.yaml)."""

    name: str
    address: str | None = None
    hours: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class DisputeKind:
    """A kind of dispute our tips do not cover (婚姻家庭, 宅基地 ...): the town's own help answers it."""

    id: str
    name: str
    keywords: tuple[str, ...]  # normalised like tip keywords (bot.textnorm.normalize)


@dataclass(frozen=True)
class Office:
    """The town's own help for what the tips do not cover (content/office.yaml)."""

    office: Contact  # 司法所
    mediation: Mapping[str, Contact]  # place id -> 人民调解委员会 of that place
    legal_aid: Contact | None  # 县法律援助中心
    hotline: str  # "12348"
    disputes: tuple[DisputeKind, ...]
    sources: tuple[Citation, ...]


@dataclass(frozen=True)
class Catalog:
    """Everything loaded from one content directory."""

    town: str
    topics: tuple[Topic, ...]
    places: tuple[Place, ...]
    laws: dict[str, Law] = field(default_factory=dict)
    campaigns: tuple[Campaign, ...] = ()
    urgent: tuple[UrgentIntent, ...] = ()
    synonyms: dict[str, str] = field(default_factory=dict)  # what residents type -> the word our tips use
    office: Office | None = None  # content/office.yaml; None when the file is absent
    blocked_name_words: tuple[str, ...] = ()  # content/names.yaml, normalised: never in a public nickname
    # places.yaml's `townships:`, in file order; left empty, the one implicit township ("town", the `town:` name).
    townships: tuple[Township, ...] = ()

    def __post_init__(self) -> None:
        if not self.townships:
            object.__setattr__(self, "townships", (Township(TOWN_ID, self.town),))
        # Index once so per-message lookups are dictionary hits, not scans.
        object.__setattr__(self, "_topics", {t.id: t for t in self.topics})
        object.__setattr__(self, "_tips", {tip.id: tip for t in self.topics for tip in t.tips})
        object.__setattr__(self, "_questions", {q.id: q for t in self.topics for q in t.quiz})
        object.__setattr__(self, "_places", {p.id: p for p in self.places})
        object.__setattr__(self, "_townships", {t.id: t for t in self.townships})
        by_township: dict[str, list[Place]] = {t.id: [] for t in self.townships}
        for place in self.places:
            by_township.setdefault(place.township_id, []).append(place)
        object.__setattr__(self, "_places_of", {k: tuple(v) for k, v in by_township.items()})

    def topic(self, topic_id: str) -> Topic | None:
        return self._topics.get(topic_id)  # type: ignore[attr-defined]

    def tip(self, tip_id: str) -> Tip | None:
        return self._tips.get(tip_id)  # type: ignore[attr-defined]

    def question(self, question_id: str) -> QuizQuestion | None:
        return self._questions.get(question_id)  # type: ignore[attr-defined]

    def place(self, place_id: str) -> Place | None:
        return self._places.get(place_id)  # type: ignore[attr-defined]

    def township(self, township_id: str) -> Township | None:
        return self._townships.get(township_id)  # type: ignore[attr-defined]

    def places_of(self, township_id: str) -> tuple[Place, ...]:
        """The villages, communities and schools of one township, in file order; () for an unknown id."""
        return self._places_of.get(township_id, ())  # type: ignore[attr-defined]

    def township_of(self, place_id: str) -> str | None:
        """The township id of a place; None for an unknown place."""
        place = self.place(place_id)
        return place.township_id if place is not None else None

    @property
    def multi_township(self) -> bool:
        """More than one township declared: a county deployment, not one town."""
        return len(self.townships) > 1

    def all_tips(self) -> list[Tip]:
        return [tip for topic in self.topics for tip in topic.tips]
