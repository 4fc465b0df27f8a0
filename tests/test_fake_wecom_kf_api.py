"""Tests of the fake WeCom 微信客服 (kf) API server, driven by a plain aiohttp client."""

from __future__ import annotations

import datetime as dt
import re

import aiohttp
import pytest
from aiohttp import web

from bot.channels.wecom.crypto import WeComCrypto
from tests.fakes.wecom_kf_api import (
    ERR_BAD_CURSOR,
    ERR_BAD_EVENT_CODE,
    ERR_BAD_MSG_TOKEN,
    ERR_BAD_MSGTYPE,
    ERR_BAD_OPEN_KFID,
    ERR_BAD_PARAM,
    ERR_BAD_TIME_RANGE,
    ERR_CONTENT_TOO_LONG,
    ERR_EMPTY_CONTENT,
    ERR_FREQ_LIMIT,
    ERR_SEND_COUNT_LIMIT,
    ERR_SEND_TIME_LIMIT,
    ERR_SERVICER_INACTIVE,
    ERR_SESSION_STATE,
    ERR_STATE_TRANSITION,
    ERR_WELCOME_REFUSED,
    FakeWeComKf,
    day_start,
    encrypt_callback,
    post_callback,
)
from tests.test_wecom_crypto import AES_KEY, CORP_ID, TOKEN

USER = "wmAJ2GCAAAuser0001"
OTHER = "wmAJ2GCAAAuser0002"
HOUR = 3600
CHINA = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
async def kf():
    server = FakeWeComKf()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    def __init__(self, http: aiohttp.ClientSession, kf: FakeWeComKf) -> None:
        self.http, self.kf, self.token = http, kf, ""

    async def login(self) -> Api:
        params = {"corpid": self.kf.corp_id, "corpsecret": self.kf.secret}
        async with self.http.get(f"{self.kf.base_url}/cgi-bin/gettoken", params=params) as resp:
            self.token = (await resp.json())["access_token"]
        return self

    async def post(self, path: str, body: dict) -> dict:
        url = f"{self.kf.base_url}/cgi-bin/kf/{path}"
        async with self.http.post(url, params={"access_token": self.token}, json=body) as resp:
            assert resp.status == 200
            return await resp.json()

    async def sync(self, token: str | None = None, cursor: str = "", limit: int | None = None, **extra) -> dict:
        body: dict = {"cursor": cursor, "open_kfid": self.kf.open_kfid, **extra}
        if token is None:
            callback = self.kf.pending_callback()
            token = callback.token if callback else ""
        if token:
            body["token"] = token
        if limit is not None:
            body["limit"] = limit
        return await self.post("sync_msg", body)

    async def send(self, touser: str = USER, content: str = "hi", **extra) -> dict:
        body = {"touser": touser, "open_kfid": self.kf.open_kfid, "msgtype": "text", "text": {"content": content}}
        return await self.post("send_msg", {**body, **extra})

    async def send_menu(self, menu: dict, touser: str = USER) -> dict:
        body = {"touser": touser, "open_kfid": self.kf.open_kfid, "msgtype": "msgmenu", "msgmenu": menu}
        return await self.post("send_msg", body)

    async def on_event(self, code: str, content: str = "欢迎", **extra) -> dict:
        return await self.post(
            "send_msg_on_event", {"code": code, "msgtype": "text", "text": {"content": content}, **extra}
        )

    async def stats(self, start: int, end: int, open_kfid: str | None = "default") -> dict:
        body: dict = {"start_time": start, "end_time": end}
        if open_kfid is not None:
            body["open_kfid"] = self.kf.open_kfid if open_kfid == "default" else open_kfid
        return await self.post("get_corp_statistic", body)


@pytest.fixture
async def api(http: aiohttp.ClientSession, kf: FakeWeComKf) -> Api:
    return await Api(http, kf).login()


def click(i: int, ident: str | None = None, content: str | None = None) -> dict:
    return {"type": "click", "click": {"id": ident or f"m{i}", "content": content or f"选项{i}"}}


# ------------------------------------------------------------------------------------------ tokens, callbacks


async def test_gettoken_and_access_token_errors(http: aiohttp.ClientSession, kf: FakeWeComKf) -> None:
    params = {"corpid": kf.corp_id, "corpsecret": "wrong"}
    async with http.get(f"{kf.base_url}/cgi-bin/gettoken", params=params) as resp:
        assert (await resp.json())["errcode"] == 40001
    api = Api(http, kf)
    assert (await api.sync(token=""))["errcode"] == 41001
    await api.login()
    kf.expire_tokens()
    assert (await api.sync(token=""))["errcode"] == 42001


async def test_callback_plaintext_and_encryption(kf: FakeWeComKf) -> None:
    assert kf.pending_callback() is None
    kf.customer_says(USER, "你好")
    callback = kf.pending_callback()
    assert callback is not None and callback.open_kfid == kf.open_kfid and callback.token.startswith("ENC")
    xml = kf.callback_plaintext()
    for part in ("<Event><![CDATA[kf_msg_or_event]]></Event>", "<MsgType><![CDATA[event]]></MsgType>",
                 f"<Token><![CDATA[{callback.token}]]></Token>", f"<OpenKfId><![CDATA[{kf.open_kfid}]]></OpenKfId>",
                 f"<ToUserName><![CDATA[{kf.corp_id}]]></ToUserName>"):  # fmt: skip
        assert part in xml
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    params, body = encrypt_callback(crypto, xml, timestamp="1700000000")
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", body.decode()).group(1)
    crypto.verify(params["msg_signature"], params["timestamp"], params["nonce"], encrypted)
    assert crypto.decrypt(encrypted) == xml
    kf.customer_says(USER, "again")
    assert kf.pending_callback() != callback  # every callback carries a fresh token


async def test_post_callback_reaches_a_receiver(kf: FakeWeComKf, http: aiohttp.ClientSession) -> None:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    received: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", await request.text()).group(1)
        q = request.query
        crypto.verify(q["msg_signature"], q["timestamp"], q["nonce"], encrypted)
        received.append(crypto.decrypt(encrypted))
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/wecom/kf", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        kf.customer_says(USER, "hi")
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/wecom/kf"
        assert await post_callback(http, url, crypto, kf.callback_plaintext(), agent_id=1000002) == (200, "")
        assert received == [kf.callback_plaintext()]
    finally:
        await runner.cleanup()


# ------------------------------------------------------------------------------------------ sync_msg


async def test_cursor_pagination_and_has_more(kf: FakeWeComKf, api: Api) -> None:
    sent = [kf.customer_says(USER, f"m{i}") for i in range(5)]
    pages, cursor = [], ""
    while True:
        page = await api.sync(cursor=cursor, limit=2)
        assert page["errcode"] == 0
        pages.append(page)
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert [len(p["msg_list"]) for p in pages] == [2, 2, 1]
    assert [p["has_more"] for p in pages] == [1, 1, 0]
    assert [m["msgid"] for p in pages for m in p["msg_list"]] == sent
    first = pages[0]["msg_list"][0]
    assert first["origin"] == 3 and first["external_userid"] == USER and first["open_kfid"] == kf.open_kfid
    assert first["text"] == {"content": "m0"} and isinstance(first["send_time"], int)
    nothing = await api.sync(cursor=cursor)
    assert nothing["msg_list"] == [] and nothing["has_more"] == 0
    later = kf.customer_says(OTHER, "later")
    again = await api.sync(cursor=nothing["next_cursor"])
    assert [m["msgid"] for m in again["msg_list"]] == [later]
    assert len((await api.sync())["msg_list"]) == 6  # no cursor: from the earliest message of the last 3 days


async def test_sync_parameter_checks(kf: FakeWeComKf, api: Api) -> None:
    kf.customer_says(USER, "x")
    assert (await api.sync(limit=1001))["errcode"] == ERR_BAD_PARAM
    assert (await api.sync(limit=0))["errcode"] == ERR_BAD_PARAM
    assert (await api.sync(cursor="made-up"))["errcode"] == ERR_BAD_CURSOR
    assert (await api.sync(cursor="x" * 65))["errcode"] == ERR_BAD_PARAM
    assert (await api.sync(open_kfid="wkOTHER"))["errcode"] == ERR_BAD_OPEN_KFID
    assert (await api.sync(limit=1000))["errcode"] == 0


async def test_callback_token_is_checked_and_lasts_ten_minutes(kf: FakeWeComKf, api: Api) -> None:
    kf.customer_says(USER, "x")
    token = kf.pending_callback().token
    assert (await api.sync(token="ENCwrong"))["errcode"] == ERR_BAD_MSG_TOKEN
    kf.advance(599)
    assert (await api.sync(token=token))["errcode"] == 0
    kf.advance(2)
    assert (await api.sync(token=token))["errcode"] == ERR_BAD_MSG_TOKEN


async def test_sync_without_token_is_rate_limited(kf: FakeWeComKf, api: Api) -> None:
    kf.customer_says(USER, "x")
    for _ in range(kf.tokenless_limit):
        assert (await api.sync(token=""))["errcode"] == 0
    assert (await api.sync(token=""))["errcode"] == ERR_FREQ_LIMIT
    assert (await api.sync())["errcode"] == 0  # with the callback token it still works
    assert kf.tokenless_calls == kf.tokenless_limit + 1


async def test_three_day_horizon(kf: FakeWeComKf, api: Api) -> None:
    kf.add_history(USER, "too old", at=kf.now - 3 * 86400 - 60)
    recent = kf.add_history(USER, "two days ago", at=kf.now - 2 * 86400)
    live = kf.customer_says(USER, "now")
    assert [m["msgid"] for m in (await api.sync())["msg_list"]] == [recent, live]
    kf.advance(86400 + 60)  # "two days ago" is now more than 3 days old
    kf.customer_says(OTHER, "poke")  # a fresh callback token
    msgids = [m["msgid"] for m in (await api.sync())["msg_list"]]
    assert recent not in msgids and live in msgids


async def test_own_messages_never_come_back_and_event_layout(kf: FakeWeComKf, api: Api) -> None:
    kf.customer_says(USER, "question")
    msgid = (await api.send(content="answer"))["msgid"]
    kf.fail_delivery(msgid, fail_type=10)
    msgs = (await api.sync())["msg_list"]
    assert [m["msgtype"] for m in msgs] == ["text", "event"]
    assert all(m.get("text", {}).get("content") != "answer" for m in msgs)
    event = msgs[1]
    assert event["origin"] == 4 and "external_userid" not in event and "open_kfid" not in event
    assert event["event"] == {"event_type": "msg_send_fail", "open_kfid": kf.open_kfid, "external_userid": USER,
                              "fail_msgid": msgid, "fail_type": 10}  # fmt: skip
    with pytest.raises(ValueError):
        kf.fail_delivery("no-such-msgid")
    with pytest.raises(ValueError):
        kf.fail_delivery(msgid, fail_type=3)


async def test_empty_page_with_has_more(kf: FakeWeComKf, api: Api) -> None:
    only = kf.customer_says(USER, "x")
    kf.inject_empty_page()
    first = await api.sync()
    assert first["msg_list"] == [] and first["has_more"] == 1
    second = await api.sync(cursor=first["next_cursor"])
    assert [m["msgid"] for m in second["msg_list"]] == [only] and second["has_more"] == 0


async def test_servicer_messages_have_origin_5(kf: FakeWeComKf, api: Api) -> None:
    kf.customer_says(USER, "help")
    kf.set_state(USER, 3, "servicer01")
    kf.agent_says(USER, "人工客服为您服务")
    msgs = (await api.sync())["msg_list"]
    assert [m["origin"] for m in msgs] == [3, 4, 5]
    assert msgs[2]["servicer_userid"] == "servicer01"


# ------------------------------------------------------------------------------------------ send_msg


async def test_budget_of_five_per_customer_message(kf: FakeWeComKf, api: Api) -> None:
    assert (await api.send(touser="wmNEVERSEEN"))["errcode"] != 0
    kf.customer_says(USER, "q1")
    for i in range(5):
        answer = await api.send(content=f"a{i}")
        assert answer["errcode"] == 0 and answer["msgid"]
    assert (await api.send(content="a5"))["errcode"] == ERR_SEND_COUNT_LIMIT
    kf.advance(HOUR)
    kf.customer_says(USER, "q2")  # renews the window and resets the count
    for i in range(5):
        assert (await api.send(content=f"b{i}"))["errcode"] == 0
    assert (await api.send(content="b5"))["errcode"] == ERR_SEND_COUNT_LIMIT
    assert len(kf.sent_to(USER)) == 10 and kf.max_in_window(USER) == 5 and kf.max_in_window() == 5
    assert len(kf.refusals(ERR_SEND_COUNT_LIMIT)) == 2


async def test_window_of_48_hours(kf: FakeWeComKf, api: Api) -> None:
    kf.customer_says(USER, "q")
    kf.advance(48 * HOUR - 5)
    assert (await api.send())["errcode"] == 0
    kf.advance(10)
    assert (await api.send())["errcode"] == ERR_SEND_TIME_LIMIT
    kf.customer_says(USER, "back again")
    assert (await api.send())["errcode"] == 0


async def test_session_state_gates_sending(kf: FakeWeComKf, api: Api) -> None:
    kf.customer_enters(USER)
    assert kf.state_of(USER) == 4
    assert (await api.send())["errcode"] == ERR_SESSION_STATE  # entered, not written yet
    kf.customer_says(USER, "q")
    assert kf.state_of(USER) == 0
    assert (await api.send())["errcode"] == 0
    code = kf.set_state(USER, 3)  # a human agent picks the session up
    assert code and code.startswith("ACCEPT")
    assert (await api.send())["errcode"] == ERR_SESSION_STATE
    state = await api.post("service_state/get", {"open_kfid": kf.open_kfid, "external_userid": USER})
    assert (state["service_state"], state["servicer_userid"]) == (3, "servicer01")
    event = (await api.sync())["msg_list"][-1]["event"]
    assert event["event_type"] == "session_status_change" and event["change_type"] == 1
    assert event["new_servicer_userid"] == "servicer01" and event["msg_code"] == code


async def test_text_and_msgid_rules(kf: FakeWeComKf, api: Api) -> None:
    kf.customer_says(USER, "q")
    assert (await api.send(content="法" * 682 + "ab"))["errcode"] == 0  # 2048 bytes
    assert (await api.send(content="法" * 682 + "abc"))["errcode"] == ERR_CONTENT_TOO_LONG
    assert (await api.send(content=""))["errcode"] == ERR_EMPTY_CONTENT
    assert (await api.send(msgid="my-id_1"))["msgid"] == "my-id_1"
    assert (await api.send(msgid="my-id_1"))["errcode"] == ERR_BAD_PARAM
    assert (await api.send(msgid="bad id!"))["errcode"] == ERR_BAD_PARAM
    assert (await api.send(msgid="x" * 33))["errcode"] == ERR_BAD_PARAM
    assert (await api.send(open_kfid="wkOTHER"))["errcode"] == ERR_BAD_OPEN_KFID
    assert (await api.send(msgtype="news"))["errcode"] == ERR_BAD_MSGTYPE
    image = {"touser": USER, "open_kfid": kf.open_kfid, "msgtype": "image", "image": {"media_id": "nope"}}
    assert (await api.post("send_msg", image))["errcode"] == 40007
    assert len(kf.sent_to(USER)) == 2


async def test_msgmenu_limits(kf: FakeWeComKf, api: Api) -> None:
    kf.customer_says(USER, "q")
    ok = {"head_content": "请选择", "list": [click(i) for i in range(10)], "tail_content": "谢谢"}
    assert (await api.send_menu(ok))["errcode"] == 0
    bad_menus = [
        {"list": [click(i) for i in range(11)]},
        {"list": []},
        {"head_content": "x" * 1025, "list": [click(1)]},
        {"tail_content": "x" * 1025, "list": [click(1)]},
        {"list": [click(1, ident="i" * 65)]},
        {"list": [click(1, content="c" * 129)]},
        {"list": [{"type": "click", "click": {"id": "", "content": "x"}}]},
        {"list": [{"type": "view", "view": {"url": "https://example.org"}}]},
        {"list": [{"type": "button", "button": {"id": "1"}}]},
        {"list": [{"type": "click"}]},
    ]
    for menu in bad_menus:
        assert (await api.send_menu(menu))["errcode"] == ERR_BAD_PARAM, menu
    view = {"type": "view", "view": {"url": "https://example.org", "content": "官网"}}
    assert (await api.send_menu({"list": [view, click(1, ident="i" * 64, content="c" * 128)]}))["errcode"] == 0
    kf.customer_says(USER, "选项3", menu_id="m3")
    assert (await api.sync())["msg_list"][-1]["text"] == {"content": "选项3", "menu_id": "m3"}
    with pytest.raises(ValueError):
        kf.customer_says(USER, "?", menu_id="never-sent")


async def test_max_in_window_counts_each_customer_message(kf: FakeWeComKf, api: Api) -> None:
    kf.customer_says(USER, "q")
    for _ in range(3):
        assert (await api.send())["errcode"] == 0
    kf.customer_says(USER, "q2")
    assert (await api.send())["errcode"] == 0
    kf.customer_says(OTHER, "q")
    assert kf.max_in_window() == 3 and kf.max_in_window(OTHER) == 0


# ------------------------------------------------------------------------------------------ send_msg_on_event


async def test_welcome_code_once_within_20_seconds(kf: FakeWeComKf, api: Api) -> None:
    code = kf.customer_enters(USER, scene="poster1", scene_param="village=7")
    assert code
    event = (await api.sync())["msg_list"][-1]["event"]
    assert event == {"event_type": "enter_session", "open_kfid": kf.open_kfid, "external_userid": USER,
                     "scene": "poster1", "scene_param": "village=7", "welcome_code": code}  # fmt: skip
    image = {"code": code, "msgtype": "image", "image": {"media_id": "x"}}
    assert (await api.post("send_msg_on_event", image))["errcode"] == ERR_BAD_MSGTYPE
    kf.advance(19)
    answer = await api.on_event(code)
    assert answer["errcode"] == 0 and answer["msgid"]
    assert (await api.on_event(code))["errcode"] == ERR_BAD_EVENT_CODE  # only once
    assert kf.welcomes_to(USER)[0]["text"]["content"] == "欢迎"
    assert kf.sent_to(USER, via="send_msg") == []
    assert (await api.on_event("WELCOME_CODE_made_up"))["errcode"] == ERR_BAD_EVENT_CODE


async def test_welcome_code_expires_after_20_seconds(kf: FakeWeComKf, api: Api) -> None:
    code = kf.customer_enters(USER)
    kf.advance(21)
    assert (await api.on_event(code))["errcode"] == ERR_BAD_EVENT_CODE


async def test_no_welcome_twice_in_48_hours(kf: FakeWeComKf, api: Api) -> None:
    first = kf.customer_enters(USER)
    assert (await api.on_event(first))["errcode"] == 0
    kf.advance(HOUR)
    assert kf.customer_enters(USER) is None  # no code: a welcome in the past 48 h
    kf.advance(47 * HOUR + 10)
    assert (await api.on_event(kf.customer_enters(USER)))["errcode"] == 0


async def test_second_code_refused_when_a_welcome_went_out(kf: FakeWeComKf, api: Api) -> None:
    first, second = kf.customer_enters(USER), kf.customer_enters(USER)
    assert first and second
    assert (await api.on_event(second))["errcode"] == 0
    assert (await api.on_event(first))["errcode"] == ERR_WELCOME_REFUSED


async def test_no_welcome_once_the_customer_wrote(kf: FakeWeComKf, api: Api) -> None:
    code = kf.customer_enters(USER)
    kf.customer_says(USER, "我先说话")
    assert (await api.on_event(code))["errcode"] == ERR_WELCOME_REFUSED
    assert kf.customer_enters(USER) is None  # wrote within the past 48 h: no welcome_code at all


async def test_welcome_menu_limits(kf: FakeWeComKf, api: Api) -> None:
    code = kf.customer_enters(USER)
    too_big = {"code": code, "msgtype": "msgmenu", "msgmenu": {"list": [click(i) for i in range(11)]}}
    assert (await api.post("send_msg_on_event", too_big))["errcode"] == ERR_BAD_PARAM
    menu = {"code": code, "msgtype": "msgmenu", "msgmenu": {"head_content": "您好", "list": [click(1)]}}
    assert (await api.post("send_msg_on_event", menu))["errcode"] == 0


async def test_state_trans_and_its_codes(kf: FakeWeComKf, api: Api) -> None:
    base = {"open_kfid": kf.open_kfid, "external_userid": USER}
    assert (await api.post("service_state/get", base))["errcode"] == 40096  # never seen
    kf.customer_says(USER, "q")
    assert (await api.post("service_state/trans", {**base, "service_state": 1}))["errcode"] == 0
    assert (await api.send())["errcode"] == 0  # 1 = 智能助手 may still send
    assert (await api.post("service_state/trans", {**base, "service_state": 3}))["errcode"] == ERR_BAD_PARAM
    unknown = {**base, "service_state": 3, "servicer_userid": "nobody"}
    assert (await api.post("service_state/trans", unknown))["errcode"] == ERR_SERVICER_INACTIVE
    pool = await api.post("service_state/trans", {**base, "service_state": 2})
    assert pool["errcode"] == 0 and pool["msg_code"]
    menu = {"code": pool["msg_code"], "msgtype": "msgmenu", "msgmenu": {"list": [click(1)]}}
    assert (await api.post("send_msg_on_event", menu))["errcode"] == ERR_BAD_MSGTYPE  # pool code: text only
    assert (await api.on_event(pool["msg_code"], "请稍候"))["errcode"] == 0
    end = await api.post("service_state/trans", {**base, "service_state": 4})
    assert end["errcode"] == 0 and end["msg_code"]
    assert (await api.post("service_state/trans", {**base, "service_state": 0}))["errcode"] == ERR_STATE_TRANSITION
    assert (await api.send())["errcode"] == ERR_SESSION_STATE
    assert (await api.on_event(end["msg_code"], "再见"))["errcode"] == 0
    kf.customer_says(USER, "新问题")  # a new session
    assert kf.state_of(USER) == 0 and (await api.send())["errcode"] == 0


async def test_event_code_bound_to_its_state(kf: FakeWeComKf, api: Api) -> None:
    base = {"open_kfid": kf.open_kfid, "external_userid": USER}
    kf.customer_says(USER, "q")
    pool = await api.post("service_state/trans", {**base, "service_state": 2})
    kf.set_state(USER, 3)
    assert (await api.on_event(pool["msg_code"]))["errcode"] == ERR_SESSION_STATE


# ------------------------------------------------------------------------------------------ add_contact_way


async def test_add_contact_way_scene_rules(kf: FakeWeComKf, api: Api) -> None:
    answer = await api.post("add_contact_way", {"open_kfid": kf.open_kfid, "scene": "a" * 32})
    assert answer["errcode"] == 0
    assert re.fullmatch(r"https://work\.weixin\.qq\.com/kfid/kfc[0-9a-f]+\?enc_scene=ENC\w+", answer["url"])
    plain = await api.post("add_contact_way", {"open_kfid": kf.open_kfid})
    assert plain["errcode"] == 0 and "enc_scene" not in plain["url"]
    for scene in ("a" * 33, "a b", "村1", "x.y", 12):
        assert (await api.post("add_contact_way", {"open_kfid": kf.open_kfid, "scene": scene}))["errcode"] == (
            ERR_BAD_PARAM
        ), scene
    assert (await api.post("add_contact_way", {"scene": "ok"}))["errcode"] == ERR_BAD_OPEN_KFID
    assert (await api.post("add_contact_way", {"open_kfid": kf.open_kfid, "scene": "A-b_9"}))["errcode"] == 0
    with pytest.raises(ValueError):
        kf.customer_enters(USER, scene="bad scene")
    with pytest.raises(ValueError):
        kf.customer_enters(USER, scene="", scene_param="x")
    with pytest.raises(ValueError):
        kf.customer_enters(USER, scene="s", scene_param="p" * 129)


# ------------------------------------------------------------------------------------------ statistics


async def test_corp_statistic_counts_and_limits(kf: FakeWeComKf, api: Api) -> None:
    day1 = int(dt.datetime(2026, 11, 20, tzinfo=CHINA).timestamp())
    kf.now = day1 + 10 * HOUR
    kf.customer_says(USER, "a")
    kf.customer_says(USER, "b")
    kf.customer_says(OTHER, "c")
    msgid = (await api.send(touser=USER))["msgid"]
    kf.fail_delivery(msgid, fail_type=10)
    kf.advance(24 * HOUR)  # day 2, same session (within 48 h)
    kf.customer_says(USER, "d")
    kf.advance(3 * 24 * HOUR)  # day 5
    answer = await api.stats(day1 + 5 * HOUR, day1 + 86400 + 23 * HOUR)  # floored to 00:00 China time
    assert answer["errcode"] == 0
    [first, second] = answer["statistic_list"]
    assert (first["stat_time"], second["stat_time"]) == (day1, day1 + 86400)
    s1, s2 = first["statistic"], second["statistic"]
    assert (s1["session_cnt"], s1["customer_cnt"], s1["customer_msg_cnt"]) == (2, 2, 3)
    assert (s1["ai_session_reply_cnt"], s1["msg_rejected_customer_cnt"]) == (1, 1)
    assert (s2["session_cnt"], s2["customer_cnt"], s2["customer_msg_cnt"]) == (0, 1, 1)
    today = day_start(kf.now)
    assert (await api.stats(today - 86400, today))["errcode"] == ERR_BAD_TIME_RANGE  # today not available yet
    assert (await api.stats(today - 86400, today - 2 * 86400))["errcode"] == ERR_BAD_TIME_RANGE
    assert (await api.stats(today - 31 * 86400, today - 86400))["errcode"] == 0
    assert (await api.stats(today - 32 * 86400, today - 86400))["errcode"] == ERR_BAD_TIME_RANGE
    assert (await api.stats(today - 181 * 86400, today - 170 * 86400))["errcode"] == ERR_BAD_TIME_RANGE
    assert (await api.stats(today - 180 * 86400, today - 170 * 86400))["errcode"] == 0
    assert (await api.stats(today - 86400, today - 86400, open_kfid=None))["errcode"] == ERR_BAD_OPEN_KFID
    assert (await api.stats(today - 86400, today - 86400, open_kfid="wkOTHER"))["errcode"] == ERR_BAD_OPEN_KFID


async def test_new_session_after_48_hours_counts_in_statistics(kf: FakeWeComKf, api: Api) -> None:
    day1 = int(dt.datetime(2026, 11, 20, tzinfo=CHINA).timestamp())
    kf.now = day1 + HOUR
    kf.customer_says(USER, "a")
    kf.advance(49 * HOUR)  # day 3, the session is over
    kf.customer_says(USER, "b")
    kf.advance(2 * 24 * HOUR)
    stats = (await api.stats(day1, day1 + 2 * 86400))["statistic_list"]
    assert [s["statistic"]["session_cnt"] for s in stats] == [1, 0, 1]
