"""A fake WeCom (企业微信) self-built-app API server for tests.

An aiohttp server bound to 127.0.0.1 that answers the few ``/cgi-bin`` endpoints the bot uses for active sending
(see /work/shared/telegram-wecom-notes.md §6.6). Like the real API it always answers HTTP 200 and reports errors
through ``errcode``/``errmsg``. Endpoints:

- ``GET  /cgi-bin/gettoken?corpid=&corpsecret=``
- ``POST /cgi-bin/message/send?access_token=``                  (text, markdown, template_card, image, file)
- ``POST /cgi-bin/message/update_template_card?access_token=``  (``response_code`` is single-use)
- ``POST /cgi-bin/media/upload?access_token=&type=image|file``   (multipart, part ``media``)

Usage::

    fake = FakeWeCom()
    await fake.start()
    client = WeComClient(base_url=fake.base_url, corp_id=fake.corp_id, secret=fake.secret, agent_id=fake.agent_id)
    ...
    assert fake.sent_to("zhangsan")[0]["text"]["content"] == "hi"
    await fake.stop()

Faults: :meth:`FakeWeCom.expire_tokens` (→ 42001), :attr:`FakeWeCom.invalid_users` (→ ``invaliduser`` / 81013)
and :meth:`FakeWeCom.fail_next` (e.g. 45009 "api freq out of limit").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

HOST = "127.0.0.1"
MAX_CONTENT_BYTES = 2048
MAX_BUTTONS = 6
MSGTYPES = frozenset({"text", "markdown", "template_card", "image", "file"})
MEDIA_TYPES = frozenset({"image", "file"})
# Card types that call back and therefore need a unique task_id.
INTERACTIVE_CARDS = frozenset({"button_interaction", "vote_interaction", "multiple_interaction"})

GETTOKEN = "/cgi-bin/gettoken"
SEND = "/cgi-bin/message/send"
UPDATE_CARD = "/cgi-bin/message/update_template_card"
UPLOAD = "/cgi-bin/media/upload"


@dataclass
class WeComCall:
    path: str  # e.g. "/cgi-bin/message/send"
    query: dict  # URL query parameters (access_token, corpid, corpsecret ...)
    body: dict | None  # parsed JSON body (POST) or None
    at: float  # time.monotonic()
    response: dict  # what the fake answered


def _err(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg}


class _Reject(Exception):
    """Raised inside a handler to answer with an errcode."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errcode, errmsg)
        self.answer = _err(errcode, errmsg)


class FakeWeCom:
    def __init__(
        self, corp_id: str = "ww1436e0e65a779aee", secret: str = "test-secret", agent_id: int = 1000002
    ) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.port = 0
        self.calls: list[WeComCall] = []
        self.tokens_issued = 0
        self.invalid_users: set[str] = set()
        self.media: dict[str, dict[str, Any]] = {}  # media_id -> {"type", "filename", "data"}
        self._tokens: dict[str, bool] = {}  # token -> still valid
        self._task_ids: set[str] = set()
        self._response_codes: set[str] = set()  # issued and not used yet
        self._faults: dict[str, list[list[Any]]] = {}  # path -> [[errcode, errmsg, remaining], ...]
        self._seq = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_get(GETTOKEN, self._wrap(self._gettoken))
        app.router.add_post(SEND, self._wrap(self._send))
        app.router.add_post(UPDATE_CARD, self._wrap(self._update_card))
        app.router.add_post(UPLOAD, self._wrap(self._upload, json_body=False))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ inspection and faults

    def sent(self) -> list[dict]:
        return [c.body for c in self.calls if c.path == SEND and c.body is not None and c.response.get("errcode") == 0]

    def sent_to(self, userid: str) -> list[dict]:
        return [b for b in self.sent() if userid in str(b.get("touser", "")).split("|")]

    def expire_tokens(self) -> None:
        for token in self._tokens:
            self._tokens[token] = False

    def fail_next(self, path: str, errcode: int, count: int = 1, errmsg: str = "injected") -> None:
        self._faults.setdefault(path, []).append([errcode, errmsg, count])

    async def wait_sent(self, count: int, timeout: float = 5.0) -> list[dict]:  # noqa: ASYNC109 (agreed API)
        deadline = time.monotonic() + timeout
        while len(sent := self.sent()) < count:
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"expected {count} sent messages within {timeout}s, got {len(sent)}: {sent}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return sent

    # ------------------------------------------------------------------ plumbing

    def _wrap(self, handler, json_body: bool = True):
        async def route(request: web.Request) -> web.Response:
            query, body = dict(request.query), None
            try:
                if json_body and request.method == "POST":
                    try:
                        body = json.loads(await request.read() or b"null")
                    except (ValueError, UnicodeDecodeError):
                        raise _Reject(47001, "data format error") from None
                    if not isinstance(body, dict):
                        body = None
                        raise _Reject(47001, "data format error")
                self._injected_fault(request.path)
                answer = await handler(request, query, body)
            except _Reject as exc:
                answer = exc.answer
            self.calls.append(WeComCall(request.path, query, body, time.monotonic(), answer))
            self._changed.set()
            return web.json_response(answer)

        return route

    def _injected_fault(self, path: str) -> None:
        faults = self._faults.get(path)
        if faults:
            fault = faults[0]
            fault[2] -= 1
            if fault[2] <= 0:
                faults.pop(0)
            raise _Reject(fault[0], fault[1])

    def _check_token(self, query: dict) -> None:
        token = query.get("access_token")
        if not token:
            raise _Reject(41001, "access_token missing")
        if token not in self._tokens:
            raise _Reject(40014, "invalid access_token")
        if not self._tokens[token]:
            raise _Reject(42001, "access_token expired")

    def _check_agent(self, body: dict) -> None:
        if body.get("agentid") is None or str(body.get("agentid")) != str(self.agent_id):
            raise _Reject(40056, "invalid agentid")

    # ------------------------------------------------------------------ endpoints

    async def _gettoken(self, request: web.Request, query: dict, body: None) -> dict:
        if query.get("corpid") != self.corp_id:
            raise _Reject(40013, "invalid corpid")
        if query.get("corpsecret") != self.secret:
            raise _Reject(40001, "invalid credential")
        self.tokens_issued += 1
        token = f"tok-{self.tokens_issued}"
        self._tokens[token] = True
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    async def _send(self, request: web.Request, query: dict, body: dict | None) -> dict:
        self._check_token(query)
        if body is None:
            raise _Reject(47001, "data format error")
        msgtype = body.get("msgtype")
        if msgtype not in MSGTYPES:
            raise _Reject(40008, "invalid message type")
        self._check_agent(body)
        users = [u for u in str(body.get("touser") or "").split("|") if u]
        if not users:
            raise _Reject(40031, "invalid user list")
        payload = body.get(msgtype)
        if not isinstance(payload, dict):
            raise _Reject(40058, f"{msgtype} missing")
        if msgtype in ("text", "markdown"):
            content = payload.get("content")
            if not isinstance(content, str) or not content or len(content.encode()) > MAX_CONTENT_BYTES:
                raise _Reject(44004, "empty content or content size out of limit")
        elif msgtype in MEDIA_TYPES:
            media = self.media.get(str(payload.get("media_id")))
            if media is None or media["type"] != msgtype:
                raise _Reject(40007, "invalid media_id")
        task_id = self._check_card(payload) if msgtype == "template_card" else None
        invalid = [u for u in users if u in self.invalid_users]
        if len(invalid) == len(users):
            return {**_err(81013, "user & party & tag all invalid"), "invaliduser": "|".join(invalid)}
        if task_id is not None:
            self._task_ids.add(task_id)
        n = next(self._seq)
        self._response_codes.add(f"rc-{n}")
        return {
            "errcode": 0,
            "errmsg": "ok",
            "invaliduser": "|".join(invalid),
            "unlicenseduser": "",
            "msgid": f"msg-{n}",
            "response_code": f"rc-{n}",
        }

    def _check_card(self, card: dict) -> str | None:
        card_type = card.get("card_type")
        if not card_type:
            raise _Reject(40058, "template_card.card_type missing")
        if card_type not in INTERACTIVE_CARDS:
            return None
        task_id = card.get("task_id")
        if not isinstance(task_id, str) or not task_id or task_id in self._task_ids:
            raise _Reject(42014, "invalid task_id: empty or already used")
        if card_type == "button_interaction":
            buttons = card.get("button_list")
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
                raise _Reject(40058, f"button_list needs 1..{MAX_BUTTONS} buttons")
            for button in buttons:
                if not isinstance(button, dict) or not button.get("text") or not button.get("key"):
                    raise _Reject(40058, "every button needs text and key")
        return task_id

    async def _update_card(self, request: web.Request, query: dict, body: dict | None) -> dict:
        self._check_token(query)
        if body is None:
            raise _Reject(47001, "data format error")
        if "agentid" in body:
            self._check_agent(body)
        code = body.get("response_code")
        if code not in self._response_codes:
            raise _Reject(40098, "invalid response_code: unknown or already used")
        self._response_codes.discard(code)
        return _err(0, "ok")

    async def _upload(self, request: web.Request, query: dict, body: None) -> dict:
        self._check_token(query)
        media_type = query.get("type")
        if media_type not in MEDIA_TYPES:
            raise _Reject(40004, "invalid media type")
        if not request.content_type.startswith("multipart/"):
            raise _Reject(44001, "empty media data")
        data, filename = None, None
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if getattr(part, "name", None) == "media":
                filename, data = part.filename, await part.read()  # type: ignore[union-attr]
        if not data:
            raise _Reject(44001, "empty media data")
        media_id = f"media-{next(self._seq)}"
        self.media[media_id] = {"type": media_type, "filename": filename, "data": bytes(data)}
        return {
            "errcode": 0,
            "errmsg": "ok",
            "type": media_type,
            "media_id": media_id,
            "created_at": str(int(time.time())),
        }
