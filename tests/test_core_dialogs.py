"""Core dialogs as transcripts: what a resident types or presses, and what comes back."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.config import Settings
from bot.content.store import ContentStore
from bot.core.engine import Core, tip_of_the_day
from bot.core.events import Text, Toast
from bot.core.payloads import Action, encode
from bot.storage import Storage

from .conftest import CONTENT, TODAY
from .helpers import Chat, labels, texts


async def test_first_start_welcomes_subscribes_and_asks_for_place(core: Core, storage: Storage) -> None:
    chat = Chat(core, "alice")
    replies = await chat.say("/start")
    assert "您好，alice" in texts(replies) and "已订阅" in texts(replies) and "/unsubscribe" in texts(replies)
    assert "🏡 青石村" in labels(replies[-1]) and "🏫 青石镇中心小学" in labels(replies[-1])
    assert "跳过" in labels(replies[-1])

    replies = await chat.press("青石村")
    assert "已设置为：青石村" in texts(replies)
    assert "📚 普法专题" in labels(replies[-1])
    resident = await storage.residents.find("console", "alice")
    assert resident is not None and resident.place_id == "qingshi-village" and resident.subscribed

    replies = await chat.say("/start")
    assert "欢迎回来" in texts(replies)
    assert "跳过" not in labels(replies[-1])  # no second onboarding


async def test_skipping_the_place_is_remembered(core: Core, storage: Storage) -> None:
    chat = Chat(core, "bob")
    await chat.say("/start")
    replies = await chat.press("跳过")
    assert "/place" in texts(replies)
    replies = await chat.say("/start")
    assert "欢迎回来" in texts(replies)
    replies = await chat.say("/place")
    assert "未设置" in texts(replies)
    replies = await chat.press("河西村")
    assert "河西村" in texts(replies)


async def test_browsing_tips_records_one_delivery_per_tip_shown(core: Core, storage: Storage) -> None:
    chat = Chat(core, "carol")
    await chat.say("/start")
    await chat.press("跳过")
    await chat.say("/topics")
    first = await chat.press("反电信网络诈骗")
    fraud = core.content.catalog.topic("anti-fraud")
    assert fraud is not None
    assert first[0].title == fraud.tips[0].title
    assert "第 1/" in texts(first) and "依据：《" in texts(first)
    assert isinstance(first[0], Text) and first[0].replace  # navigation may edit in place
    second = await chat.press("下一条")
    assert second[0].title == fraud.tips[1].title
    back = await chat.press("上一条")
    assert back[0].title == fraud.tips[0].title
    await storage.flush()
    events = await storage.reach.events()
    assert [(e.kind, e.topic_id, e.item_id) for e in events] == [
        ("tip", "anti-fraud", fraud.tips[0].id),
        ("tip", "anti-fraud", fraud.tips[1].id),
        ("tip", "anti-fraud", fraud.tips[0].id),
    ]
    # 3 deliveries (人次) to 1 person (人)
    assert len({e.resident_id for e in events}) == 1


async def test_last_tip_has_no_next_button(core: Core) -> None:
    fraud = core.content.catalog.topic("anti-fraud")
    assert fraud is not None
    chat = Chat(core, "dora")
    replies = await chat.press_payload(encode(Action.TIP, fraud.tips[-1].id))
    assert "下一条 ▶" not in labels(replies[0]) and "◀ 上一条" in labels(replies[0])


async def test_tip_of_the_day_is_stable_for_the_date(core: Core, storage: Storage) -> None:
    expected = tip_of_the_day(core.content.catalog, TODAY)
    assert expected is not None
    a, b = Chat(core, "a1"), Chat(core, "b1")
    await a.say("/start")
    ra, rb = await a.say("/tip"), await b.say("/tip")
    assert ra[0].title == rb[0].title and expected.title in (ra[0].title or "")


async def test_stale_and_forged_buttons_get_a_polite_menu(core: Core) -> None:
    chat = Chat(core, "erin")
    await chat.say("/start")
    for payload in ("tp:no-such-tip", "t:no-such-topic", "ps:nowhere", "zz:1", "x" * 300, "ls:fr", "pp:abc"):
        replies = await chat.press_payload(payload)
        assert "已经更新" in texts(replies), payload
        assert "📚 普法专题" in labels(replies[-1])


async def test_a_tip_removed_by_reload_answers_stale_and_bad_reload_keeps_old(tmp_path: Path, storage: Storage) -> None:
    directory = tmp_path / "content"
    shutil.copytree(CONTENT, directory)
    content = ContentStore.load(directory, lambda: TODAY)
    core = Core(storage, content, Settings(content_dir=directory), lambda: TODAY)
    fraud = content.catalog.topic("anti-fraud")
    assert fraud is not None
    old_tip = fraud.tips[0]
    chat = Chat(core, "fred")
    shown = await chat.press_payload(encode(Action.TIP, old_tip.id))
    assert shown[0].title == old_tip.title

    topic_file = directory / "topics" / "anti-fraud.yaml"
    good = topic_file.read_text(encoding="utf-8")
    topic_file.write_text("id: [broken", encoding="utf-8")
    result = await content.reload()
    assert result.catalog is None and content.catalog.tip(old_tip.id) is not None  # still serving

    topic_file.write_text(good.replace(f"id: {old_tip.id}\n", "id: renamed-tip\n"), encoding="utf-8")
    assert (await content.reload()).catalog is not None
    replies = await chat.press_payload(encode(Action.TIP, old_tip.id))
    assert "已经更新" in texts(replies)


async def test_unsubscribe_one_topic_then_everything_then_resubscribe(core: Core, storage: Storage) -> None:
    chat = Chat(core, "gina")
    await chat.say("/start")
    replies = await chat.press_payload(encode(Action.SUBSCRIPTIONS))  # per-topic choices live in 订阅管理
    assert "全部专题" in texts(replies)
    replies = await chat.press("禁毒")
    assert isinstance(replies[0], Toast) and "已退订「禁毒」" in replies[0].text
    assert "🔕 禁毒" in labels(replies[-1])
    resident = await storage.residents.find("console", "gina")
    assert resident is not None
    assert await storage.residents.unsubscribed_topics(resident.id) == {"anti-drug"}

    replies = await chat.press("全部退订")
    assert "已退订全部" in texts(replies)
    resident = await storage.residents.find("console", "gina")
    assert resident is not None and not resident.subscribed

    replies = await chat.say("/subscribe")
    assert "已恢复接收全部" in texts(replies)
    resident = await storage.residents.find("console", "gina")
    assert resident is not None and resident.subscribed
    assert await storage.residents.unsubscribed_topics(resident.id) == set()


async def test_unknown_text_and_commands_point_to_the_menu(core: Core) -> None:
    chat = Chat(core, "hank")
    await chat.say("/start")
    replies = await chat.say("今天天气怎么样")  # a question no tip answers
    assert "还没找到相关的普法内容" in texts(replies) and "12348" in texts(replies)
    assert "📚 普法专题" in labels(replies[-1])
    replies = await chat.say("🙂🙂")  # not words at all
    assert "还不太懂" in texts(replies) and "📚 普法专题" in labels(replies[-1])
    replies = await chat.say("/frobnicate now")
    assert "没有“/frobnicate”这个命令" in texts(replies)


async def test_odd_input_never_breaks_the_conversation(core: Core) -> None:
    chat = Chat(core, "ivy")
    await chat.say("/start")
    for text in ("", "   ", "字" * 5000, "🙂" * 100, "مرحبا بالعالم", "\u202eevil\u202c", "\x00\x01", "/", "//", "/ "):
        replies = await chat.say(text)
        assert replies, repr(text[:10])
        assert "出了点小问题" not in texts(replies), repr(text[:10])


async def test_english_client_gets_english_and_can_switch(core: Core) -> None:
    chat = Chat(core, "jack", language="en-GB")
    replies = await chat.say("/start")
    assert "Hello, jack" in texts(replies)
    await chat.press("Skip")
    replies = await chat.say("/language")
    replies = await chat.press("中文")
    assert "中文" in texts(replies) and "📚 普法专题" in labels(replies[-1])
    replies = await chat.say("/help")
    assert "帮助" in texts(replies)


async def test_admin_command_is_invisible_to_residents(core: Core) -> None:
    resident = Chat(core, "kate")
    await resident.say("/start")
    refused = await resident.say("/admin")
    unknown = await resident.say("/nosuchthing")
    assert texts(refused).replace("admin", "X") == texts(unknown).replace("nosuchthing", "X")
    assert "管理" not in texts(refused)
    reload_refused = await resident.say("/reload")
    assert "重新加载" not in texts(reload_refused)
    forged = await resident.press_payload(encode(Action.ADMIN_RELOAD))
    assert "已经更新" in texts(forged)

    admin = Chat(core, "admin")
    replies = await admin.say("/admin")
    assert "管理菜单" in texts(replies) and "个专题" in texts(replies)
    replies = await admin.say("/reload")
    assert "内容已重新加载" in texts(replies)


async def test_group_chats_keep_settings_private(core: Core) -> None:
    chat = Chat(core, "leo", private=False)
    for command in ("/place", "/unsubscribe", "/language"):
        replies = await chat.say(command)
        assert "私聊" in texts(replies), command
    replies = await chat.say("/tip")
    assert "依据" in texts(replies)


async def test_a_storage_failure_becomes_an_apology(core: Core, storage: Storage) -> None:
    await storage.close()
    replies = await Chat(core, "mia").say("/start")
    assert "出了点小问题" in texts(replies)


async def test_undelivered_replies_are_not_counted(core: Core, storage: Storage) -> None:
    fraud = core.content.catalog.topic("anti-fraud")
    assert fraud is not None
    from bot.core.events import Incoming

    async def failing_send(reply: object) -> bool:
        return False

    await core.respond(Incoming("console", "ned", button=encode(Action.TIP, fraud.tips[0].id)), failing_send)
    await storage.flush()
    assert await storage.reach.count() == 0


def tiny_png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


async def test_a_tip_with_an_image_is_sent_as_an_image_and_counted(tmp_path: Path, storage: Storage) -> None:
    from bot.core.events import Image

    directory = tmp_path / "content"
    shutil.copytree(CONTENT, directory)
    (directory / "images").mkdir(exist_ok=True)
    (directory / "images" / "tiny.png").write_bytes(tiny_png())
    topic_file = directory / "topics" / "anti-drug.yaml"
    text = topic_file.read_text(encoding="utf-8")
    marker = "    reviewed_on: 2026-11-27\n"
    topic_file.write_text(text.replace(marker, marker + "    image: images/tiny.png\n", 1), encoding="utf-8")
    content = ContentStore.load(directory, lambda: TODAY)
    core = Core(storage, content, Settings(content_dir=directory), lambda: TODAY)
    drug = content.catalog.topic("anti-drug")
    assert drug is not None and drug.tips[0].image == "images/tiny.png"
    replies = await Chat(core, "pia").press_payload(encode(Action.TOPIC, "anti-drug"))
    assert isinstance(replies[0], Image)
    assert replies[0].path.read_bytes() == tiny_png()
    assert replies[0].title == drug.tips[0].title and "依据" in replies[0].caption
    await storage.flush()
    assert await storage.reach.count(kind="tip", item_id=drug.tips[0].id) == 1


def test_every_action_and_every_listed_command_has_a_route(core: Core) -> None:
    from bot.channels.telegram.adapter import COMMANDS

    assert set(core.buttons) == set(Action), f"unrouted: {set(Action) - set(core.buttons)}"
    assert set(COMMANDS) <= set(core.commands)
    admin_actions = {action for action, route in core.buttons.items() if route.admin_only}
    from bot.core.payloads import ADMIN_ACTIONS

    assert admin_actions == ADMIN_ACTIONS


async def test_every_button_with_unknown_arguments_is_answered_not_crashed(core: Core) -> None:
    from bot.core.payloads import ARITY

    for action in Action:
        chat = Chat(core, f"presser-{action.value}")  # one resident each: within the flood limit
        replies = await chat.press_payload(encode(action, *["999"] * ARITY.get(action, 0)))
        assert replies, action
        assert "小问题" not in texts(replies), (action, texts(replies))  # never the apology


async def test_a_flood_gets_one_polite_pause_and_no_unanswered_noise(
    storage: Storage, content: ContentStore, settings: Settings
) -> None:
    import dataclasses

    core = Core(storage, content, dataclasses.replace(settings, flood_limit=5), lambda: TODAY)
    chat = Chat(core, "flooder")
    answered = [await chat.say(f"随便问问第{n}个问题") for n in range(300)]
    assert all(answered[n] for n in range(5))  # within the limit: answered
    assert "太快" in texts(answered[5]) and not any(answered[6:])  # one notice, then silence
    assert len(await storage.questions.unanswered()) <= 5  # the editors' list is not flooded
    other = Chat(core, "neighbour")
    assert await other.say("你好")  # one resident's flood does not silence the others


async def test_an_admin_button_in_a_group_posts_nothing_there(
    storage: Storage, content: ContentStore, settings: Settings
) -> None:
    import dataclasses

    from bot.config import Identity

    core = Core(storage, content, dataclasses.replace(settings, admins=frozenset({Identity("console", "boss")})))
    chat = Chat(core, "boss", private=False)
    replies = await chat.press_payload(encode(Action.ADMIN_RELOAD))
    assert "私聊" in texts(replies) and "专题" not in texts(replies)
