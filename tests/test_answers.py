"""Free-text questions: normalisation, retrieval quality on the labelled set, urgent help first."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.qa_eval import COLLOQUIAL_TARGETS, TARGETS, evaluate
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.core.events import Text
from bot.storage import Storage
from bot.textnorm import normalize

from .conftest import CONTENT, REPO, settings_for
from .helpers import Chat, texts

LABELLED = Path(__file__).parent / "data" / "questions.yaml"
COLLOQUIAL = Path(__file__).parent / "data" / "questions-colloquial.yaml"


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("詐騙電話怎麼辦？", "诈骗电话怎么办"),
        ("ＡＢＣ　１２３", "abc123"),
        ("刷 单！！赚💰佣金", "刷单赚佣金"),
        ("", ""),
        ("🙂\u202e", ""),
    ],
)
def test_normalisation(typed: str, normalized: str) -> None:
    assert normalize(typed) == normalized


def test_synonyms_map_typos_to_the_words_of_the_tips(content: ContentStore) -> None:
    assert normalize("有人让我刷担", content.catalog.synonyms) == "有人让我刷单"


def test_labelled_set_is_big_enough_and_the_quality_meets_the_targets(content: ContentStore) -> None:
    data = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))
    assert len(data["questions"]) >= 80 and len(data["urgent"]) >= 20 and len(data["near_miss"]) >= 20
    quality = evaluate(content.catalog, LABELLED)
    figures = quality.figures
    assert figures["top3"] >= TARGETS["top3"], quality.misses
    assert figures["urgent_recall"] == 1.0, quality.misses
    assert figures["false_alarms"] <= TARGETS["false_alarms"], quality.misses


def test_questions_typed_the_way_villagers_type_meet_the_targets(content: ContentStore) -> None:
    """Issue 14: top-1 ≥ 90 %, confident-wrong ≤ 5 %, urgent recall 100 %, false alarms ≤ 5 %, along the
    resident's whole path (urgent help, the office, tips, 「您是想问」)."""
    data = yaml.safe_load(COLLOQUIAL.read_text(encoding="utf-8"))
    assert len(data["questions"]) >= 150
    quality = evaluate(content.catalog, COLLOQUIAL, referrals=True)
    assert quality.shortfalls(COLLOQUIAL_TARGETS) == [], quality.misses
    # Asking back must not become the way to avoid being wrong.
    assert quality.figures["asked_back"] <= 0.25


# The eight questions of issue 14, each with the tip it must reach (in full, or among the 「您是想问」 choices).
ISSUE_QUESTIONS = [
    ("儿子在外地打工 有个人打电话说他出车祸了叫我赶紧打钱过去", "fz-maochong-qinyou"),
    ("电信诈骗报警打什么电话", "fz-beipian"),
    ("未成年人打游戏能打到几点", "wb-youxi-shijian"),
    ("我家娃被同学打了 学校不管", "wb-qiling-jiazhang"),
    ("我妈天天看那个直播卖保健品 买了好几千 是不是被骗了", "fz-yanglao"),
    ("有人给我寄了个快递 里面叫我扫码领补贴", "fz-saoma-butie"),
    ("娃儿在堰塘边耍水 要得不", "ns-yeshui"),
    ("我邻居好像在屋里吸毒 要不要举报", "jd-jubao-xiansuo"),
]


@pytest.mark.parametrize(("question", "tip_id"), ISSUE_QUESTIONS)
async def test_the_issue_questions_reach_the_right_tip(core: Core, question: str, tip_id: str) -> None:
    chat = Chat(core, "issue14")
    await chat.say("/start")
    replies = await chat.say(question)
    tip = core.content.catalog.tip(tip_id)
    assert tip is not None
    first = replies[0]
    assert isinstance(first, Text) and not (first.title or "").startswith("⚠️"), texts(replies)
    offered = [button.label for row in first.buttons for button in row]
    assert first.title == tip.title or ("您是想问" in first.body and tip.title in offered), texts(replies)


async def test_when_unsure_the_bot_asks_back_and_a_choice_opens_the_tip(core: Core, storage: Storage) -> None:
    chat = Chat(core, "unsure")
    await chat.say("/start")
    replies = await chat.say("宪发")  # a typo by sound, one word: several constitution tips are close
    (question,) = replies
    assert isinstance(question, Text) and "您是想问" in question.body
    choices = [button for row in question.buttons for button in row if button.payload.startswith("tp:")]
    assert 2 <= len(choices) <= 3
    assert all(core.content.catalog.tip(b.payload[3:]).topic_id == "constitution" for b in choices)  # type: ignore[union-attr]
    opened = await chat.press_payload(choices[0].payload)
    assert any(isinstance(r, Text) and r.title == choices[0].label for r in opened)
    await storage.flush()
    assert [e.item_id for e in await storage.reach.events() if e.kind == "answer"] == []  # asking is not reach


async def test_a_word_shared_by_chance_is_not_a_match(core: Core) -> None:
    chat = Chat(core, "weather")
    await chat.say("/start")
    replies = await chat.say("今天天气怎么样")  # shares 天天 with a tip's example question, nothing else
    assert "还没找到相关的普法内容" in texts(replies)


async def test_a_question_gets_the_right_tip_with_its_source(core: Core, storage: Storage) -> None:
    chat = Chat(core, "qiu")
    await chat.say("/start")
    replies = await chat.say("有人叫我刷单赚佣金，说先垫钱再返，靠谱吗")
    first = replies[0]
    assert isinstance(first, Text) and first.title == core.content.catalog.tip("fz-shuadan").title  # type: ignore[union-attr]
    assert "依据：" in first.body
    await storage.flush()
    (event,) = [e for e in await storage.reach.events() if e.kind == "answer"]
    assert (event.item_id, event.topic_id) == ("fz-shuadan", "anti-fraud")


async def test_an_urgent_message_gets_the_urgent_steps_first(core: Core, storage: Storage) -> None:
    chat = Chat(core, "ren")
    await chat.say("/start")
    for message, must in (("我刚给骗子转了两万块钱，怎么办", "110"), ("快来人啊，有个小孩掉河里了", "110")):
        replies = await chat.say(message)
        assert isinstance(replies[0], Text) and (replies[0].title or "").startswith("⚠️")
        assert must in replies[0].body
    calm = await chat.say("平时怎么防止电信诈骗")
    assert not (calm[0].title or "").startswith("⚠️")


async def test_unanswered_questions_are_listed_without_who_asked(
    database: str, tmp_path: Path, content: ContentStore
) -> None:
    storage = await Storage.open(database, data_dir=tmp_path)
    core = Core(storage, content, settings_for(database, tmp_path, content_dir=CONTENT))
    for user in ("u1", "u2"):
        chat = Chat(core, user)
        await chat.say("/start")
        replies = await chat.say("请问明天下雨吗")
        assert "还没找到相关的普法内容" in texts(replies)
    await storage.close()
    env = {**os.environ, "BOT_DB": database, "BOT_DATA_DIR": str(tmp_path), "BOT_CONTENT_DIR": str(CONTENT)}
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot", "questions"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert result.returncode == 0
    (line,) = result.stdout.strip().splitlines()
    assert line.split()[0] == "2" and line.endswith("请问明天下雨吗")
    assert "u1" not in result.stdout and "u2" not in result.stdout
