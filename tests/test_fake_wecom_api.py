"""Tests of the fake WeCom self-built-app API server, driven by a plain aiohttp client."""

from __future__ import annotations

import aiohttp
import pytest

from tests.fakes.wecom_api import FakeWeCom

USER = "zhangsan"


@pytest.fixture
async def fake():
    server = FakeWeCom()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def get_token(http: aiohttp.ClientSession, fake: FakeWeCom, secret: str | None = None) -> dict:
    params = {"corpid": fake.corp_id, "corpsecret": secret or fake.secret}
    async with http.get(f"{fake.base_url}/cgi-bin/gettoken", params=params) as resp:
        assert resp.status == 200
        return await resp.json()


async def post(http: aiohttp.ClientSession, fake: FakeWeCom, path: str, token: str, body: dict) -> dict:
    async with http.post(f"{fake.base_url}{path}", params={"access_token": token}, json=body) as resp:
        assert resp.status == 200
        return await resp.json()


def text(content: str, touser: str = USER, agentid: int = 1000002) -> dict:
    return {"touser": touser, "msgtype": "text", "agentid": agentid, "text": {"content": content}, "safe": 0}


def card(task_id: str, buttons: int = 2) -> dict:
    return {
        "touser": USER,
        "msgtype": "template_card",
        "agentid": 1000002,
        "template_card": {
            "card_type": "button_interaction",
            "main_title": {"title": "审批"},
            "task_id": task_id,
            "button_list": [{"text": f"b{i}", "style": 1, "key": f"k{i}"} for i in range(buttons)],
        },
    }


async def token(http: aiohttp.ClientSession, fake: FakeWeCom) -> str:
    return (await get_token(http, fake))["access_token"]


async def test_token_flow_and_wrong_credentials(fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    answer = await get_token(http, fake)
    assert answer == {"errcode": 0, "errmsg": "ok", "access_token": "tok-1", "expires_in": 7200}
    assert (await get_token(http, fake, secret="wrong"))["errcode"] == 40001
    async with http.get(f"{fake.base_url}/cgi-bin/gettoken", params={"corpid": "x", "corpsecret": "y"}) as resp:
        assert (await resp.json())["errcode"] == 40013
    assert fake.tokens_issued == 1
    assert [c.path for c in fake.calls] == ["/cgi-bin/gettoken"] * 3
    assert fake.calls[0].query == {"corpid": fake.corp_id, "corpsecret": fake.secret}
    assert fake.calls[0].body is None


async def test_send_text(fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    tok = await token(http, fake)
    answer = await post(http, fake, "/cgi-bin/message/send", tok, text("你好", touser=f"{USER}|lisi"))
    assert answer["errcode"] == 0 and answer["invaliduser"] == ""
    assert answer["msgid"].startswith("msg-") and answer["response_code"].startswith("rc-")
    assert [b["text"]["content"] for b in await fake.wait_sent(1)] == ["你好"]
    assert fake.sent_to("lisi") == fake.sent_to(USER) == fake.sent()
    assert fake.sent_to("wangwu") == []
    assert fake.calls[-1].response == answer and fake.calls[-1].query == {"access_token": tok}
    # Validation: agentid, msgtype, size limit (2048 bytes, not characters).
    assert (await post(http, fake, "/cgi-bin/message/send", tok, text("x", agentid=1)))["errcode"] == 40056
    assert (await post(http, fake, "/cgi-bin/message/send", tok, {**text("x"), "msgtype": "mpnews"}))["errcode"]
    assert (await post(http, fake, "/cgi-bin/message/send", tok, text("字" * 683)))["errcode"] == 44004
    assert (await post(http, fake, "/cgi-bin/message/send", tok, text("字" * 682)))["errcode"] == 0
    assert len(fake.sent()) == 2


async def test_invalid_token(fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    answer = await post(http, fake, "/cgi-bin/message/send", "bogus", text("hi"))
    assert answer["errcode"] == 40014
    assert fake.sent() == []


async def test_expired_token_then_new_token(fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    old = await token(http, fake)
    fake.expire_tokens()
    answer = await post(http, fake, "/cgi-bin/message/send", old, text("hi"))
    assert answer == {"errcode": 42001, "errmsg": "access_token expired"}
    new = await token(http, fake)
    assert new != old and fake.tokens_issued == 2
    assert (await post(http, fake, "/cgi-bin/message/send", new, text("hi")))["errcode"] == 0
    assert len(fake.sent()) == 1


async def test_invalid_users_and_81013(fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    tok = await token(http, fake)
    fake.invalid_users = {"gone1", "gone2"}
    answer = await post(http, fake, "/cgi-bin/message/send", tok, text("hi", touser=f"gone1|{USER}|gone2"))
    assert answer["errcode"] == 0 and answer["invaliduser"] == "gone1|gone2"
    answer = await post(http, fake, "/cgi-bin/message/send", tok, text("hi", touser="gone1|gone2"))
    assert answer["errcode"] == 81013
    assert len(fake.sent()) == 1 and fake.sent_to("gone1") == fake.sent()


async def test_template_card_task_id_reuse(fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    tok = await token(http, fake)
    assert (await post(http, fake, "/cgi-bin/message/send", tok, card("task-1")))["errcode"] == 0
    assert (await post(http, fake, "/cgi-bin/message/send", tok, card("task-1")))["errcode"] == 42014
    assert (await post(http, fake, "/cgi-bin/message/send", tok, card("")))["errcode"] == 42014
    assert (await post(http, fake, "/cgi-bin/message/send", tok, card("task-2", buttons=7)))["errcode"] == 40058
    assert (await post(http, fake, "/cgi-bin/message/send", tok, card("task-2", buttons=6)))["errcode"] == 0
    assert [b["template_card"]["task_id"] for b in fake.sent()] == ["task-1", "task-2"]


async def test_update_template_card_response_code_single_use(fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    tok = await token(http, fake)
    code = (await post(http, fake, "/cgi-bin/message/send", tok, card("t")))["response_code"]
    update = {"userids": [USER], "agentid": fake.agent_id, "response_code": code, "button": {"replace_name": "已同意"}}
    path = "/cgi-bin/message/update_template_card"
    assert await post(http, fake, path, tok, update) == {"errcode": 0, "errmsg": "ok"}
    assert (await post(http, fake, path, tok, update))["errcode"] == 40098
    assert (await post(http, fake, path, tok, {**update, "response_code": "rc-999"}))["errcode"] == 40098
    assert fake.calls[-1].body["response_code"] == "rc-999"


async def test_fail_next_rate_limit(fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    tok = await token(http, fake)
    fake.fail_next("/cgi-bin/message/send", 45009, count=2, errmsg="api freq out of limit")
    for _ in range(2):
        answer = await post(http, fake, "/cgi-bin/message/send", tok, text("hi"))
        assert answer == {"errcode": 45009, "errmsg": "api freq out of limit"}
    assert (await post(http, fake, "/cgi-bin/message/send", tok, text("hi")))["errcode"] == 0
    assert len(fake.sent()) == 1 and len(fake.calls) == 4
    fake.fail_next("/cgi-bin/gettoken", 45009)
    assert (await get_token(http, fake))["errcode"] == 45009
    assert (await get_token(http, fake))["errcode"] == 0


async def test_media_upload_then_send(fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
    tok = await token(http, fake)
    form = aiohttp.FormData()
    form.add_field("media", b"a,b\n1,2\n", filename="report.csv", content_type="text/csv")
    url = f"{fake.base_url}/cgi-bin/media/upload"
    async with http.post(url, params={"access_token": tok, "type": "file"}, data=form) as resp:
        answer = await resp.json()
    assert answer["errcode"] == 0 and answer["type"] == "file" and answer["created_at"].isdigit()
    media_id = answer["media_id"]
    assert fake.media[media_id] == {"type": "file", "filename": "report.csv", "data": b"a,b\n1,2\n"}
    assert fake.calls[-1].path == "/cgi-bin/media/upload" and fake.calls[-1].body is None
    body = {"touser": USER, "msgtype": "file", "agentid": fake.agent_id, "file": {"media_id": media_id}}
    assert (await post(http, fake, "/cgi-bin/message/send", tok, body))["errcode"] == 0
    bad = {**body, "file": {"media_id": "nope"}}
    assert (await post(http, fake, "/cgi-bin/message/send", tok, bad))["errcode"] == 40007
    async with http.post(url, params={"access_token": tok, "type": "voice"}, data=b"x") as resp:
        assert (await resp.json())["errcode"] == 40004
