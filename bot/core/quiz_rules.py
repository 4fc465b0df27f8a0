"""Quiz rules, pure and tested directly: which questions, in which order, streaks, names and topics."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Sequence

from bot.content.model import Catalog, QuizQuestion, Topic
from bot.i18n import Translator
from bot.textnorm import normalize

TOPIC_QUIZ_SIZE = 5
DAILY_SIZE = 3
REVIEW_SIZE = 10
PASS_SHARE = 0.8
NICKNAME_MAX = 12


def draw_topic_questions(
    questions: Sequence[QuizQuestion], correctly_answered: set[str], size: int, rng: random.Random
) -> list[QuizQuestion]:
    """A fresh draw: questions never answered correctly first, each group shuffled."""
    fresh = [q for q in questions if q.id not in correctly_answered]
    known = [q for q in questions if q.id in correctly_answered]
    rng.shuffle(fresh)
    rng.shuffle(known)
    return (fresh + known)[:size]


def daily_questions(catalog: Catalog, day: dt.date, size: int = DAILY_SIZE) -> list[QuizQuestion]:
    """The same questions for everyone on `day`, spread across topics, stable across restarts."""
    seed = int.from_bytes(hashlib.sha256(f"daily:{day.isoformat()}".encode()).digest()[:8], "big")
    rng = random.Random(seed)
    pools = [sorted((q for q in t.quiz if q.is_served_on(day)), key=lambda q: q.id) for t in catalog.topics]
    pools = [pool for pool in pools if pool]
    rng.shuffle(pools)
    for pool in pools:
        rng.shuffle(pool)
    chosen: list[QuizQuestion] = []
    while len(chosen) < size and any(pools):
        for pool in pools:  # one from each topic in turn
            if pool and len(chosen) < size:
                chosen.append(pool.pop())
    return chosen


def option_order(count: int, rng: random.Random) -> list[int]:
    order = list(range(count))
    rng.shuffle(order)
    return order


def streak(days: set[str], today: dt.date) -> int:
    """Consecutive days with a finished daily quiz, ending today (or yesterday, if today is not done yet)."""
    day = today if today.isoformat() in days else today - dt.timedelta(days=1)
    count = 0
    while day.isoformat() in days:
        count += 1
        day -= dt.timedelta(days=1)
    return count


def duration(t: Translator, seconds: int) -> str:
    minutes, rest = divmod(max(0, seconds), 60)
    return t("quiz.minutes_seconds", m=minutes, s=rest) if minutes else t("quiz.seconds", s=rest)


def impersonates_or_abuses(name: str, blocked_words: Sequence[str]) -> bool:
    """A public name may not borrow an office holder's or an institution's name, nor carry abuse
    (`content/names.yaml`); spaces, dots and full-width forms do not get around it."""
    words = normalize(name)
    return any(word in words for word in blocked_words)


def valid_nickname(text: str) -> str | None:
    name = " ".join(text.split())
    if not 1 <= len(name) <= NICKNAME_MAX:
        return None
    if not all(ch.isalnum() or ch in " ·-_" for ch in name):
        return None
    return name


def find_topic(catalog: Catalog, name: str) -> Topic | None:
    """`/quiz 禁毒`, `/quiz anti-drug` or `/quiz 反诈`: by id, title, or a title containing the words."""
    lowered = name.lower()
    for topic in catalog.topics:
        if lowered in (topic.id, topic.title.lower(), (topic.title_en or "").lower()):
            return topic
    for topic in catalog.topics:
        if all(ch in topic.title for ch in name) or lowered in (topic.title_en or "").lower():
            return topic
    return None
