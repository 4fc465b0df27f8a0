"""Quizzes through the core: modes, answers, state in SQLite, leaderboards, certificates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path

from PIL import Image as PILImage

from bot.config import Settings
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.core.events import Image, Question, Text
from bot.core.quiz_rules import daily_questions, draw_topic_questions, find_topic, streak, valid_nickname
from bot.storage import Storage

from .conftest import TODAY
from .helpers import Chat, texts


def current_question(replies: list) -> Question:
    questions = [r for r in replies if isinstance(r, Question)]
    assert questions, f"no question in {replies}"
    return questions[-1]


async def answer(chat: Chat, question: Question, right: bool) -> list:
    index = question.correct if right else (question.correct + 1) % len(question.options)
    return await chat.press_payload(question.payloads[index])


# -- pure rules ---------------------------------------------------------------------------------


def test_draw_puts_questions_answered_correctly_last(content: ContentStore) -> None:
    topic = content.catalog.topic("anti-drug")
    assert topic is not None
    known = {q.id for q in topic.quiz[:-3]}
    drawn = draw_topic_questions(topic.quiz, known, 5, random.Random(1))
    assert {q.id for q in drawn[:3]} == {q.id for q in topic.quiz[-3:]}
    assert all(q.id in known for q in drawn[3:])


def test_daily_questions_are_the_same_for_a_day_and_span_topics(content: ContentStore) -> None:
    first = daily_questions(content.catalog, TODAY)
    assert [q.id for q in first] == [q.id for q in daily_questions(content.catalog, TODAY)]
    assert len(first) == 3 and len({q.topic_id for q in first}) == 3
    later = [daily_questions(content.catalog, TODAY + dt.timedelta(days=n)) for n in range(1, 8)]
    assert any([q.id for q in day] != [q.id for q in first] for day in later)


def test_streak_counts_consecutive_days() -> None:
    days = {"2026-11-25", "2026-11-26", "2026-11-27", "2026-11-20"}
    assert streak(days, dt.date(2026, 11, 27)) == 3
    assert streak(days, dt.date(2026, 11, 28)) == 3  # today not done yet: yesterday's streak still stands
    assert streak(days, dt.date(2026, 11, 29)) == 0


def test_nicknames_and_topic_names() -> None:
    assert valid_nickname("  小  明 ") == "小 明"
    assert valid_nickname("") is None and valid_nickname("x" * 13) is None and valid_nickname("<b>") is None


def test_find_topic_by_id_title_or_short_name(content: ContentStore) -> None:
    catalog = content.catalog
    assert find_topic(catalog, "anti-drug").id == "anti-drug"  # type: ignore[union-attr]
    assert find_topic(catalog, "禁毒").id == "anti-drug"  # type: ignore[union-attr]
    assert find_topic(catalog, "反诈").id == "anti-fraud"  # type: ignore[union-attr]
    assert find_topic(catalog, "足球") is None


# -- a topic quiz --------------------------------------------------------------------------------


async def test_topic_quiz_explains_each_answer_and_records_exactly_what_was_shown(core: Core, storage: Storage) -> None:
    chat = Chat(core, "quinn")
    await chat.say("/start")
    await chat.press("河西村")
    replies = await chat.say("/quiz 禁毒")
    plan = [True, False, True, True, False]
    shown: list[str] = []
    for step, right in enumerate(plan, 1):
        question = current_question(replies)
        assert question.title and f"第 {step}/5 题" in question.title
        stored = core.content.catalog.question(question.delivery.item_id)  # type: ignore[union-attr]
        assert stored is not None and stored.topic_id == "anti-drug"
        # Options are shuffled, but the correct one is still the stored answer.
        assert question.options[question.correct] == stored.options[stored.answer]
        shown.append(stored.id)
        replies = await answer(chat, question, right)
        feedback = replies[0]
        assert isinstance(feedback, Text)
        assert feedback.title == (
            "✓ 答对了！"
            if right
            else f"✗ 答错了。正确答案：{'ABCD'[question.correct]}. {question.options[question.correct]}"
        )
        assert stored.explanation in feedback.body and "依据：《" in feedback.body
    summary = texts(replies)
    assert "答题完成" in summary and "得分：3/5（60%）" in summary and "用时" in summary
    assert "河西村平均正确率 60%（1 人参加）" in summary

    await storage.flush()
    events = [(e.kind, e.item_id, e.correct) for e in await storage.reach.events() if e.kind.startswith("quiz")]
    expected = []
    for question_id, right in zip(shown, plan, strict=True):
        expected += [("quiz_question", question_id, None), ("quiz_answer", question_id, right)]
    assert events == expected
    assert len(set(shown)) == 5


async def test_a_double_tap_counts_once_and_old_questions_are_ignored(core: Core, storage: Storage) -> None:
    chat = Chat(core, "rex")
    replies = await chat.say("/quiz 宪法")
    first = current_question(replies)
    await answer(chat, first, True)
    again = await answer(chat, first, True)  # the same button a second time
    assert "已经答过" in texts(again)
    second = current_question(chat.delivered)
    newer = current_question(await chat.say("/quiz 防溺水"))  # a new quiz abandons the old one
    stale = await answer(chat, second, True)
    assert "已经答过了，或者这次答题已经结束" in texts(stale)
    assert newer.title and "防溺水" in newer.title
    await storage.flush()
    assert await storage.reach.count(kind="quiz_answer") == 1


async def test_someone_elses_or_forged_answers_are_refused(core: Core) -> None:
    alice, mallory = Chat(core, "alice2"), Chat(core, "mallory")
    question = current_question(await alice.say("/quiz 宪法"))
    await mallory.say("/start")
    stolen = await mallory.press_payload(question.payloads[question.correct])
    assert "已经更新" in texts(stolen)
    for forged in ("qa:999999:0:0", "qa:1:99:0", "qa:1:0:9", "qa:x:0:0"):
        assert "已" in texts(await mallory.press_payload(forged))
    # alice's quiz is untouched
    replies = await answer(alice, question, True)
    assert "✓ 答对了" in texts(replies)


async def test_a_restart_mid_quiz_resumes_at_the_same_question(
    database: str, tmp_path: Path, content: ContentStore, settings: Settings
) -> None:
    storage = await Storage.open(database, data_dir=tmp_path)
    core = Core(storage, content, settings, lambda: TODAY)
    chat = Chat(core, "sam")
    question = current_question(await chat.say("/quiz 反诈"))
    question = current_question(await answer(chat, question, True))  # now on question 2
    await storage.close()

    storage = await Storage.open(database, data_dir=tmp_path)  # the "restarted" bot
    core = Core(storage, content, settings, lambda: TODAY)
    chat = Chat(core, "sam")
    await chat.say("/quiz")  # the menu, with 「继续上次」 on top
    replies = await chat.press("继续上次")
    assert "继续上次没答完的题" in texts(replies)
    resumed = current_question(replies)
    assert (resumed.text, resumed.options, resumed.payloads) == (question.text, question.options, question.payloads)
    after = await chat.press_payload(question.payloads[question.correct])  # the old button works too
    assert "✓ 答对了" in texts(after) and "第 3/5 题" in (current_question(after).title or "")
    await storage.close()


async def test_mistakes_book_until_answered_right(core: Core) -> None:
    chat = Chat(core, "tina")
    replies = await chat.say("/quiz 禁毒")
    for _ in range(5):
        replies = await answer(chat, current_question(replies), False)
    assert "📕 练错题" in [b.label for b in chat.buttons]
    replies = await chat.say("/review")
    assert "错题重练 · 第 1/5 题" in (current_question(replies).title or "")
    for step in range(5):
        replies = await answer(chat, current_question(replies), step != 0)  # the first one wrong again
    assert "错题本里还有 1 道题" in texts(replies)
    replies = await answer(chat, current_question(await chat.say("/review")), True)
    assert "错题本里还有" not in texts(replies)
    assert "错题本是空的" in texts(await chat.say("/review"))


async def test_daily_quiz_same_for_everyone_once_a_day_with_a_streak(
    storage: Storage, content: ContentStore, settings: Settings
) -> None:
    day = {"today": TODAY}
    core = Core(storage, content, settings, lambda: day["today"])
    a, b = Chat(core, "uma"), Chat(core, "vic")
    qa, qb = current_question(await a.say("/daily")), current_question(await b.say("/daily"))
    assert qa.text == qb.text
    replies: list = [qa]
    for _ in range(3):
        replies = await answer(a, current_question(replies), True)
    assert "已连续 1 天完成每日三题" in texts(replies)
    assert "今天的每日三题已经答过了" in texts(await a.say("/daily"))
    day["today"] = TODAY + dt.timedelta(days=1)
    replies = await a.say("/daily")
    for _ in range(3):
        replies = await answer(a, current_question(replies), False)
    assert "已连续 2 天" in texts(replies)


async def test_leaderboards_show_places_and_only_opt_in_names(core: Core, storage: Storage) -> None:
    async def finish(name: str, place: str, rights: int, nickname: str | None) -> Chat:
        chat = Chat(core, name)
        await chat.say("/start")
        await chat.press(place)
        if nickname:
            await chat.say(f"/nickname {nickname}")
        replies = await chat.say("/quiz 宪法")
        for step in range(5):
            replies = await answer(chat, current_question(replies), step < rights)
        return chat

    await finish("w1", "青石村", 5, "学法小能手")
    await finish("w2", "青石村", 3, None)
    hidden = await finish("w3", "青石镇中心小学", 4, None)
    board = texts(await hidden.say("/rank"))
    assert "1. 青石村：2 人参加，平均正确率 80%，参与率 0.1%" in board
    assert "2. 青石镇中心小学：1 人参加，平均正确率 80%，参与率 0.2%" in board
    assert "1. 学法小能手：5 分" in board
    assert "w1" not in board and "w2" not in board and "w3" not in board  # no real names or ids
    assert "您目前排第 2 名（4 分）" in board and "/nickname" in board


async def test_certificate_refused_with_reason_then_granted(
    storage: Storage, content: ContentStore, settings: Settings, tmp_path: Path
) -> None:
    # Six quizzes of five answers in a row: more than the flood limit allows a resident in a minute.
    core = Core(storage, content, dataclasses.replace(settings, flood_limit=1000), lambda: TODAY)
    chat = Chat(core, "xena")
    await chat.say("/nickname 张小明")
    refused = await chat.say("/certificate")
    titles = [topic.title for topic in core.content.catalog.topics]
    assert "还没通过的专题：" + "、".join(titles) in texts(refused)
    for topic in titles:
        replies = await chat.say(f"/quiz {topic}")
        for step in range(5):
            replies = await answer(chat, current_question(replies), step != 0 or topic != "宪法")
    still = await chat.say("/certificate")  # 宪法 at 4/5 = 80% passes; all passed
    image = still[0]
    assert isinstance(image, Image), texts(still)
    with PILImage.open(image.path) as picture:
        assert picture.format == "PNG" and picture.size == (1600, 1131)
        colours = picture.convert("L").getextrema()
        assert colours[1] - colours[0] > 100  # text on paper, not a blank page
        rgb = picture.convert("RGB")
        red = sum(
            1
            for r, g, b in (rgb.getpixel((x, y)) for x in range(0, 1600, 4) for y in range(0, 1131, 4))
            if r > 150 and g < 80 and b < 80
        )
        assert red > 300  # the red title and frame were drawn (sampled every 4th pixel)


async def test_quizzes_stay_in_private_chats(core: Core) -> None:
    chat = Chat(core, "yan", private=False)
    for command in ("/quiz", "/daily", "/review", "/certificate"):
        assert "私聊" in texts(await chat.say(command)), command
    assert "私聊" in texts(await chat.press_payload("qt:anti-drug"))


async def test_the_resume_button_continues_the_unfinished_quiz(core: Core) -> None:
    chat = Chat(core, "resumer")
    await chat.say("/start")
    first = current_question(await chat.say("/quiz 禁毒"))
    second = current_question(await answer(chat, first, right=True))
    menu = await chat.say("/menu")
    assert not any(isinstance(r, Question) for r in menu)
    quiz_menu = await chat.press("答题")
    assert "继续上次" in " ".join(b.label for b in chat.buttons), texts(quiz_menu)
    replies = await chat.press("继续上次")
    assert "继续上次没答完的题" in texts(replies)
    again = current_question(replies)
    assert (again.text, again.options, again.payloads) == (second.text, second.options, second.payloads)
    after = await answer(chat, again, right=True)
    assert "第 3/" in texts(after) or any(isinstance(r, Question) for r in after)


async def test_resume_without_an_open_quiz_shows_the_quiz_menu(core: Core) -> None:
    from bot.core.payloads import Action, encode

    chat = Chat(core, "nothing-open")
    await chat.say("/start")
    replies = await chat.press_payload(encode(Action.QUIZ_RESUME))
    assert "继续上次" not in " ".join(b.label for b in chat.buttons)
    assert any("禁毒" in b.label for b in chat.buttons), texts(replies)
