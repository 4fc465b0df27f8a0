"""Free-text questions: normalisation, retrieval quality on the labelled set, urgent help first."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.qa_eval import TARGETS, evaluate
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.core.events import Text
from bot.storage import Storage
from bot.textnorm import normalize

from .conftest import CONTENT, REPO
from .helpers import Chat, texts

LABELLED = Path(__file__).parent / "data" / "questions.yaml"


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


async def test_unanswered_questions_are_listed_without_who_asked(tmp_path: Path, content: ContentStore) -> None:
    from bot.config import Settings

    db = tmp_path / "bot.sqlite3"
    storage = await Storage.open(db)
    core = Core(storage, content, Settings(db_path=db, content_dir=CONTENT))
    for user in ("u1", "u2"):
        chat = Chat(core, user)
        await chat.say("/start")
        replies = await chat.say("请问明天下雨吗")
        assert "还没找到相关的普法内容" in texts(replies)
    await storage.close()
    env = {**os.environ, "BOT_DB": str(db), "BOT_CONTENT_DIR": str(CONTENT)}
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot", "questions"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert result.returncode == 0
    (line,) = result.stdout.strip().splitlines()
    assert line.split()[0] == "2" and line.endswith("请问明天下雨吗")
    assert "u1" not in result.stdout and "u2" not in result.stdout
