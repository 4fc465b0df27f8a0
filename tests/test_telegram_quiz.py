"""Quizzes on Telegram: inline keyboards, native quiz polls, and 200 residents at once."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from bot.content.model import Catalog
from bot.content.store import ContentStore

from .fakes.telegram_api import FakeTelegram
from .helpers import SQLITE_ONLY
from .test_telegram import Bot


def solve(message: dict, catalog: Catalog) -> tuple[list[str], int, str]:
    """(callback data per shown option, index of the right one, question id) for a question message."""
    lines = message["text"].split("\n")
    question = next(q for t in catalog.topics for q in t.quiz if q.question in lines)
    buttons = [
        b for row in message["reply_markup"]["inline_keyboard"] for b in row if b["callback_data"].startswith("qa:")
    ]
    right = question.options[question.answer]
    labels = [b["text"][3:] for b in buttons]  # "A. option" (long options end in …)
    index = next(
        i
        for i, label in enumerate(labels)
        if right.startswith(label.rstrip("…")) and (label == right or label.endswith("…"))
    )
    return [b["callback_data"] for b in buttons], index, question.id


def bot_texts(fake: FakeTelegram, chat_id: int) -> list[dict]:
    return [c.result for c in fake.sent("sendMessage", chat_id=chat_id)]


async def wait_message(fake: FakeTelegram, chat_id: int, contains: str, count: int = 1) -> dict:
    await fake.wait_for(lambda f: sum(contains in m["text"] for m in bot_texts(f, chat_id)) >= count, 20)
    return [m for m in bot_texts(fake, chat_id) if contains in m["text"]][count - 1]


async def test_a_topic_quiz_on_telegram_with_explanations_and_exact_events(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    async with Bot(fake, tmp_path, content, database=database) as bot:
        zoe = fake.user(401, "Zoe")
        fake.send_text(zoe, "/quiz 防溺水")
        plan = [True, True, False, True, True]
        asked = []
        for step, right in enumerate(plan, 1):
            message = await wait_message(fake, 401, f"第 {step}/5 题")
            assert "防溺水答题" in message["text"]
            payloads, correct, question_id = solve(message, content.catalog)
            asked.append(question_id)
            choice = correct if right else (correct + 1) % len(payloads)
            fake.press(zoe, message, payloads[choice])
            verdict = "✓ 答对了" if right else "✗ 答错了"
            feedback = await wait_message(fake, 401, verdict, count=plan[:step].count(right))
            assert "解析：" in feedback["text"] and "依据：" in feedback["text"] and "》" in feedback["text"]
        final = await wait_message(fake, 401, "答题完成")
        assert "得分：4/5（80%）" in final["text"]
        assert len(await fake.wait_sent("answerCallbackQuery", 5)) == 5  # answered just after the last reply
        await bot.storage.flush()
        events = [(e.kind, e.item_id, e.correct) for e in await bot.storage.reach.events()]
        expected = []
        for question_id, right in zip(asked, plan, strict=True):
            expected += [("quiz_question", question_id, None), ("quiz_answer", question_id, right)]
        assert events == expected


@SQLITE_ONLY  # slow (6 s); a poll's payloads are stored as WeCom's numbered menus are (test_wecom.py, both)
async def test_native_quiz_polls_when_configured(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    bot = Bot(fake, tmp_path, content, database=database)
    bot.settings = dataclasses.replace(bot.settings, telegram_quiz_polls=True)
    await bot.start()
    try:
        amy = fake.user(402, "Amy")
        fake.send_text(amy, "/quiz 宪法")
        for step in range(5):
            polls = await fake.wait_sent("sendPoll", step + 1, chat_id=402)
            call = polls[-1]
            assert call.params["type"] == "quiz" and call.params["is_anonymous"] is False
            poll = call.result["poll"]
            correct = call.params["correct_option_ids"][0]
            fake.answer_poll(amy, poll["id"], [correct])
        final = await wait_message(fake, 402, "答题完成")
        assert "得分：5/5（100%）" in final["text"]
        await bot.storage.flush()
        assert await bot.storage.reach.count(kind="quiz_answer", correct=1) == 5
    finally:
        await bot.stop()


async def test_200_residents_quiz_at_once_without_sharing_state(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    # The fake does not enforce Telegram's overall limit here: this test is about state, not pace
    # (1,200 messages at 30/s would take 40 s); per-chat pacing still applies.
    bot = Bot(fake, tmp_path, content, telegram_rate=0, database=database)
    async with bot:

        async def latest(uid: int, contains: str) -> dict:
            # O(1) per check (the chat's last message), so 200 waiting residents do not starve the bot.
            for _ in range(3000):
                message = fake.last_message(uid)
                if message is not None and contains in message.get("text", ""):
                    return message
                await asyncio.sleep(0.02)
            raise AssertionError(f"resident {uid} never saw {contains!r}; last: {fake.last_message(uid)}")

        async def play(number: int) -> tuple[int, int]:
            uid = 5000 + number
            user = fake.user(uid, f"R{number}")
            plan = [(number >> bit) & 1 == 1 for bit in range(5)]  # a different answer pattern per resident
            fake.send_text(user, "/quiz 宪法")
            for step, right in enumerate(plan, 1):
                message = await latest(uid, f"第 {step}/5 题")
                payloads, correct, _ = solve(message, content.catalog)
                fake.press(user, message, payloads[correct if right else (correct + 1) % len(payloads)])
            final = await latest(uid, "答题完成")
            expected = sum(plan)
            assert f"得分：{expected}/5" in final["text"], (number, final["text"])
            return uid, expected

        results = await asyncio.gather(*(play(n) for n in range(200)))
        await bot.storage.flush()
        for uid, expected in results:
            resident = await bot.storage.residents.find("telegram", str(uid))
            assert resident is not None
            session = await bot.storage.quizzes.active(resident.id)
            assert session is None  # finished, nothing left half-done
            assert await bot.storage.reach.count(resident_id=resident.id, kind="quiz_answer") == 5
            assert await bot.storage.reach.count(resident_id=resident.id, kind="quiz_answer", correct=1) == expected
        assert len(await fake.wait_sent("answerCallbackQuery", 1000)) == 1000  # every press answered, once
