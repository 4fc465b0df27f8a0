"""A fake WeCom 微信客服 (kf, customer-service) API server for tests.

An aiohttp server bound to 127.0.0.1 on a free port, in the style of :mod:`tests.fakes.wecom_api` (it subclasses
:class:`FakeWeCom` for ``gettoken``, ``media/upload``, call recording and ``fail_next``). Like the real API it
always answers HTTP 200 and reports errors through ``errcode``/``errmsg``. It is deliberately strict: the bot's kf
channel must follow the real protocol to pass. Endpoints (all ``POST`` with ``?access_token=`` except gettoken):

- ``GET  /cgi-bin/gettoken?corpid=&corpsecret=``   (inherited)
- ``POST /cgi-bin/media/upload?type=image|file``     (inherited; media_ids for image/file/link sends)
- ``POST /cgi-bin/kf/sync_msg``            {cursor, token, limit, open_kfid}
- ``POST /cgi-bin/kf/send_msg``            {touser, open_kfid, msgid?, msgtype, <msgtype>: {...}}
- ``POST /cgi-bin/kf/send_msg_on_event``   {code, msgid?, msgtype text|msgmenu}
- ``POST /cgi-bin/kf/add_contact_way``     {open_kfid, scene}
- ``POST /cgi-bin/kf/service_state/get``   {open_kfid, external_userid}
- ``POST /cgi-bin/kf/service_state/trans`` {open_kfid, external_userid, service_state, servicer_userid?}
- ``POST /cgi-bin/kf/get_corp_statistic``  {open_kfid, start_time, end_time}

The fake never posts callbacks. Test-side helpers make things happen and hand out what a callback would carry::

    kf = FakeWeComKf()
    await kf.start()
    kf.customer_says("wmUSER", "你好")                     # a message the bot must pull with sync_msg
    cb = kf.pending_callback()                            # KfCallback(token=..., open_kfid=..., create_time=...)
    params, body = encrypt_callback(crypto, kf.callback_plaintext(cb))
    ... post to the bot, bot calls sync_msg with cb.token, then send_msg ...
    assert kf.sent_to("wmUSER")[0]["text"]["content"] == "..."
    assert kf.max_in_window() <= 5 and not kf.refusals()
    await kf.stop()

Clock: ``kf.now`` (settable) and ``kf.advance(seconds)`` drive every window and horizon (3-day sync horizon,
10-minute callback tokens, 48 h reply window, 20 s welcome codes, statistics days). It starts at real time and keeps
ticking with it; ``kf.advance`` only shifts it.

Protocol facts and where they come from
=======================================
Verified in the official docs (developer.work.weixin.qq.com, found with the ``search`` tool) or their mirrors:

- callback plaintext ``<xml><ToUserName/><CreateTime/><MsgType>event</MsgType><Event>kf_msg_or_event</Event>
  <Token/><OpenKfId/></xml>``; Token "10 分钟内有效"; without token sync_msg is "严格的频率限制" (doc 94670/94699).
- sync_msg: cursor ≤ 64 bytes, token ≤ 128 bytes, ``limit`` default and maximum 1000; without cursor it starts at
  the earliest message of the last 3 days; only the last 3 days are readable; messages sent through send_msg are
  never returned; answer {next_cursor, has_more 0/1, msg_list}; has_more may be 1 with an empty msg_list
  (:meth:`FakeWeComKf.inject_empty_page`). Message fields msgid/open_kfid/external_userid/send_time/origin
  (3 customer, 4 system event, 5 servicer), text.menu_id; for ``msgtype=event`` open_kfid/external_userid are NOT at
  the top level but inside ``event`` (SDK silenceper/wechat work/kf/syncmsg/message.go). Event types enter_session
  {scene, scene_param, welcome_code}, msg_send_fail {fail_msgid, fail_type 0,1,2,4,5,6,7,8,9,10},
  session_status_change {change_type 1 接入 / 2 转接 / 3 结束 / 4 重新接入, old/new_servicer_userid, msg_code}.
- send_msg: only while the session is 0 未处理 or 1 智能助手; within 48 h of the customer's message, at most 5
  messages, a new customer message renews it (doc 96427); text.content ≤ 2048 bytes; msgid optional, ≤ 32 bytes,
  ``[0-9a-zA-Z_-]*``, unique within the account, echoed back. Errcodes 95001 "发送客服消息次数限制" (over 5) and
  95002 "发送客服消息时间限制" (outside 48 h) are in the kf global error list (kancloud mirror of the kf docs);
  95018 "send msg session status invalid" is the real answer for a session in the wrong state (seen in real error
  reports); 95000 不合法的open_kfid (same error list).
- msgmenu: head_content ≤ 1024 bytes, list ≤ 10 items, click {id 1–64 B, content 1–128 B}, view {url 1–2048 B,
  content 1–1024 B}, miniprogram {appid 1–32 B, pagepath 1–1024 B, content 1–1024 B}, tail_content ≤ 1024 bytes
  (SDK comments quoting doc 94677); link {title, desc, url ≤ 2048 B with http(s), thumb_media_id} (SDK).
- send_msg_on_event (doc 96428): code usable once; welcome (enter_session) code 20 s, text|msgmenu; pool code 48 h
  text; 接入 code 48 h text; 结束 code 20 s text|msgmenu; non-welcome codes only while the session is still in the
  state that issued them; a welcome_code is only issued if the user "在过去48小时里未收过欢迎语,且未向客服发过消息".
- add_contact_way (doc 96416): scene ≤ 32 bytes ``[0-9a-zA-Z_-]*``; scene_param ≤ 128 bytes before urlencoding and
  only with a non-empty scene; url ``https://work.weixin.qq.com/kf/kfc…?enc_scene=…`` in the doc example (real
  console links use ``/kfid/kfc…``; the fake answers the ``/kfid/`` form of the brief).
- service_state (doc 94698): states 0–4, 4 = 已结束/未开始 (entered but not yet written), a customer message in
  state 4 makes it 0; servicer_userid required for 3 and must be an active servicer (95014); one session lasts
  48 h or until ended; trans returns msg_code when first moving to 2/3 and when ending (SDK servicestate.go).
- get_corp_statistic (doc 95492): open_kfid REQUIRED (the brief had it optional), times are floored to 00:00
  (China time), closed interval, span ≤ 31 days, from yesterday back to 180 days; fields session_cnt,
  customer_cnt, customer_msg_cnt, upgrade_service_customer_cnt, ai_session_reply_cnt, ai_transfer_rate,
  ai_knowledge_hit_rate, msg_rejected_customer_cnt (SDK statistic.go).

Global codes (WeCom global error list, also in go-workwx errcodes): 40058 不合法的参数, 44004 文本消息content
参数为空, 45002 消息内容大小超过限制, 40008 不合法的msgtype, 40007 不合法的media_id, 40096 不合法的外部联系人
userid, 45009 接口调用超过限制, 50100 分页查询的游标无效, 600018 无效的起始结束时间, 41051 externaluser has started
chatting (send_welcome_msg of 客户联系).

Taken from the brief or chosen here (not verified):

- 95007 for a wrong/expired sync_msg token ("不合法的msgtoken" appears only in third-party code comments);
  45009 after ``tokenless_limit`` calls without a token (the real limit is undocumented; counted since start).
- 95016 for a refused state transition (from memory); transitions allowed: 0→1,2,3,4; 1→2,3,4; 2→3,4; 3→3,4;
  4→nothing.
- unknown/used/expired event code → 40058; welcome rules broken (user wrote since entering, or had a welcome in the
  past 48 h) → 41051 (borrowed from send_welcome_msg); invalid cursor → 50100; statistics range → 600018;
  send to a user the fake never saw → 40096.
- msgmenu list must have at least one item; menu item ``type: text`` content 1–1024 bytes.
- statistics are computed from what the fake saw: customer_msg_cnt = origin-3 messages that day, customer_cnt =
  distinct customers who wrote, session_cnt = sessions started, ai_session_reply_cnt = sessions with an accepted
  send_msg that day, msg_rejected_customer_cnt = customers with a fail_type 10 event; the others are 0.
- :meth:`FakeWeComKf.add_history` only records messages (and statistics); it opens no reply window.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.wecom.crypto import WeComCrypto, signature

from .wecom_api import GETTOKEN, UPLOAD, FakeWeCom, WeComCall, _Reject

SYNC_MSG = "/cgi-bin/kf/sync_msg"
SEND_MSG = "/cgi-bin/kf/send_msg"
SEND_ON_EVENT = "/cgi-bin/kf/send_msg_on_event"
ADD_CONTACT_WAY = "/cgi-bin/kf/add_contact_way"
STATE_GET = "/cgi-bin/kf/service_state/get"
STATE_TRANS = "/cgi-bin/kf/service_state/trans"
CORP_STATISTIC = "/cgi-bin/kf/get_corp_statistic"

DAY = 86400
SYNC_HORIZON = 3 * DAY
CALLBACK_TOKEN_TTL = 600
REPLY_WINDOW = 48 * 3600
REPLY_BUDGET = 5
SESSION_LENGTH = 48 * 3600
WELCOME_CODE_TTL = 20
WELCOME_COOLDOWN = 48 * 3600
SYNC_LIMIT_MAX = 1000
MAX_TEXT_BYTES = 2048
MAX_MENU_ITEMS = 10
MAX_MENU_TEXT_BYTES = 1024
MAX_SCENE_BYTES = 32
MAX_SCENE_PARAM_BYTES = 128
STAT_MAX_DAYS = 31
STAT_HORIZON_DAYS = 180
CHINA = dt.timezone(dt.timedelta(hours=8))

ORIGIN_CUSTOMER, ORIGIN_EVENT, ORIGIN_SERVICER = 3, 4, 5
STATE_NEW, STATE_BOT, STATE_POOL, STATE_HUMAN, STATE_ENDED = 0, 1, 2, 3, 4
TRANSITIONS: dict[int, frozenset[int]] = {
    STATE_NEW: frozenset({STATE_BOT, STATE_POOL, STATE_HUMAN, STATE_ENDED}),
    STATE_BOT: frozenset({STATE_POOL, STATE_HUMAN, STATE_ENDED}),
    STATE_POOL: frozenset({STATE_HUMAN, STATE_ENDED}),
    STATE_HUMAN: frozenset({STATE_HUMAN, STATE_ENDED}),
    STATE_ENDED: frozenset(),
}
FAIL_TYPES = frozenset({0, 1, 2, 4, 5, 6, 7, 8, 9, 10})
FAIL_REJECTED = 10  # 用户拒收

SEND_MSGTYPES = frozenset({"text", "image", "voice", "video", "file", "link", "miniprogram", "msgmenu", "location"})
MEDIA_MSGTYPES = frozenset({"image", "voice", "video", "file"})

# errcodes (see the module docstring for which are verified)
ERR_BAD_PARAM = 40058
ERR_BAD_MSGTYPE = 40008
ERR_BAD_MEDIA = 40007
ERR_EMPTY_CONTENT = 44004
ERR_CONTENT_TOO_LONG = 45002
ERR_BAD_EXTERNAL_USER = 40096
ERR_FREQ_LIMIT = 45009
ERR_BAD_CURSOR = 50100
ERR_BAD_TIME_RANGE = 600018
ERR_WELCOME_REFUSED = 41051
ERR_BAD_OPEN_KFID = 95000
ERR_SEND_COUNT_LIMIT = 95001
ERR_SEND_TIME_LIMIT = 95002
ERR_BAD_MSG_TOKEN = 95007
ERR_SERVICER_INACTIVE = 95014
ERR_STATE_TRANSITION = 95016
ERR_SESSION_STATE = 95018
ERR_BAD_EVENT_CODE = ERR_BAD_PARAM

_MSGID = re.compile(r"[0-9a-zA-Z_-]*")
_ALNUM = string.ascii_letters + string.digits


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def _nbytes(value: str) -> int:
    return len(value.encode())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def day_start(ts: float) -> int:
    """00:00 China time of the day containing ``ts`` (how get_corp_statistic floors times)."""
    d = dt.datetime.fromtimestamp(ts, CHINA)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=CHINA).timestamp())


# ---------------------------------------------------------------------------------------------- callbacks


@dataclass(frozen=True)
class KfCallback:
    """What one kf_msg_or_event callback carries."""

    token: str
    open_kfid: str
    create_time: int


def callback_xml(corp_id: str, token: str, open_kfid: str, create_time: int) -> str:
    """The plaintext XML of a ``kf_msg_or_event`` callback (to be encrypted with WeComCrypto)."""
    return (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><CreateTime>{create_time}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
    )


def encrypt_callback(
    crypto: WeComCrypto,
    plain_xml: str,
    *,
    timestamp: str | None = None,
    nonce: str = "12345",
    agent_id: int | None = None,
    forge: bool = False,
) -> tuple[dict[str, str], bytes]:
    """Query parameters and body of an encrypted callback POST, built like tests/test_wecom.py does."""
    timestamp = timestamp or str(int(time.time()))
    encrypted = crypto.encrypt(plain_xml)
    sig = "0" * 40 if forge else signature(crypto.token, timestamp, nonce, encrypted)
    agent = f"<AgentID><![CDATA[{agent_id}]]></AgentID>" if agent_id is not None else ""
    body = (
        f"<xml><ToUserName><![CDATA[{crypto.receive_id}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>{agent}</xml>"
    )
    return {"msg_signature": sig, "timestamp": timestamp, "nonce": nonce}, body.encode()


async def post_callback(
    session: aiohttp.ClientSession, url: str, crypto: WeComCrypto, plain_xml: str, **kwargs: Any
) -> tuple[int, str]:
    """Encrypt ``plain_xml`` and POST it to the bot's callback ``url``; returns (status, response text)."""
    params, body = encrypt_callback(crypto, plain_xml, **kwargs)
    async with session.post(url, params=params, data=body) as response:
        return response.status, await response.text()


# ---------------------------------------------------------------------------------------------- state


@dataclass
class KfDelivery:
    """One accepted outgoing message."""

    msgid: str
    external_userid: str
    via: str  # "send_msg" or "send_msg_on_event"
    body: dict
    at: float
    session_start: float | None


@dataclass
class _Message:
    seq: int
    external_userid: str
    at: float
    msg: dict


@dataclass
class _EventCode:
    kind: str  # welcome | pool | accept | end
    external_userid: str
    issued_at: float
    ttl: float
    msgtypes: frozenset[str]
    state: int | None  # the session state the code is bound to (None for welcome)
    used: bool = False


@dataclass
class _User:
    external_userid: str
    state: int = STATE_ENDED
    servicer: str = ""
    session_start: float | None = None
    session_starts: list[float] = field(default_factory=list)
    last_customer_at: float | None = None
    sent_since_customer: int = 0
    entered_at: float | None = None
    last_welcome_at: float | None = None
    code_states: set[int] = field(default_factory=set)  # states already given a msg_code in this session


_CODE_RULES: dict[str, tuple[float, frozenset[str]]] = {
    "welcome": (WELCOME_CODE_TTL, frozenset({"text", "msgmenu"})),
    "pool": (48 * 3600, frozenset({"text"})),
    "accept": (48 * 3600, frozenset({"text"})),
    "end": (20, frozenset({"text", "msgmenu"})),
}
_STATE_CODE_KIND = {STATE_POOL: "pool", STATE_HUMAN: "accept", STATE_ENDED: "end"}


class FakeWeComKf(FakeWeCom):
    def __init__(
        self,
        corp_id: str = "ww1436e0e65a779aee",
        secret: str = "kf-test-secret",
        open_kfid: str = "wkAJ2GCAAAfakeKfAccount01",
        *,
        tokenless_limit: int = 3,
        servicers: tuple[str, ...] = ("servicer01",),
    ) -> None:
        super().__init__(corp_id=corp_id, secret=secret)
        self.open_kfid = open_kfid
        self.kfc_id = "kfc" + secrets.token_hex(8)
        self.tokenless_limit = tokenless_limit
        self.tokenless_calls = 0
        self.servicers: set[str] = set(servicers)
        self.deliveries: list[KfDelivery] = []
        self.callbacks: list[KfCallback] = []
        self.contact_ways: list[dict[str, str]] = []
        self._clock_offset = 0.0
        self._users: dict[str, _User] = {}
        self._messages: list[_Message] = []
        self._msg_seq = itertools.count(1)
        self._callback_tokens: dict[str, float] = {}  # token -> issued at (fake clock)
        self._cursors: dict[str, int] = {}  # opaque cursor -> position (last seq returned)
        self._codes: dict[str, _EventCode] = {}
        self._out_msgids: set[str] = set()
        self._rejections: list[tuple[str, float]] = []  # (external_userid, at) of fail_type 10
        self._empty_pages = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_get(GETTOKEN, self._wrap(self._gettoken))
        app.router.add_post(UPLOAD, self._wrap(self._upload, json_body=False))
        app.router.add_post(SYNC_MSG, self._wrap(self._sync_msg))
        app.router.add_post(SEND_MSG, self._wrap(self._send_msg))
        app.router.add_post(SEND_ON_EVENT, self._wrap(self._send_on_event))
        app.router.add_post(ADD_CONTACT_WAY, self._wrap(self._add_contact_way))
        app.router.add_post(STATE_GET, self._wrap(self._state_get))
        app.router.add_post(STATE_TRANS, self._wrap(self._state_trans))
        app.router.add_post(CORP_STATISTIC, self._wrap(self._corp_statistic))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = self._runner.addresses[0][1]

    # ------------------------------------------------------------------ clock

    @property
    def now(self) -> float:
        return time.time() + self._clock_offset

    @now.setter
    def now(self, value: float) -> None:
        self._clock_offset = value - time.time()

    def advance(self, seconds: float) -> None:
        self._clock_offset += seconds

    # ------------------------------------------------------------------ inspection

    def sent(self) -> list[dict]:
        """Bodies of every accepted send_msg and send_msg_on_event call, in order."""
        return [d.body for d in self.deliveries]

    def sent_to(self, external_userid: str, via: str | None = None) -> list[dict]:
        return [
            d.body for d in self.deliveries if d.external_userid == external_userid and (via is None or d.via == via)
        ]

    def welcomes_to(self, external_userid: str) -> list[dict]:
        return [
            d.body for d in self.deliveries if d.external_userid == external_userid and d.via == "send_msg_on_event"
        ]

    def refusals(self, errcode: int | None = None, path: str | None = None) -> list[WeComCall]:
        """Calls the fake answered with a non-zero errcode (optionally only ``errcode`` / ``path``)."""
        return [
            c
            for c in self.calls
            if c.response.get("errcode") not in (0, None)
            and (errcode is None or c.response.get("errcode") == errcode)
            and (path is None or c.path == path)
        ]

    def state_of(self, external_userid: str) -> int:
        return self._users[external_userid].state

    def max_in_window(self, external_userid: str | None = None) -> int:
        """The most send_msg messages a customer got after one of their messages, before their next message and
        within 48 h of it (the real limit is 5). Sends outside every window count as a window of their own."""
        users = [external_userid] if external_userid is not None else list(self._users)
        best = 0
        for uid in users:
            customer = sorted(m.at for m in self._messages if m.external_userid == uid and _is_customer(m))
            sends = sorted(d.at for d in self.deliveries if d.external_userid == uid and d.via == "send_msg")
            covered = 0
            for i, start in enumerate(customer):
                end = start + REPLY_WINDOW
                if i + 1 < len(customer):
                    end = min(end, customer[i + 1])
                n = sum(1 for s in sends if start <= s < end)
                covered += n
                best = max(best, n)
            best = max(best, len(sends) - covered)
        return best

    # ------------------------------------------------------------------ test-side helpers (what customers do)

    def customer_says(self, external_userid: str, text: str, menu_id: str | None = None) -> str:
        """A customer text message (menu_id: the customer clicked a click-item of a menu they were sent)."""
        content: dict[str, Any] = {"content": text}
        if menu_id is not None:
            if menu_id not in self._menu_ids_sent_to(external_userid):
                raise ValueError(f"no menu with click id {menu_id!r} was sent to {external_userid}")
            content["menu_id"] = menu_id
        return self.customer_sends(external_userid, "text", content)

    def customer_sends(self, external_userid: str, msgtype: str, content: dict[str, Any]) -> str:
        """Any customer message, e.g. ``customer_sends(uid, "image", {"media_id": "..."})``."""
        user = self._user(external_userid)
        now = self.now
        if user.state == STATE_ENDED or user.session_start is None or now - user.session_start >= SESSION_LENGTH:
            self._new_session(user, now)
        user.last_customer_at = now
        user.sent_since_customer = 0
        msgid = self._record(external_userid, now, ORIGIN_CUSTOMER, msgtype, dict(content))
        self._issue_callback()
        return msgid

    def customer_enters(self, external_userid: str, scene: str = "", scene_param: str | None = None) -> str | None:
        """The customer opens the chat (enter_session event). Returns the welcome_code, or None when the rules
        give none (a welcome in the past 48 h, or the customer wrote in the past 48 h)."""
        _check_scene(scene)
        if scene_param is not None and (not scene or _nbytes(scene_param) > MAX_SCENE_PARAM_BYTES):
            raise ValueError("scene_param needs a scene and at most 128 bytes")
        user = self._user(external_userid)
        now = self.now
        user.entered_at = now
        event: dict[str, Any] = {
            "event_type": "enter_session",
            "open_kfid": self.open_kfid,
            "external_userid": external_userid,
            "scene": scene,
        }
        if scene_param is not None:
            event["scene_param"] = scene_param
        welcome_ok = (user.last_welcome_at is None or now - user.last_welcome_at >= WELCOME_COOLDOWN) and (
            user.last_customer_at is None or now - user.last_customer_at >= WELCOME_COOLDOWN
        )
        code = self._new_code("welcome", user, None) if welcome_ok else None
        if code:
            event["welcome_code"] = code
        self._record_event(external_userid, now, event)
        self._issue_callback()
        return code

    def agent_says(self, external_userid: str, text: str, servicer_userid: str | None = None) -> str:
        """A human servicer writes from the WeCom client (origin 5). In state 4 this re-opens the session (→ 3)."""
        user = self._user(external_userid)
        if user.state == STATE_ENDED:
            self.set_state(external_userid, STATE_HUMAN, servicer_userid)
        servicer = servicer_userid or user.servicer or sorted(self.servicers)[0]
        msgid = self._record(external_userid, self.now, ORIGIN_SERVICER, "text", {"content": text}, servicer)
        self._issue_callback()
        return msgid

    def set_state(
        self, external_userid: str, state: int, servicer_userid: str | None = None, *, event: bool = True
    ) -> str | None:
        """Change the session state from outside the API (a human agent picks it up: 3; ends it: 4). With
        ``event`` a session_status_change event is queued. Returns its msg_code, if any."""
        if state not in TRANSITIONS:
            raise ValueError(f"no such service_state {state}")
        user = self._user(external_userid)
        old_state, old_servicer = user.state, user.servicer
        servicer = ""
        if state == STATE_HUMAN:
            servicer = servicer_userid or sorted(self.servicers)[0]
            self.servicers.add(servicer)
        user.state, user.servicer = state, servicer
        change_type = None
        if state == STATE_HUMAN:
            change_type = {STATE_HUMAN: 2, STATE_ENDED: 4}.get(old_state, 1)
        elif state == STATE_ENDED and old_state != STATE_ENDED:
            change_type = 3
        if not event or change_type is None:
            return None
        msg_code = None
        if change_type == 1:
            msg_code = self._new_code("accept", user, STATE_HUMAN)
        elif change_type == 3:
            msg_code = self._new_code("end", user, STATE_ENDED)
        payload: dict[str, Any] = {
            "event_type": "session_status_change",
            "open_kfid": self.open_kfid,
            "external_userid": external_userid,
            "change_type": change_type,
        }
        if change_type in (2, 3):
            payload["old_servicer_userid"] = old_servicer
        if change_type in (1, 2, 4):
            payload["new_servicer_userid"] = servicer
        if msg_code:
            payload["msg_code"] = msg_code
        self._record_event(external_userid, self.now, payload)
        self._issue_callback()
        return msg_code

    def fail_delivery(self, msgid: str, fail_type: int = 0) -> str:
        """A message the API accepted was not delivered: queue a msg_send_fail event (10 = 用户拒收)."""
        if fail_type not in FAIL_TYPES:
            raise ValueError(f"fail_type must be one of {sorted(FAIL_TYPES)}")
        delivery = next((d for d in self.deliveries if d.msgid == msgid), None)
        if delivery is None:
            raise ValueError(f"no accepted message with msgid {msgid!r}")
        now = self.now
        if fail_type == FAIL_REJECTED:
            self._rejections.append((delivery.external_userid, now))
        event = {
            "event_type": "msg_send_fail",
            "open_kfid": self.open_kfid,
            "external_userid": delivery.external_userid,
            "fail_msgid": msgid,
            "fail_type": fail_type,
        }
        event_msgid = self._record_event(delivery.external_userid, now, event)
        self._issue_callback()
        return event_msgid

    def add_history(self, external_userid: str, text: str, at: float, origin: int = ORIGIN_CUSTOMER) -> str:
        """An old message sent at ``at`` (fake-clock epoch seconds). Recorded for sync_msg (if within 3 days) and
        statistics only: it opens no reply window and changes no session state."""
        if origin not in (ORIGIN_CUSTOMER, ORIGIN_SERVICER):
            raise ValueError("history messages come from the customer (3) or a servicer (5)")
        user = self._user(external_userid)
        if origin == ORIGIN_CUSTOMER and not any(at - REPLY_WINDOW < s <= at for s in user.session_starts):
            user.session_starts.append(at)
        servicer = sorted(self.servicers)[0] if origin == ORIGIN_SERVICER else None
        return self._record(external_userid, at, origin, "text", {"content": text}, servicer)

    def pending_callback(self) -> KfCallback | None:
        """What the latest callback would carry (Token, OpenKfId), or None if nothing happened yet."""
        return self.callbacks[-1] if self.callbacks else None

    def callback_plaintext(self, callback: KfCallback | None = None) -> str:
        callback = callback or self.pending_callback()
        if callback is None:
            raise ValueError("no callback pending")
        return callback_xml(self.corp_id, callback.token, callback.open_kfid, callback.create_time)

    def inject_empty_page(self, count: int = 1) -> None:
        """The next ``count`` sync_msg calls answer has_more=1 with an empty msg_list (the docs allow it)."""
        self._empty_pages += count

    # ------------------------------------------------------------------ internals

    def _user(self, external_userid: str) -> _User:
        if not external_userid:
            raise ValueError("external_userid is empty")
        return self._users.setdefault(external_userid, _User(external_userid))

    def _new_session(self, user: _User, at: float) -> None:
        user.session_start = at
        user.session_starts.append(at)
        user.state, user.servicer = STATE_NEW, ""
        user.code_states = set()

    def _record(
        self, uid: str, at: float, origin: int, msgtype: str, content: dict, servicer: str | None = None
    ) -> str:
        msgid = f"from_msgid_{secrets.randbelow(10**18):018d}"
        msg: dict[str, Any] = {
            "msgid": msgid,
            "open_kfid": self.open_kfid,
            "external_userid": uid,
            "send_time": int(at),
            "origin": origin,
        }
        if servicer:
            msg["servicer_userid"] = servicer
        msg["msgtype"] = msgtype
        msg[msgtype] = content
        self._messages.append(_Message(next(self._msg_seq), uid, at, msg))
        return msgid

    def _record_event(self, uid: str, at: float, event: dict) -> str:
        msgid = f"event_msgid_{secrets.randbelow(10**18):018d}"
        # For msgtype=event, open_kfid and external_userid live inside "event", not at the top level.
        msg = {"msgid": msgid, "send_time": int(at), "origin": ORIGIN_EVENT, "msgtype": "event", "event": event}
        self._messages.append(_Message(next(self._msg_seq), uid, at, msg))
        return msgid

    def _issue_callback(self) -> KfCallback:
        token = "ENC" + _random(44)
        now = self.now
        self._callback_tokens[token] = now
        callback = KfCallback(token, self.open_kfid, int(now))
        self.callbacks.append(callback)
        return callback

    def _new_code(self, kind: str, user: _User, state: int | None) -> str:
        ttl, msgtypes = _CODE_RULES[kind]
        code = f"{kind.upper()}_CODE_" + _random(24)
        self._codes[code] = _EventCode(kind, user.external_userid, self.now, ttl, msgtypes, state)
        return code

    def _menu_ids_sent_to(self, uid: str) -> set[str]:
        ids = set()
        for body in self.sent_to(uid):
            if body.get("msgtype") == "msgmenu":
                for item in body["msgmenu"].get("list", []):
                    if item.get("type") == "click":
                        ids.add(item["click"]["id"])
        return ids

    def _cursor_for(self, position: int) -> str:
        cursor = _random(20)
        self._cursors[cursor] = position
        return cursor

    def _check_kfid(self, body: dict, required: bool = True) -> None:
        value = body.get("open_kfid")
        if value is None and not required:
            return
        if value != self.open_kfid:
            raise _Reject(ERR_BAD_OPEN_KFID, "invalid open_kfid")

    def _known_user(self, body: dict, key: str = "external_userid") -> _User:
        uid = body.get(key)
        if not isinstance(uid, str) or not uid:
            raise _Reject(ERR_BAD_PARAM, f"{key} missing")
        user = self._users.get(uid)
        if user is None:
            raise _Reject(ERR_BAD_EXTERNAL_USER, "invalid external_userid")
        return user

    def _check_msgid(self, body: dict) -> str | None:
        msgid = body.get("msgid")
        if msgid is None:
            return None
        if not isinstance(msgid, str) or not msgid or _nbytes(msgid) > 32 or not _MSGID.fullmatch(msgid):
            raise _Reject(ERR_BAD_PARAM, "invalid msgid: at most 32 bytes of [0-9a-zA-Z_-]")
        if msgid in self._out_msgids:
            raise _Reject(ERR_BAD_PARAM, "msgid already used in this kf account")
        return msgid

    def _check_payload(self, body: dict, allowed: frozenset[str]) -> str:
        msgtype = body.get("msgtype")
        if msgtype not in allowed:
            raise _Reject(ERR_BAD_MSGTYPE, "invalid msgtype")
        payload = body.get(msgtype)
        if not isinstance(payload, dict):
            raise _Reject(ERR_BAD_PARAM, f"{msgtype} missing")
        if msgtype == "text":
            content = payload.get("content")
            if not isinstance(content, str) or not content:
                raise _Reject(ERR_EMPTY_CONTENT, "empty content")
            if _nbytes(content) > MAX_TEXT_BYTES:
                raise _Reject(ERR_CONTENT_TOO_LONG, "content size out of limit (2048 bytes)")
        elif msgtype in MEDIA_MSGTYPES:
            self._check_media(payload.get("media_id"), msgtype)
        elif msgtype == "link":
            for key in ("title", "url", "thumb_media_id"):
                if not isinstance(payload.get(key), str) or not payload[key]:
                    raise _Reject(ERR_BAD_PARAM, f"link.{key} missing")
            url = payload["url"]
            if not url.startswith(("http://", "https://")) or _nbytes(url) > 2048:
                raise _Reject(ERR_BAD_PARAM, "link.url needs http(s):// and at most 2048 bytes")
            self._check_media(payload["thumb_media_id"], "image")
        elif msgtype == "msgmenu":
            _check_menu(payload)
        return msgtype

    def _check_media(self, media_id: Any, media_type: str) -> None:
        media = self.media.get(str(media_id))
        if media is None or media["type"] != media_type:
            raise _Reject(ERR_BAD_MEDIA, "invalid media_id")

    def _deliver(self, user: _User, via: str, body: dict, msgid: str | None) -> str:
        msgid = msgid or "kf" + _random(30)
        self._out_msgids.add(msgid)
        self.deliveries.append(KfDelivery(msgid, user.external_userid, via, body, self.now, user.session_start))
        return msgid

    # ------------------------------------------------------------------ endpoints

    async def _sync_msg(self, request: web.Request, query: dict, body: dict) -> dict:
        self._check_token(query)
        cursor = body.get("cursor") or ""
        token = body.get("token") or ""
        limit = body.get("limit", SYNC_LIMIT_MAX)
        if not isinstance(cursor, str) or _nbytes(cursor) > 64:
            raise _Reject(ERR_BAD_PARAM, "cursor: at most 64 bytes")
        if not isinstance(token, str) or _nbytes(token) > 128:
            raise _Reject(ERR_BAD_PARAM, "token: at most 128 bytes")
        if not _is_int(limit) or not 1 <= limit <= SYNC_LIMIT_MAX:
            raise _Reject(ERR_BAD_PARAM, "limit: 1..1000")
        self._check_kfid(body, required=False)
        now = self.now
        if token:
            issued = self._callback_tokens.get(token)
            if issued is None or now - issued > CALLBACK_TOKEN_TTL:
                raise _Reject(ERR_BAD_MSG_TOKEN, "invalid msg token (unknown or older than 10 minutes)")
        else:
            self.tokenless_calls += 1
            if self.tokenless_calls > self.tokenless_limit:
                raise _Reject(ERR_FREQ_LIMIT, "api freq out of limit (sync_msg without token)")
        if cursor and cursor not in self._cursors:
            raise _Reject(ERR_BAD_CURSOR, "invalid cursor")
        position = self._cursors.get(cursor, 0)
        if self._empty_pages > 0:
            self._empty_pages -= 1
            cursor = self._cursor_for(position)
            return {"errcode": 0, "errmsg": "ok", "next_cursor": cursor, "has_more": 1, "msg_list": []}
        horizon = now - SYNC_HORIZON
        newer = [m for m in self._messages if m.seq > position]
        visible = [m for m in newer if m.at >= horizon]
        page = visible[:limit]
        has_more = len(visible) > limit
        if page and has_more:
            position = page[-1].seq
        elif newer:
            position = newer[-1].seq
        return {
            "errcode": 0,
            "errmsg": "ok",
            "next_cursor": self._cursor_for(position),
            "has_more": int(has_more),
            "msg_list": [_copy(m.msg) for m in page],
        }

    async def _send_msg(self, request: web.Request, query: dict, body: dict) -> dict:
        self._check_token(query)
        self._check_kfid(body)
        user = self._known_user(body, "touser")
        self._check_payload(body, SEND_MSGTYPES)
        msgid = self._check_msgid(body)
        if user.state not in (STATE_NEW, STATE_BOT):
            raise _Reject(ERR_SESSION_STATE, "send msg session status invalid")
        if user.last_customer_at is None or self.now - user.last_customer_at >= REPLY_WINDOW:
            raise _Reject(ERR_SEND_TIME_LIMIT, "send msg time limit: 48 hours after the customer's last message")
        if user.sent_since_customer >= REPLY_BUDGET:
            raise _Reject(ERR_SEND_COUNT_LIMIT, "send msg count limit: 5 messages per customer message")
        user.sent_since_customer += 1
        return {"errcode": 0, "errmsg": "ok", "msgid": self._deliver(user, "send_msg", body, msgid)}

    async def _send_on_event(self, request: web.Request, query: dict, body: dict) -> dict:
        self._check_token(query)
        code = body.get("code")
        if not isinstance(code, str) or not code:
            raise _Reject(ERR_BAD_PARAM, "code missing")
        msgtype = self._check_payload(body, frozenset({"text", "msgmenu"}))
        msgid = self._check_msgid(body)
        entry = self._codes.get(code)
        if entry is None:
            raise _Reject(ERR_BAD_EVENT_CODE, "invalid code")
        if entry.used:
            raise _Reject(ERR_BAD_EVENT_CODE, "code already used")
        now = self.now
        if now - entry.issued_at > entry.ttl:
            raise _Reject(ERR_BAD_EVENT_CODE, "code expired")
        if msgtype not in entry.msgtypes:
            raise _Reject(ERR_BAD_MSGTYPE, f"msgtype {msgtype} not allowed for this code")
        user = self._users[entry.external_userid]
        if entry.kind == "welcome":
            if user.last_customer_at is not None and user.last_customer_at >= entry.issued_at:
                raise _Reject(ERR_WELCOME_REFUSED, "externaluser has started chatting")
            if user.last_welcome_at is not None and now - user.last_welcome_at < WELCOME_COOLDOWN:
                raise _Reject(ERR_WELCOME_REFUSED, "welcome msg already sent in the past 48 hours")
        elif user.state != entry.state:
            raise _Reject(ERR_SESSION_STATE, "send msg session status invalid")
        entry.used = True
        if entry.kind == "welcome":
            user.last_welcome_at = now
        return {"errcode": 0, "errmsg": "ok", "msgid": self._deliver(user, "send_msg_on_event", body, msgid)}

    async def _add_contact_way(self, request: web.Request, query: dict, body: dict) -> dict:
        self._check_token(query)
        self._check_kfid(body)
        scene = body.get("scene", "")
        if not isinstance(scene, str):
            raise _Reject(ERR_BAD_PARAM, "scene must be a string")
        try:
            _check_scene(scene)
        except ValueError as exc:
            raise _Reject(ERR_BAD_PARAM, str(exc)) from None
        url = f"https://work.weixin.qq.com/kfid/{self.kfc_id}"
        if scene:
            url += "?enc_scene=ENC" + _random(20)
        self.contact_ways.append({"scene": scene, "url": url})
        return {"errcode": 0, "errmsg": "ok", "url": url}

    async def _state_get(self, request: web.Request, query: dict, body: dict) -> dict:
        self._check_token(query)
        self._check_kfid(body)
        user = self._known_user(body)
        servicer = user.servicer if user.state == STATE_HUMAN else ""
        return {"errcode": 0, "errmsg": "ok", "service_state": user.state, "servicer_userid": servicer}

    async def _state_trans(self, request: web.Request, query: dict, body: dict) -> dict:
        self._check_token(query)
        self._check_kfid(body)
        user = self._known_user(body)
        target = body.get("service_state")
        if not _is_int(target) or target not in TRANSITIONS:
            raise _Reject(ERR_BAD_PARAM, "service_state: 0..4")
        if target not in TRANSITIONS[user.state]:
            raise _Reject(ERR_STATE_TRANSITION, f"service_state {user.state} -> {target} not allowed")
        servicer = ""
        if target == STATE_HUMAN:
            servicer = body.get("servicer_userid")
            if not isinstance(servicer, str) or not servicer:
                raise _Reject(ERR_BAD_PARAM, "servicer_userid required for service_state 3")
            if servicer not in self.servicers:
                raise _Reject(ERR_SERVICER_INACTIVE, "servicer not active")
        user.state, user.servicer = target, servicer
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        kind = _STATE_CODE_KIND.get(target)
        if kind and (target == STATE_ENDED or target not in user.code_states):
            user.code_states.add(target)
            answer["msg_code"] = self._new_code(kind, user, target)
        return answer

    async def _corp_statistic(self, request: web.Request, query: dict, body: dict) -> dict:
        self._check_token(query)
        self._check_kfid(body)
        start, end = body.get("start_time"), body.get("end_time")
        if not _is_int(start) or not _is_int(end) or start < 0 or end < 0:
            raise _Reject(ERR_BAD_PARAM, "start_time and end_time required")
        start, end = day_start(start), day_start(end)
        today = day_start(self.now)
        if start > end:
            raise _Reject(ERR_BAD_TIME_RANGE, "invalid start endtime: start after end")
        if end >= today:
            raise _Reject(ERR_BAD_TIME_RANGE, "invalid start endtime: today's data is not available yet")
        if start < today - STAT_HORIZON_DAYS * DAY:
            raise _Reject(ERR_BAD_TIME_RANGE, "invalid start endtime: more than 180 days ago")
        days = [start]
        while days[-1] < end:
            days.append(day_start(days[-1] + DAY + 3600))
        if len(days) > STAT_MAX_DAYS:
            raise _Reject(ERR_BAD_TIME_RANGE, "invalid start endtime: more than 31 days")
        return {
            "errcode": 0,
            "errmsg": "ok",
            "statistic_list": [{"stat_time": d, "statistic": self._day_statistic(d)} for d in days],
        }

    def _day_statistic(self, day: int) -> dict[str, Any]:
        def in_day(ts: float) -> bool:
            return day <= ts < day + DAY

        customer_msgs = [m for m in self._messages if _is_customer(m) and in_day(m.at)]
        sessions = sum(1 for u in self._users.values() for s in u.session_starts if in_day(s))
        replied = {
            (d.external_userid, d.session_start) for d in self.deliveries if d.via == "send_msg" and in_day(d.at)
        }
        rejected = {uid for uid, at in self._rejections if in_day(at)}
        return {
            "session_cnt": sessions,
            "customer_cnt": len({m.external_userid for m in customer_msgs}),
            "customer_msg_cnt": len(customer_msgs),
            "upgrade_service_customer_cnt": 0,
            "ai_session_reply_cnt": len(replied),
            "ai_transfer_rate": 0,
            "ai_knowledge_hit_rate": 0,
            "msg_rejected_customer_cnt": len(rejected),
        }


# ---------------------------------------------------------------------------------------------- validation


def _is_customer(message: _Message) -> bool:
    return message.msg.get("origin") == ORIGIN_CUSTOMER


def _copy(msg: dict) -> dict:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in msg.items()}


def _check_scene(scene: str) -> None:
    if _nbytes(scene) > MAX_SCENE_BYTES or not _MSGID.fullmatch(scene):
        raise ValueError("invalid scene: at most 32 bytes of [0-9a-zA-Z_-]")


def _bounded(item: dict, key: str, low: int, high: int, where: str) -> None:
    value = item.get(key)
    if not isinstance(value, str) or not low <= _nbytes(value) <= high:
        raise _Reject(ERR_BAD_PARAM, f"{where}.{key} must be {low}..{high} bytes")


def _check_menu(menu: dict) -> None:
    for key in ("head_content", "tail_content"):
        value = menu.get(key, "")
        if not isinstance(value, str) or _nbytes(value) > MAX_MENU_TEXT_BYTES:
            raise _Reject(ERR_BAD_PARAM, f"msgmenu.{key}: at most 1024 bytes")
    items = menu.get("list")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_MENU_ITEMS:
        raise _Reject(ERR_BAD_PARAM, "msgmenu.list: 1..10 items")
    for i, item in enumerate(items):
        where = f"msgmenu.list[{i}]"
        kind = item.get("type") if isinstance(item, dict) else None
        inner = item.get(kind) if kind else None
        if kind not in ("click", "view", "miniprogram", "text") or not isinstance(inner, dict):
            raise _Reject(ERR_BAD_PARAM, f"{where}: type click|view|miniprogram|text with its object")
        where = f"{where}.{kind}"
        if kind == "click":
            _bounded(inner, "id", 1, 64, where)
            _bounded(inner, "content", 1, 128, where)
        elif kind == "view":
            _bounded(inner, "url", 1, 2048, where)
            _bounded(inner, "content", 1, 1024, where)
        elif kind == "miniprogram":
            _bounded(inner, "appid", 1, 32, where)
            _bounded(inner, "pagepath", 1, 1024, where)
            _bounded(inner, "content", 1, 1024, where)
        else:
            _bounded(inner, "content", 1, 1024, where)
