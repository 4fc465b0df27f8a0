"""Quizzes: topic quizzes, the daily three, the mistakes book, leaderboards and certificates.

Pure selection rules are module functions (tested directly); `QuizFlows` holds the
conversation steps the core routes to. All quiz state lives in SQLite (`QuizStore`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.content.model import Catalog, PlaceKind, QuizQuestion, Topic
from bot.core import screens
from bot.core.events import Button, Delivery, Image, Keyboard, Question, Reply, Text
from bot.core.payloads import Action, Payload, encode
from bot.core.quiz_rules import (
    PASS_SHARE,
    REVIEW_SIZE,
    TOPIC_QUIZ_SIZE,
    daily_questions,
    draw_topic_questions,
    duration,
    find_topic,
    impersonates_or_abuses,
    option_order,
    streak,
    valid_nickname,
)
from bot.i18n import Translator
from bot.storage import AnswerOutcome, QuizSession, Resident, Storage

# -- conversation steps ----------------------------------------------------------------------------


@dataclass
class QuizContext:
    resident: Resident
    t: Translator
    catalog: Catalog
    today: dt.date
    channel: str


class QuizFlows:
    def __init__(
        self,
        storage: Storage,
        town: Callable[[Catalog], str],
        certificates: Path,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.storage = storage
        self.quizzes = storage.quizzes
        self.town = town
        self.certificates = certificates
        self.clock = clock
        self.rng = rng or random.Random()

    # menu and starting ----------------------------------------------------------------------

    async def menu(self, ctx: QuizContext, replace: bool = False) -> list[Reply]:
        t = ctx.t
        mistakes = await self.quizzes.mistakes(ctx.resident.id)
        topics = [topic for topic in ctx.catalog.topics if topic.quiz]
        buttons = [Button(topic.label(t.language), encode(Action.QUIZ_TOPIC, topic.id)) for topic in topics]
        unfinished = await self.quizzes.active(ctx.resident.id)
        resume: Keyboard = ((Button(t("quiz.resume"), encode(Action.QUIZ_RESUME)),),) if unfinished else ()
        keyboard: Keyboard = (
            *resume,
            *screens.rows(buttons),
            (
                Button(t("quiz.daily"), encode(Action.DAILY_QUIZ)),
                Button(t("quiz.review", count=len(mistakes)), encode(Action.REVIEW)),
            ),
            (Button(t("quiz.rank"), encode(Action.RANK)), Button(t("quiz.certificate"), encode(Action.CERTIFICATE))),
            (screens.menu_button(t),),
        )
        return [
            Text(
                t("quiz.menu_body", count=TOPIC_QUIZ_SIZE),
                title=t("quiz.menu_title"),
                buttons=keyboard,
                replace=replace,
            )
        ]

    async def command(self, ctx: QuizContext, args: str) -> list[Reply]:
        """/quiz shows the menu (continue the open quiz, or another); /quiz 禁毒 starts that topic."""
        if args.strip():
            topic = find_topic(ctx.catalog, args.strip())
            if topic is None:
                head = Text(ctx.t("quiz.unknown_topic", name=args.strip()[:20]))
                return [head, *await self.menu(ctx)]
            return await self.start_topic(ctx, topic.id)
        return await self.menu(ctx)  # with 「继续上次」 on top when a quiz is open: the resident chooses

    async def resume(self, ctx: QuizContext) -> list[Reply]:
        """Continue the unfinished quiz at its current question, or show the menu when there is none."""
        active = await self.quizzes.active(ctx.resident.id)
        if active is not None:
            return [Text(ctx.t("quiz.resumed")), *self._ask(ctx, active)]
        return await self.menu(ctx)

    async def start_topic(self, ctx: QuizContext, topic_id: str) -> list[Reply] | None:
        topic = ctx.catalog.topic(topic_id)
        if topic is None:
            return None
        questions = [q for q in topic.quiz if q.is_served_on(ctx.today)]
        if not questions:
            return [Text(ctx.t("quiz.no_questions"), buttons=((screens.menu_button(ctx.t),),))]
        known = await self.quizzes.correctly_answered(ctx.resident.id)
        drawn = draw_topic_questions(questions, known, TOPIC_QUIZ_SIZE, self.rng)
        return await self._start(ctx, "topic", drawn, topic_id=topic.id)

    async def daily(self, ctx: QuizContext) -> list[Reply]:
        day = ctx.today.isoformat()
        existing = await self.quizzes.daily(ctx.resident.id, day)
        if existing is not None and existing.status == "active":
            return [Text(ctx.t("quiz.resumed")), *self._ask(ctx, existing)]
        if existing is not None:
            days = streak(await self.quizzes.daily_days(ctx.resident.id), ctx.today)
            return [Text(ctx.t("quiz.daily_done", days=days), buttons=((screens.menu_button(ctx.t),),))]
        questions = daily_questions(ctx.catalog, ctx.today)
        if not questions:
            return [Text(ctx.t("quiz.no_questions"), buttons=((screens.menu_button(ctx.t),),))]
        started = await self._start(ctx, "daily", questions, day=day)
        if started is None:  # a second tap raced the first one
            return await self.daily(ctx)
        return started

    async def review(self, ctx: QuizContext) -> list[Reply]:
        mistakes = await self.quizzes.mistakes(ctx.resident.id)
        questions = [q for qid in mistakes if (q := ctx.catalog.question(qid)) and q.is_served_on(ctx.today)]
        if not questions:
            return [Text(ctx.t("quiz.review_empty"), buttons=((screens.menu_button(ctx.t),),))]
        return await self._start(ctx, "review", questions[:REVIEW_SIZE]) or []

    async def _start(
        self,
        ctx: QuizContext,
        mode: str,
        questions: list[QuizQuestion],
        topic_id: str | None = None,
        day: str | None = None,
    ) -> list[Reply] | None:
        orders = [option_order(len(q.options), self.rng) for q in questions]
        session = await self.quizzes.start(
            ctx.resident.id,
            mode,
            [q.id for q in questions],
            orders,
            ctx.channel,
            ctx.resident.place_id,
            int(self.clock()),
            topic_id=topic_id,
            day=day,
        )
        return None if session is None else self._ask(ctx, session)

    # asking and answering -------------------------------------------------------------------

    def _ask(self, ctx: QuizContext, session: QuizSession) -> list[Reply]:
        question_id = session.current_question_id
        question = ctx.catalog.question(question_id) if question_id else None
        if question is None:  # removed by a content reload: end politely
            return [Text(ctx.t("fallback.stale"), buttons=screens.main_menu(ctx.t).buttons)]
        order = session.option_orders[session.position]
        if len(order) != len(question.options):  # options edited since the quiz started
            order = tuple(range(len(question.options)))
        title = ctx.t(
            "quiz.question_title", quiz=self._quiz_name(ctx, session), index=session.position + 1, total=session.total
        )
        return [
            Question(
                text=question.question,
                options=tuple(question.options[i] for i in order),
                payloads=tuple(
                    encode(Action.QUIZ_ANSWER, session.id, session.position, shown) for shown in range(len(order))
                ),
                correct=order.index(question.answer),
                explanation=question.explanation,
                title=title,
                delivery=Delivery("quiz_question", topic_id=question.topic_id, item_id=question.id),
            )
        ]

    async def answer(self, ctx: QuizContext, payload: Payload) -> list[Reply]:
        session_id, position, shown = (int(a) for a in payload.args)
        session = await self.quizzes.session(session_id)
        if session is None or session.resident_id != ctx.resident.id:  # forged, or someone else's quiz
            return [Text(ctx.t("fallback.stale"), buttons=screens.main_menu(ctx.t).buttons)]
        if session.status != "active" or position != session.position or position >= session.total:
            return [Text(ctx.t("quiz.stale_answer"))]
        question = ctx.catalog.question(session.question_ids[position])
        order = session.option_orders[position]
        if question is None or shown >= len(order) or len(order) != len(question.options):
            return [Text(ctx.t("fallback.stale"), buttons=screens.main_menu(ctx.t).buttons)]
        chosen = order[shown]
        correct = chosen == question.answer
        outcome, after = await self.quizzes.answer(session, position, chosen, correct, int(self.clock()))
        if outcome is not AnswerOutcome.RECORDED or after is None:
            return [Text(ctx.t("quiz.stale_answer"))]
        letter = "ABCD"[order.index(question.answer)]
        verdict = (
            ctx.t("quiz.right")
            if correct
            else ctx.t("quiz.wrong", answer=f"{letter}. {question.options[question.answer]}")
        )
        sources = "；".join(c.render() for c in question.sources)
        feedback = Text(
            "\n".join([ctx.t("quiz.explanation", text=question.explanation), ctx.t("quiz.source", sources=sources)]),
            title=verdict,
            delivery=Delivery("quiz_answer", topic_id=question.topic_id, item_id=question.id, correct=correct),
        )
        if after.finished:
            return [feedback, *await self._summary(ctx, after)]
        return [feedback, *self._ask(ctx, after)]

    async def _summary(self, ctx: QuizContext, session: QuizSession) -> list[Reply]:
        t = ctx.t
        percent = round(100 * session.correct / session.total)
        lines = [
            t(
                "quiz.score",
                correct=session.correct,
                total=session.total,
                percent=percent,
                time=duration(t, (session.finished_at or session.started_at) - session.started_at),
            )
        ]
        if session.place_id and session.mode != "review":
            score = next((s for s in await self.quizzes.place_scores() if s.place_id == session.place_id), None)
            place = ctx.catalog.place(session.place_id)
            if score and place:
                lines.append(
                    t(
                        "quiz.place_average",
                        place=place.name,
                        percent=round(100 * score.average),
                        people=score.participants,
                    )
                )
        if session.mode == "daily":
            lines.append(t("quiz.streak", days=streak(await self.quizzes.daily_days(ctx.resident.id), ctx.today)))
        mistakes = await self.quizzes.mistakes(ctx.resident.id)
        if session.mode == "review" and mistakes:
            lines.append(t("quiz.review_left", count=len(mistakes)))
        buttons: list[Button] = []
        if mistakes:
            buttons.append(Button(t("quiz.review_mistakes"), encode(Action.REVIEW)))
        if session.mode == "topic" and session.topic_id:
            buttons.append(Button(t("quiz.again"), encode(Action.QUIZ_TOPIC, session.topic_id)))
        buttons.append(Button(t("quiz.another"), encode(Action.QUIZ_MENU)))
        return [
            Text(
                "\n".join(lines),
                title=t("quiz.finished_title"),
                buttons=(*screens.rows(buttons), (screens.menu_button(t),)),
            )
        ]

    def _quiz_name(self, ctx: QuizContext, session: QuizSession) -> str:
        if session.mode == "daily":
            return ctx.t("quiz.daily_quiz")
        if session.mode == "review":
            return ctx.t("quiz.review_quiz")
        topic = ctx.catalog.topic(session.topic_id or "")
        return ctx.t("quiz.topic_quiz", topic=topic.name(ctx.t.language) if topic else "")

    # leaderboards, nicknames and certificates -----------------------------------------------

    async def rank(self, ctx: QuizContext) -> list[Reply]:
        t = ctx.t
        places = await self.quizzes.place_scores()
        people = await self.quizzes.resident_points()
        if not places and not people:
            return [Text(t("rank.none"), title=t("rank.title"), buttons=((screens.menu_button(t),),))]
        lines = [t("rank.places_header")] if places else []
        places.sort(key=lambda s: (-s.average, -s.participants, s.place_id))
        for number, score in enumerate(places, 1):
            place = ctx.catalog.place(score.place_id)
            if place is None:
                continue
            denominator = place.enrolment if place.kind is PlaceKind.SCHOOL else place.population
            rate = t("rank.rate", percent=round(100 * score.participants / denominator, 1)) if denominator else ""
            lines.append(
                t(
                    "rank.place_line",
                    rank=number,
                    place=place.name,
                    people=score.participants,
                    percent=round(100 * score.average),
                    rate=rate,
                )
            )
        # Opt-in names only, and only residents who scored: a leaderboard of zeros shames nobody into learning.
        shown = [(n, name, points) for n, (_, points, name) in enumerate(people, 1) if name and points > 0][:10]
        if shown:
            lines += ["", t("rank.people_header")] if lines else [t("rank.people_header")]
            lines += [t("rank.person_line", rank=n, name=name, points=points) for n, name, points in shown]
        mine = next(((n, points) for n, (rid, points, _) in enumerate(people, 1) if rid == ctx.resident.id), None)
        lines += [""] if lines else []
        lines.append(t("rank.you", rank=mine[0], points=mine[1]) if mine else t("rank.you_none"))
        if not ctx.resident.public_name:
            lines.append(t("rank.nickname_hint"))
        return [Text("\n".join(lines), title=t("rank.title"), buttons=((screens.menu_button(t),),))]

    async def nickname(self, ctx: QuizContext, args: str) -> list[Reply]:
        t = ctx.t
        text = args.strip()
        if not text:
            current = ctx.resident.public_name
            return [Text(t("nickname.set", name=current) if current else t("nickname.none"))]
        if text.lower() in {"off", "取消", "关闭"}:
            await self.storage.residents.update(ctx.resident.id, public_name=None)
            return [Text(t("nickname.cleared"))]
        name = valid_nickname(text)
        if name is None:
            return [Text(t("nickname.invalid"))]
        if impersonates_or_abuses(name, ctx.catalog.blocked_name_words):
            return [Text(t("nickname.refused"))]
        await self.storage.residents.update(ctx.resident.id, public_name=name)
        return [Text(t("nickname.set", name=name))]

    async def certificate(self, ctx: QuizContext) -> list[Reply]:
        from bot.reporting.certificate import render_certificate

        t = ctx.t
        topics: list[Topic] = [topic for topic in ctx.catalog.topics if topic.quiz]
        best = await self.quizzes.best_topic_scores(ctx.resident.id)
        missing = [topic for topic in topics if best.get(topic.id, 0.0) < PASS_SHARE]
        if missing:
            names = "、".join(topic.name(t.language) for topic in missing)
            return [
                Text(
                    t("certificate.not_yet", topics=names),
                    buttons=((Button(t("quiz.another"), encode(Action.QUIZ_MENU)),),),
                )
            ]
        name = ctx.resident.public_name or ctx.resident.display_name or t("place.none")
        town = self.town(ctx.catalog)
        path = self.certificates / f"certificate-{ctx.resident.id}-{ctx.today.isoformat()}.png"
        await asyncio.to_thread(  # drawing takes a while: keep the event loop serving others
            render_certificate,
            path,
            title=t("certificate.title"),
            greeting=t("certificate.body", name=name),
            text=t("certificate.text", town=town, topics="、".join(topic.title for topic in topics)),
            issuer=t("certificate.issuer", town=town),
            day=ctx.today,
        )
        return [Image(path, caption=t("certificate.caption"), buttons=((screens.menu_button(t),),))]
