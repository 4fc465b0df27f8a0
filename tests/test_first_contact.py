"""First contact: a newcomer's first words answered as what they are, an opt-out that works, no dead ends."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.content.store import ContentStore
from bot.core.engine import Core
from bot.core.events import Question
from bot.storage import Audience, Storage

from .conftest import CONTENT, REPO, TODAY
from .fakes.telegram_api import FakeTelegram
from .fakes.wecom_api import FakeWeCom
from .helpers import Chat, labels, texts

SCAM_NOW = "我刚刚被骗转了五千块钱怎么办"


# -- the core: every channel goes through it ------------------------------------------------------


async def test_a_newcomers_urgent_first_message_gets_the_urgent_steps_first(core: Core, storage: Storage) -> None:
    replies = await Chat(core, "new1").say(SCAM_NOW)
    assert replies[0].title and "正在被骗" in replies[0].title and "110" in replies[0].body  # type: ignore[union-attr]
    assert "跳过" in labels(replies[-1])  # the place is offered after the answer, never in its place
    resident = await storage.residents.find("console", "new1")
    assert resident is not None and not resident.place_asked


async def test_a_newcomers_question_gets_the_answer_and_a_greeting_the_welcome(core: Core) -> None:
    replies = await Chat(core, "new2").say("刷单是真的吗")
    assert "刷单" in (replies[0].title or "")  # type: ignore[union-attr]
    welcome = await Chat(core, "new3").say("你好")
    assert "普法小助手" in texts(welcome) and "跳过" in labels(welcome[-1])


async def test_ignoring_the_place_picker_and_asking_again_gets_an_answer(core: Core) -> None:
    chat = Chat(core, "new4")
    await chat.say("你好")
    replies = await chat.say("刷单是真的吗")
    assert "刷单" in (replies[0].title or "") and "跳过" not in texts(replies)  # type: ignore[union-attr]


@pytest.mark.parametrize("words", ["/unsubscribe", "退订", "TD", "T", "取消订阅", "不要再发了", "别发了"])
async def test_each_way_of_saying_stop_unsubscribes_in_one_step(core: Core, storage: Storage, words: str) -> None:
    chat = Chat(core, "stopper")
    await chat.say("/start")
    replies = await chat.say(words)
    assert len(replies) == 1 and "已退订" in texts(replies)
    resident = await storage.residents.find("console", "stopper")
    assert resident is not None and not resident.subscribed
    back = await chat.press("重新订阅")  # the one-press way back
    assert "已恢复" in texts(back)
    resident = await storage.residents.find("console", "stopper")
    assert resident is not None and resident.subscribed


async def test_a_story_that_mentions_stopping_is_still_a_question(core: Core, storage: Storage) -> None:
    chat = Chat(core, "storyteller")
    await chat.say("/start")
    await chat.say("骗子打电话叫我别发了赶紧转钱")
    resident = await storage.residents.find("console", "storyteller")
    assert resident is not None and resident.subscribed


async def test_unsubscribed_residents_are_skipped_by_a_broadcast_and_subscribe_brings_them_back(
    core: Core, storage: Storage
) -> None:
    from bot.broadcasting.worker import BroadcastSettings, BroadcastWorker
    from bot.config import Identity
    from bot.core.sending import DELIVERED, SendResult

    class Recorder:  # a channel at the network edge that records who got what
        name, bulk_size = "console", 1

        def __init__(self) -> None:
            self.got: list[str] = []

        async def start(self) -> None: ...

        async def stop(self) -> None: ...

        async def deliver(self, to: Identity, replies: object) -> SendResult:
            self.got.append(to.external_id)
            return DELIVERED

        async def deliver_many(self, to: list[Identity], replies: object) -> dict[Identity, SendResult]:
            return {who: await self.deliver(who, replies) for who in to}

    for name in ("stays", "leaves"):
        await Chat(core, name).say("/start")
    await Chat(core, "leaves").say("退订")
    recorder = Recorder()
    worker = BroadcastWorker(storage, core.content, {"console": recorder}, BroadcastSettings(rate=1000.0))
    await storage.broadcasts.create("t", Audience(), int(time.time()), int(time.time()), text="宪法日快乐")
    while await worker.run_once():
        pass
    assert recorder.got == ["stays"]
    await Chat(core, "leaves").say("订阅")
    await storage.broadcasts.create("t", Audience(), int(time.time()), int(time.time()), text="第二次")
    while await worker.run_once():
        pass
    assert sorted(recorder.got[1:]) == ["leaves", "stays"]


# -- no dead ends ----------------------------------------------------------------------------------


async def test_language_with_an_argument_sets_it(core: Core, storage: Storage) -> None:
    chat = Chat(core, "lang")
    await chat.say("/start")
    replies = await chat.say("/language en")
    assert "English" in texts(replies) or "language" in texts(replies).lower()
    resident = await storage.residents.find("console", "lang")
    assert resident is not None and resident.language == "en"
    await chat.say("/language 中文")
    resident = await storage.residents.find("console", "lang")
    assert resident is not None and resident.language == "zh-CN"


async def test_quiz_shows_the_menu_with_a_continue_choice_instead_of_resuming_silently(core: Core) -> None:
    chat = Chat(core, "quizzer")
    await chat.say("/start")
    await chat.say("/quiz 禁毒")
    replies = await chat.say("/quiz")
    assert not any(isinstance(r, Question) for r in replies)
    assert any("继续上次" in label for label in labels(replies[-1]))
    assert any("禁毒" in label for label in labels(replies[-1]))


# -- the same first message through the real channels ----------------------------------------------


def test_console_newcomer_gets_the_urgent_steps_first(database: str, tmp_path: Path) -> None:
    env = {**os.environ, "BOT_DB": database, "BOT_DATA_DIR": str(tmp_path), "BOT_CONTENT_DIR": str(CONTENT)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", "new1"],
        input=SCAM_NOW + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    after = result.stdout.split(SCAM_NOW, 1)[1]
    assert after.index("正在被骗") < after.index("跳过")


async def test_telegram_newcomer_first_messages(
    fake: FakeTelegram, tmp_path: Path, content: ContentStore, database: str
) -> None:
    from .test_telegram import Bot

    async with Bot(fake, tmp_path, content, database=database) as bot:
        for number, (words, expected) in enumerate(
            ((SCAM_NOW, "正在被骗"), ("刷单是真的吗", "刷单"), ("你好", "普法小助手")), start=501
        ):
            user = fake.user(number, f"N{number}")
            first, *_ = await bot.say(user, words, count=2)
            assert expected in first["text"], first["text"]


async def test_wecom_newcomer_first_messages(tmp_path: Path, content: ContentStore, database: str) -> None:
    from .test_wecom import WeComBot, contents
    from .test_wecom_crypto import CORP_ID

    wecom = FakeWeCom(corp_id=CORP_ID)
    await wecom.start()
    try:
        async with WeComBot(wecom, tmp_path, content, database=database) as bot:
            cases = ((SCAM_NOW, "正在被骗"), ("刷单是真的吗", "刷单"), ("你好", "普法小助手"))
            for number, (words, expected) in enumerate(cases):
                user = f"newbie{number}"
                await bot.text(user, words, 7100 + number)
                deadline = time.monotonic() + 5
                while not contents(wecom, user) and time.monotonic() < deadline:  # noqa: ASYNC110 - the fake has no per-user event
                    await asyncio.sleep(0.05)
                assert expected in contents(wecom, user)[0], contents(wecom, user)
    finally:
        await wecom.stop()


async def test_a_nickname_with_no_score_is_not_on_the_board(core: Core) -> None:
    """「3. 青石老李：0 分」 was listed: a name with nothing scored stays off the public board."""
    scorer = Chat(core, "scorer")
    await scorer.say("/start")
    await scorer.say("/nickname 学法达人")
    replies = await scorer.say("/quiz 宪法")
    for _ in range(5):
        question = next(r for r in replies if isinstance(r, Question))
        replies = await scorer.press_payload(question.payloads[question.correct])
    idle = Chat(core, "idle")
    await idle.say("/start")
    await idle.say("/nickname 青石老李")
    wrong = Chat(core, "wrong")
    await wrong.say("/start")
    await wrong.say("/nickname 全错小王")
    replies = await wrong.say("/quiz 宪法")
    for _ in range(5):
        question = next(r for r in replies if isinstance(r, Question))
        replies = await wrong.press_payload(question.payloads[(question.correct + 1) % len(question.options)])
    board = texts(await idle.say("/rank"))
    assert "学法达人：5 分" in board
    assert "青石老李" not in board and "全错小王" not in board


# -- out of the content's reach: the town's own help -----------------------------------------------


@pytest.mark.parametrize("question", ["我家宅基地被邻居占了一块怎么办", "想离婚 孩子归谁"])
async def test_a_dispute_gets_the_offices_contacts_and_12348(core: Core, question: str) -> None:
    chat = Chat(core, "villager")
    await chat.say("/start")
    await chat.press("河西村")
    replies = await chat.say(question)
    shown = texts(replies)
    assert "12348" in shown and "青石镇司法所" in shown and "河西村人民调解委员会" in shown
    assert "请司法所联系我" in " ".join(labels(replies[0]))


async def test_a_callback_request_is_stored_listed_for_admins_refused_to_residents_exported_and_counted(
    storage: Storage, content: ContentStore, settings: Settings, tmp_path: Path
) -> None:
    import dataclasses

    from bot.config import Identity
    from bot.reporting.export import sheets
    from bot.reporting.statistics import Period, collect, report_paragraph

    admin = Identity("console", "clerk")
    core = Core(storage, content, dataclasses.replace(settings, admins=frozenset({admin})), lambda: TODAY)
    villager = Chat(core, "1001", channel="telegram")  # console trials are left out of the statistics
    await villager.say("/start")
    await villager.press("河西村")
    await villager.say("老板拖欠工资半年不给怎么办")
    asked = await villager.press("请司法所联系我")
    assert "手机号" in texts(asked)
    done = await villager.say("138 0013 8000")
    assert "13800138000" in texts(done)

    # A resident cannot see the list nor mark anything done: it looks like an unknown command / stale button.
    assert "没有“/requests”这个命令" in texts(await villager.say("/requests"))
    request = (await storage.requests.listing())[0]
    assert request.phone == "13800138000" and request.place_id == "hexi-village" and "拖欠工资" in request.question
    from bot.core.payloads import Action, encode

    assert "已经更新" in texts(await villager.press_payload(encode(Action.REQUEST_DONE, request.id)))

    clerk = Chat(core, "clerk")
    listed = texts(await clerk.say("/requests"))
    assert f"#{request.id}" in listed and "13800138000" in listed and "河西村" in listed

    today = dt.datetime.now(settings.zone).date()  # requests carry the real clock's time, counted in the town's days
    period = Period(today.replace(month=1, day=1), today, settings.zone)
    figures = await collect(storage, content.catalog, period)
    assert figures.requests.made == 1 and figures.requests.done == 0
    assert "受理群众法律服务诉求1件" in report_paragraph(figures, content.catalog, today)
    requests = await storage.requests.between(period.start, period.end)
    default = {sheet.name: sheet.rows for sheet in sheets(figures, content.catalog, [], None, requests)}
    assert default["群众诉求"] and "13800138000" not in str(default)  # no phone unless asked
    personal = {s.name: s.rows for s in sheets(figures, content.catalog, [], None, requests, personal=True)}
    assert "13800138000" in str(personal["群众诉求"])

    await clerk.press(f"#{request.id} 已处理")
    assert (await storage.requests.listing()) == []
    figures = await collect(storage, content.catalog, period)
    assert figures.requests.done == 1


async def test_a_request_without_a_phone_number_is_still_registered(core: Core, storage: Storage) -> None:
    chat = Chat(core, "shy")
    await chat.say("/start")
    await chat.say("兄弟几个为分家产吵起来了")
    await chat.press("请司法所联系我")
    replies = await chat.press("不留号码")
    assert "已登记" in texts(replies)
    (request,) = await storage.requests.listing()
    assert request.phone is None and request.status == "open"


@pytest.mark.parametrize("name", ["习近平", "习 近 平", "镇长老李", "派出所小王", "官方客服"])
async def test_nicknames_that_impersonate_office_holders_or_institutions_are_refused(
    core: Core, storage: Storage, name: str
) -> None:
    chat = Chat(core, "nick")
    await chat.say("/start")
    replies = await chat.say(f"/nickname {name}")
    assert "不能用" in texts(replies)
    resident = await storage.residents.find("console", "nick")
    assert resident is not None and resident.public_name is None


async def test_requests_on_the_command_line(
    database: str, tmp_path: Path, content: ContentStore, settings: Settings
) -> None:
    import asyncio

    storage = await Storage.open(database, data_dir=tmp_path)
    core = Core(storage, content, settings, lambda: TODAY)
    chat = Chat(core, "2001", channel="telegram")
    await chat.say("/start")
    await chat.say("宅基地边界跟邻居扯皮")
    await chat.press("请司法所联系我")
    await chat.say("13900001111")
    await storage.close()
    env = {**os.environ, "BOT_DB": database, "BOT_DATA_DIR": str(tmp_path), "BOT_CONTENT_DIR": str(CONTENT)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=60
        )

    listed = await asyncio.to_thread(cli, "requests", "list")
    assert listed.returncode == 0 and "#1" in listed.stdout and "13900001111" in listed.stdout, listed.stderr
    assert "宅基地" in listed.stdout and "待处理" in listed.stdout
    done = await asyncio.to_thread(cli, "requests", "done", "1")
    assert done.returncode == 0 and "#1 marked done" in done.stdout
    again = await asyncio.to_thread(cli, "requests", "done", "1")
    assert again.returncode != 0 and "no open request #1" in again.stderr
    assert "no open requests" in (await asyncio.to_thread(cli, "requests", "list")).stdout
