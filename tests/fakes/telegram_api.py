"""A fake Telegram Bot API server for tests of the python-telegram-bot 22.8 bot.

It is an aiohttp server bound to 127.0.0.1 and speaks the wire format PTB 22.8 uses (see
/work/shared/telegram-wecom-notes.md §2): form-encoded POSTs whose non-string fields are JSON-encoded,
multipart uploads, and also plain JSON bodies. Answers carry the fields PTB 22.8 insists on
(``is_bot`` in getMe, dates in unix seconds, Bot API 10.0 poll fields, ...).

It is deliberately strict where real Telegram is strict and a bot can get it wrong: malformed HTML
with ``parse_mode=HTML``, texts over 4096 characters, callback_data over 64 bytes, editing a message to
the same content, editing a message that does not exist. Tests feed updates with :meth:`FakeTelegram.send_text`
and friends and read what the bot did from :attr:`FakeTelegram.calls` / :meth:`FakeTelegram.sent`.

In process::

    fake = FakeTelegram()
    await fake.start()
    bot = telegram.Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)

Out of process (benchmarks): ``python -m tests.fakes.telegram_api --port 8081 [--rate-limit 30] [--chat-limits]``
plus the ``/_ctl/enqueue``, ``/_ctl/stats``, ``/_ctl/reset``, ``/_ctl/faults`` (and ``/_ctl/sent``; with
``?status=any`` it lists failed calls too) endpoints.

Telegram's limits, off unless asked for (429 with ``retry_after`` beyond them; only ``send*`` calls count):
``rate_limit`` = N sends in any sliding second overall; ``chat_limits`` = about 1 a second to one chat with
short bursts (a bucket of ``CHAT_BURST``) and 20 in any minute to one group (negative chat ids).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import ipaddress
import itertools
import json
import math
import mimetypes
import re
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

HOST = "127.0.0.1"
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_UPDATES_PER_CALL = 100
CHAT_BURST = 5  # sends to one chat back to back before its 1-a-second limit applies
CHAT_RATE = 1.0  # sends per second to one chat, sustained
GROUP_PER_MINUTE = 20

# Form fields that are strings in the Bot API: never JSON-decode them ("123" must stay "123").
STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "question",
        "explanation",
        "data",
        "url",
        "secret_token",
        "parse_mode",
        "question_parse_mode",
        "explanation_parse_mode",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "file_id",
        "title",
        "description",
        "short_description",
        "name",
        "action",
        "emoji",
        "language_code",
        "ip_address",
        "photo",
        "document",
        "audio",
        "video",
        "animation",
        "voice",
        "video_note",
        "sticker",
        "thumbnail",
        "first_name",
        "last_name",
        "phone_number",
        "address",
        "custom_title",
        "payload",
        "currency",
        "provider_token",
        "start_parameter",
        "query",
        "next_offset",
        "game_short_name",
        "type",
        "format",
        "set_name",
        "sticker_set_name",
    }
)

# Update types Telegram leaves out unless allowed_updates asks for them.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
BUTTON_ACTION_KEYS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
BLOCKED_DESCRIPTION = "Forbidden: bot was blocked by the user"


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _norm_chat_id(value: Any) -> Any:
    """Chat ids arrive as int (form/JSON) or as a numeric string from loose clients: make them ints."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lstrip("-").isdigit():
            return int(stripped)
        return stripped
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _norm_int(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


# --------------------------------------------------------------------------------------------------
# HTML parse_mode
# --------------------------------------------------------------------------------------------------


class EntityParseError(ValueError):
    """Raised by :func:`parse_html`; the fake answers 400 "Bad Request: can't parse entities: <message>"."""


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPECIAL_RE = re.compile(r"[<&]")
_CHAR_REF_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([a-zA-Z][a-zA-Z0-9]*));")
_TAG_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_-]*")


def parse_html(text: str) -> tuple[str, list[dict]]:
    """Parse Telegram-flavoured HTML into (plain text, entities with UTF-16 offsets), strictly.

    Only the tags Telegram documents are allowed; every tag must be closed in order; a ``<`` that
    does not start a tag and a ``&`` that does not start ``&lt;``, ``&gt;``, ``&amp;``, ``&quot;`` or a
    numeric reference are errors.
    """
    out: list[str] = []
    entities: list[dict] = []
    stack: list[tuple[str, int, dict[str, str]]] = []
    pos = 0  # UTF-16 offset in the plain text
    i = 0
    n = len(text)

    def at(index: int) -> int:
        return len(text[:index].encode("utf-8"))

    while i < n:
        match = _SPECIAL_RE.search(text, i)
        j = match.start() if match else n
        if j > i:
            chunk = text[i:j]
            out.append(chunk)
            pos += _utf16_len(chunk)
            i = j
            continue
        if text[i] == "&":
            ref = _CHAR_REF_RE.match(text, i)
            if ref is None:
                raise EntityParseError(f"Character '&' at byte offset {at(i)} does not start an HTML entity")
            if ref.group(3) is not None:
                char = _NAMED_ENTITIES.get(ref.group(3))
                if char is None:
                    raise EntityParseError(f'Unsupported HTML entity "&{ref.group(3)};" at byte offset {at(i)}')
            else:
                code = int(ref.group(1)) if ref.group(1) is not None else int(ref.group(2), 16)
                if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise EntityParseError(f"Invalid character reference at byte offset {at(i)}")
                char = chr(code)
            out.append(char)
            pos += _utf16_len(char)
            i = ref.end()
            continue
        # text[i] == "<"
        if text.startswith("</", i):
            name_match = _TAG_NAME_RE.match(text, i + 2)
            name = name_match.group().lower() if name_match else ""
            k = name_match.end() if name_match else i + 2
            while k < n and text[k].isspace():
                k += 1
            if k >= n or text[k] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {at(i)}")
            if not stack:
                raise EntityParseError(f'Unexpected end tag "</{name}>" at byte offset {at(i)}')
            open_name, start, attrs = stack.pop()
            if name != open_name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {at(i)}, expected "</{open_name}>", found "</{name}>"'
                )
            _close_entity(open_name, start, pos - start, attrs, stack, entities)
            i = k + 1
            continue
        name_match = _TAG_NAME_RE.match(text, i + 1)
        if name_match is None:
            raise EntityParseError(f"Character '<' at byte offset {at(i)} does not start a tag; escape it as &lt;")
        name = name_match.group().lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {at(i)}')
        k = name_match.end()
        attrs: dict[str, str] = {}
        while True:
            while k < n and text[k].isspace():
                k += 1
            if k >= n:
                raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {at(i)}')
            if text[k] == ">":
                k += 1
                break
            attr_match = _ATTR_NAME_RE.match(text, k)
            if attr_match is None:
                raise EntityParseError(f'Invalid attribute in the tag "{name}" at byte offset {at(k)}')
            attr = attr_match.group().lower()
            k = attr_match.end()
            while k < n and text[k].isspace():
                k += 1
            value = ""
            if k < n and text[k] == "=":
                k += 1
                while k < n and text[k].isspace():
                    k += 1
                if k >= n:
                    raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {at(i)}')
                if text[k] in "\"'":
                    end = text.find(text[k], k + 1)
                    if end < 0:
                        raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {at(i)}')
                    value = html.unescape(text[k + 1 : end])
                    k = end + 1
                else:
                    end = k
                    while end < n and not text[end].isspace() and text[end] != ">":
                        end += 1
                    value = html.unescape(text[k:end])
                    k = end
            attrs[attr] = value
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at(i)}')
        stack.append((name, pos, attrs))
        i = k
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_entity(
    name: str, offset: int, length: int, attrs: dict[str, str], stack: list, entities: list[dict]
) -> None:
    entity: dict[str, Any] = {"type": _HTML_TAGS[name], "offset": offset, "length": length}
    if name == "a":
        href = attrs.get("href")
        if not href:
            return
        entity["url"] = href
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif name == "code":
        language = attrs.get("class", "")
        if stack and stack[-1][0] == "pre" and language.startswith("language-"):
            stack[-1][2]["\0language"] = language[len("language-") :]
            return
    elif name == "pre" and attrs.get("\0language"):
        entity["language"] = attrs["\0language"]
    if length > 0:
        entities.append(entity)


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


@dataclass
class Call:
    method: str  # camelCase as sent (canonical spelling for known methods), e.g. "sendMessage"
    params: dict  # decoded params; uploads as {"filename": ..., "size": ..., "data": bytes}
    at: float  # time.monotonic() on arrival
    status: int  # HTTP status the fake answered with (0 while still in flight, 499 if the client went away)
    result: Any = None  # what the fake answered on success (e.g. the sent Message dict)


class _Upload(dict):
    """An uploaded file part: a plain {"filename", "size", "data"} dict that also remembers its content type."""

    content_type: str | None = None


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> bytes:
        payload: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            payload["parameters"] = self.parameters
        return json.dumps(payload, ensure_ascii=False).encode()


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _default_description(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}" if retry_after is not None else "Too Many Requests"
    if status == 403:
        return BLOCKED_DESCRIPTION
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        if "data" in value and isinstance(value.get("data"), bytes):
            return {k: v for k, v in value.items() if k != "data"}
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


# --------------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------------


class FakeTelegram:
    """In-process fake Bot API server. See the module docstring."""

    def __init__(self, token: str = "123456:TEST", bot_username: str = "PufaTestBot") -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = 7000001
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Pufa Test Bot",
            "username": bot_username,
        }
        self.port = 0
        self.base_url = ""
        self.base_file_url = ""

        self.calls: list[Call] = []
        self._calls_by_method: dict[str, list[Call]] = {}
        self._counts: dict[str, int] = {}
        self._ok_counts: dict[str, int] = {}
        self._status_counts: dict[int, int] = {}
        self.first_update_served_at: float | None = None
        self.last_send_at: float | None = None
        self.updates_served = 0

        # faults
        self.blocked: set[int] = set()
        self.rate_limit: float | None = None
        self.chat_limits = False  # per chat (bursts, then ~1/s) and per group (20/min), as Telegram does
        self.delay: float = 0.0
        self._faults: dict[str, deque[tuple[int, int | None, str | None]]] = {}
        self._send_window: deque[float] = deque()
        self._chat_buckets: dict[Any, tuple[float, float]] = {}  # chat id -> (tokens, at)
        self._group_windows: dict[Any, deque[float]] = {}

        # webhook
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None

        # state
        self._update_ids = itertools.count(100001)
        self._pending: deque[dict] = deque()
        self._allowed_updates: frozenset[str] | None = None  # None = Telegram's default
        self._updates_event = asyncio.Event()
        self._closing = False
        self._chats: dict[Any, dict] = {}
        self._username_chats: dict[str, int] = {}
        self._message_ids: dict[Any, int] = {}
        self._messages: dict[tuple[Any, int], dict] = {}
        self._last_bot_message: dict[Any, dict] = {}
        self._files: dict[str, dict] = {}
        self._files_by_path: dict[str, dict] = {}
        self._file_seq = itertools.count(1)
        self._polls: dict[str, dict] = {}
        self._poll_seq = itertools.count(5000000000000000001)
        self._callback_seq = itertools.count(900000000000000001)
        self.my_commands: dict[tuple[str, str], list[dict]] = {}

        self._runner: web.AppRunner | None = None

    # ---------------------------------------------------------------- lifecycle

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)
        app.router.add_post("/_ctl/enqueue", self._ctl_enqueue)
        app.router.add_get("/_ctl/stats", self._ctl_stats)
        app.router.add_post("/_ctl/reset", self._ctl_reset)
        app.router.add_post("/_ctl/faults", self._ctl_faults)
        app.router.add_get("/_ctl/sent", self._ctl_sent)
        return app

    async def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1:`port` (0 = any free port)."""
        if self._runner is not None:
            raise RuntimeError("FakeTelegram is already running")
        self._closing = False
        self._updates_event = asyncio.Event()
        if self._pending:
            self._updates_event.set()
        runner = web.AppRunner(self.make_app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, HOST, port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        self.base_url = f"http://{HOST}:{self.port}/bot"
        self.base_file_url = f"http://{HOST}:{self.port}/file/bot"

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._closing = True
        self._updates_event.set()  # long polls answer [] at once
        runner, self._runner = self._runner, None
        await runner.cleanup()

    # ---------------------------------------------------------------- inspection

    @staticmethod
    def _canonical(method: str) -> str:
        spec = _METHODS.get(method.lower())
        return spec[0] if spec else method

    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """Successful (HTTP 200) calls, optionally of one method and/or to one chat, in arrival order."""
        pool = self.calls if method is None else self._calls_by_method.get(self._canonical(method), [])
        if chat_id is None:
            return [c for c in pool if c.status == 200]
        return [c for c in pool if c.status == 200 and c.params.get("chat_id") == chat_id]

    def last_message(self, chat_id: int) -> dict | None:
        """The last Message dict the bot sent or edited in that chat."""
        return self._last_bot_message.get(_norm_chat_id(chat_id))

    def message(self, chat_id: int, message_id: int) -> dict | None:
        """The current state of one message in a chat (None if unknown or deleted)."""
        return self._messages.get((_norm_chat_id(chat_id), message_id))

    def get_commands(self, scope: dict | None = None, language_code: str = "") -> list[dict] | None:
        """Commands stored by setMyCommands for (scope, language_code); None if never set."""
        return self.my_commands.get((self._scope_key(scope), language_code or ""))

    def reset(self) -> None:
        """Forget calls, faults and queued updates (message ids, messages, files and the webhook stay)."""
        self.calls.clear()
        self._calls_by_method.clear()
        self._counts.clear()
        self._ok_counts.clear()
        self._status_counts.clear()
        self.first_update_served_at = None
        self.last_send_at = None
        self.updates_served = 0
        self.blocked.clear()
        self.rate_limit = None
        self.chat_limits = False
        self.delay = 0.0
        self._faults.clear()
        self._send_window.clear()
        self._chat_buckets.clear()
        self._group_windows.clear()
        self._pending.clear()

    def _summary(self, limit: int = 40) -> str:
        lines = [f"{len(self.calls)} calls, {len(self._pending)} updates pending"]
        for call in self.calls[-limit:]:
            params = call.params
            detail = ", ".join(
                f"{key}={str(params[key])[:60]!r}"
                for key in ("chat_id", "message_id", "text", "offset", "callback_query_id")
                if key in params
            )
            lines.append(f"  {call.method} -> {call.status} {detail}")
        return "\n".join(lines)

    async def wait_for(self, predicate: Callable[[FakeTelegram], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll until predicate(self) is true; on timeout raise AssertionError with a summary of the calls."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() >= deadline:
                raise AssertionError(f"condition not met within {timeout}s\n{self._summary()}")
            await asyncio.sleep(0.005)

    async def wait_sent(self, method: str, count: int, chat_id: int | None = None, timeout: float = 5.0) -> list[Call]:  # noqa: ASYNC109
        """Wait for at least `count` successful calls of `method` (to `chat_id`); return them all."""
        try:
            await self.wait_for(lambda f: len(f.sent(method, chat_id)) >= count, timeout)
        except AssertionError as exc:
            got = len(self.sent(method, chat_id))
            raise AssertionError(f"expected {count} x {method} (chat {chat_id}), got {got}; {exc}") from None
        return self.sent(method, chat_id)

    # ---------------------------------------------------------------- feeding updates

    def user(
        self, user_id: int, first_name: str = "Test", language_code: str | None = "zh-hans", username: str | None = None
    ) -> dict:
        """A User dict (and register the private chat with that user)."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        if username is not None:
            chat["username"] = username
        self._chats[user_id] = chat
        return user

    def group_chat(self, chat_id: int = -100123, title: str = "村民群") -> dict:
        chat = {"id": chat_id, "type": "supergroup" if str(chat_id).startswith("-100") else "group", "title": title}
        self._chats[chat_id] = chat
        return chat

    def _private_chat(self, user: dict) -> dict:
        chat = self._chats.get(user["id"])
        if chat is None or chat.get("type") != "private":
            chat = {"id": user["id"], "type": "private", "first_name": user.get("first_name", "Test")}
            self._chats[user["id"]] = chat
        return chat

    def _next_message_id(self, chat_id: Any) -> int:
        mid = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = mid
        return mid

    def _incoming(self, user: dict, chat: dict | None, fields: dict) -> dict:
        chat = chat if chat is not None else self._private_chat(user)
        self._chats.setdefault(chat["id"], chat)
        message = {
            "message_id": self._next_message_id(chat["id"]),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            **fields,
        }
        self._messages[(chat["id"], message["message_id"])] = message
        return message

    def send_update(self, update_fields: dict) -> dict:
        """Enqueue a raw update (update_id is assigned); return the full Update dict."""
        update = {"update_id": next(self._update_ids)}
        update.update((k, v) for k, v in update_fields.items() if k != "update_id")
        self._pending.append(update)
        self._updates_event.set()
        return update

    def send_text(self, user: dict, text: str, chat: dict | None = None) -> dict:
        """Enqueue a text message from `user` (in the private chat unless `chat` is given); return the Update."""
        fields: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            word = text.split(maxsplit=1)[0] if text.strip() else text
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(word)}]
        return self.send_update({"message": self._incoming(user, chat, fields)})

    def message_update(self, user: dict, chat: dict | None = None, **message_fields: Any) -> dict:
        """Enqueue a message update with arbitrary fields (sticker=..., photo=..., contact=...)."""
        return self.send_update({"message": self._incoming(user, chat, message_fields)})

    def press(self, user: dict, message: dict, data: str) -> dict:
        """Enqueue a callback_query for a button on a message the bot sent (its current state is attached)."""
        chat_id = message["chat"]["id"]
        current = self._messages.get((chat_id, message["message_id"]), message)
        query = {
            "id": str(next(self._callback_seq)),
            "from": user,
            "chat_instance": f"ci{chat_id}",
            "message": current,
            "data": data,
        }
        return self.send_update({"callback_query": query})

    def answer_poll(self, user: dict, poll_id: str, option_ids: list[int]) -> dict:
        """Enqueue a poll_answer (for a non-anonymous poll the bot sent); updates the poll's counts."""
        record = self._polls.get(poll_id)
        if record is None:
            raise ValueError(f"unknown poll {poll_id!r}")
        poll = record["poll"]
        if poll["is_anonymous"]:
            raise ValueError(
                "Telegram sends no poll_answer updates for anonymous polls; send it with is_anonymous=False"
            )
        if poll["is_closed"]:
            raise ValueError("the poll is closed")
        options = poll["options"]
        if any(not 0 <= i < len(options) for i in option_ids):
            raise ValueError(f"option ids {option_ids} out of range 0..{len(options) - 1}")
        if len(option_ids) > 1 and not poll["allows_multiple_answers"]:
            raise ValueError("the poll allows only one answer")
        previous = record["votes"].get(user["id"])
        if previous:
            for i in previous:
                options[i]["voter_count"] -= 1
        for i in option_ids:
            options[i]["voter_count"] += 1
        if option_ids:
            record["votes"][user["id"]] = list(option_ids)
        else:
            record["votes"].pop(user["id"], None)
        poll["total_voter_count"] = len(record["votes"])
        answer = {
            "poll_id": poll_id,
            "user": user,
            "option_ids": list(option_ids),
            "option_persistent_ids": [options[i]["persistent_id"] for i in option_ids],
        }
        return self.send_update({"poll_answer": answer})

    def add_file(self, data: bytes, file_name: str = "file.bin", mime_type: str | None = None) -> dict:
        """Register a file (e.g. a document a user sends) and return a Document dict for message_update()."""
        record = self._new_file(data, "documents", file_name, mime_type)
        return self._document_dict(record)

    # ---------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """Answer the next `count` calls of `method` ("*" = any method) with `status` and an error body."""
        if status < 300:
            raise ValueError("fail_next needs an error status")
        key = "*" if method == "*" else self._canonical(method).lower()
        queue = self._faults.setdefault(key, deque())
        queue.extend([(status, retry_after, description)] * count)

    def _take_fault(self, method_key: str) -> ApiError | None:
        queue = self._faults.get(method_key) or self._faults.get("*")
        if not queue:
            return None
        status, retry_after, description = queue.popleft()
        params = {"retry_after": retry_after} if retry_after is not None else None
        return ApiError(status, description or _default_description(status, retry_after), params)

    # ---------------------------------------------------------------- webhook push

    async def push_webhook(self, update: dict, secret: str | None = "use-registered") -> int:
        """POST `update` to the registered webhook (loopback only); return the HTTP status it answered."""
        if not self.webhook_url:
            raise RuntimeError("no webhook is set (call setWebhook first)")
        host = urlsplit(self.webhook_url).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"push_webhook only posts to loopback URLs, not {self.webhook_url!r}")
        headers = {"Content-Type": "application/json"}
        token = self.webhook_secret if secret == "use-registered" else secret
        if token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        update_id = update.get("update_id")
        if update_id is not None and self._pending:
            self._pending = deque(u for u in self._pending if u["update_id"] != update_id)
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout, trust_env=False) as session,
            session.post(self.webhook_url, data=json.dumps(update, ensure_ascii=False), headers=headers) as resp,
        ):
            await resp.read()
            return resp.status

    # ---------------------------------------------------------------- HTTP plumbing

    async def _read_params(self, request: web.Request) -> dict:
        params: dict[str, Any] = {}
        for key, value in request.query.items():
            params[key] = self._decode_form_value(key, value)
        if not request.body_exists:
            return params
        ctype = request.content_type
        if ctype == "application/json":
            raw = await request.read()
            if raw.strip():
                try:
                    data = json.loads(raw)
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                if not isinstance(data, dict):
                    raise _bad("JSON object expected")
                for key, value in data.items():
                    if key not in STRING_FIELDS and isinstance(value, str) and value[:1] in "[{":
                        with contextlib.suppress(ValueError):
                            value = json.loads(value)
                    params[key] = value
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    upload = _Upload(filename=value.filename, size=len(data), data=data)
                    upload.content_type = value.content_type
                    params[key] = upload
                else:
                    params[key] = self._decode_form_value(key, value)
        else:
            await request.read()  # e.g. PTB's empty application/octet-stream body for getMe
        if "chat_id" in params:
            params["chat_id"] = _norm_chat_id(params["chat_id"])
        return params

    @staticmethod
    def _decode_form_value(key: str, value: str) -> Any:
        if key in STRING_FIELDS:
            return value
        try:
            return json.loads(value)
        except ValueError:
            return value

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        bucket = self._calls_by_method.get(call.method)
        if bucket is None:
            bucket = self._calls_by_method[call.method] = []
        bucket.append(call)
        self._counts[call.method] = self._counts.get(call.method, 0) + 1

    def _finish(self, call: Call, status: int) -> None:
        call.status = status
        self._status_counts[status] = self._status_counts.get(status, 0) + 1
        if status == 200:
            self._ok_counts[call.method] = self._ok_counts.get(call.method, 0) + 1

    async def _handle_api(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        spec = _METHODS.get(name.lower())
        method = spec[0] if spec else name
        parse_error: ApiError | None = None
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            params, parse_error = {}, exc
        call = Call(method, params, time.monotonic(), 0)
        self._record(call)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if spec is None:
                raise ApiError(404, "Not Found: method not found")
            if parse_error is not None:
                raise parse_error
            result = await self._dispatch(spec, params)
        except ApiError as exc:
            self._finish(call, exc.status)
            return web.Response(body=exc.body(), status=exc.status, content_type="application/json")
        except asyncio.CancelledError:
            self._finish(call, 499)  # the client went away (e.g. a cancelled long poll)
            raise
        call.result = result
        self._finish(call, 200)
        body = json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode()
        return web.Response(body=body, content_type="application/json")

    async def _dispatch(self, spec: tuple[str, str, str], params: dict) -> Any:
        canonical, kind, handler_name = spec
        if kind and self.delay:
            await asyncio.sleep(self.delay)
        if self._faults:
            fault = self._take_fault(canonical.lower())
            if fault is not None:
                raise fault
        if kind:
            if params.get("chat_id") in self.blocked:
                raise ApiError(403, BLOCKED_DESCRIPTION)
            if kind == "send" and self.rate_limit:
                now = time.monotonic()
                window = self._send_window
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if len(window) >= self.rate_limit:
                    raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
                if self.chat_limits:
                    self._check_chat_limits(params.get("chat_id"), now)
                window.append(now)
            elif kind == "send" and self.chat_limits:
                self._check_chat_limits(params.get("chat_id"), time.monotonic())
        if canonical == "getUpdates":
            return await self._get_updates(params)
        result = getattr(self, handler_name)(params)
        if kind == "send":
            self.last_send_at = time.monotonic()
        return result

    def _check_chat_limits(self, chat_id: Any, now: float) -> None:
        """Telegram's per-chat limits: a burst, then ~1 message a second; 20 a minute to a group. Counts the send."""
        tokens, at = self._chat_buckets.get(chat_id, (float(CHAT_BURST), now))
        tokens = min(float(CHAT_BURST), tokens + (now - at) * CHAT_RATE)
        if tokens < 0.95:  # 50 ms of grace for the network between a careful sender and us
            wait = math.ceil((1 - tokens) / CHAT_RATE)
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        group = None
        if isinstance(chat_id, int) and chat_id < 0:
            group = self._group_windows.setdefault(chat_id, deque())
            while group and group[0] <= now - 60.0:
                group.popleft()
            if len(group) >= GROUP_PER_MINUTE:
                wait = max(1, math.ceil(group[0] + 60.0 - now))
                raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        self._chat_buckets[chat_id] = (max(tokens - 1, 0.0), now)
        if group is not None:
            group.append(now)

    async def _handle_download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        record = self._files_by_path.get(request.match_info["path"])
        if record is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=record["data"], content_type=record.get("mime_type") or "application/octet-stream")

    # ---------------------------------------------------------------- helpers for handlers

    @staticmethod
    def _require_chat(params: dict) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        return chat_id

    def _chat_for(self, chat_id: Any) -> dict:
        chat = self._chats.get(chat_id)
        if chat is not None:
            return chat
        if isinstance(chat_id, str):  # "@channelusername"
            numeric = self._username_chats.setdefault(chat_id, -1009000000000 - len(self._username_chats))
            chat = {"id": numeric, "type": "channel", "title": chat_id.lstrip("@"), "username": chat_id.lstrip("@")}
        elif chat_id > 0:
            chat = {"id": chat_id, "type": "private", "first_name": "Test"}
        elif str(chat_id).startswith("-100"):
            chat = {"id": chat_id, "type": "supergroup", "title": f"Chat {chat_id}"}
        else:
            chat = {"id": chat_id, "type": "group", "title": f"Chat {chat_id}"}
        self._chats[chat_id] = chat
        return chat

    def _bot_message(self, params: dict, fields: dict) -> dict:
        chat_id = params["chat_id"]
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat_for(chat_id),
            "date": int(time.time()),
        }
        reply = self._reply_target(params)
        if reply is not None:
            message["reply_to_message"] = reply
        message.update(fields)
        self._store_bot_message(chat_id, message)
        return message

    def _store_bot_message(self, chat_id: Any, message: dict) -> None:
        self._messages[(chat_id, message["message_id"])] = message
        self._last_bot_message[chat_id] = message

    def _reply_target(self, params: dict) -> dict | None:
        reply_parameters = params.get("reply_parameters")
        message_id = None
        chat_id = params["chat_id"]
        if isinstance(reply_parameters, dict):
            message_id = reply_parameters.get("message_id")
            chat_id = _norm_chat_id(reply_parameters.get("chat_id", chat_id))
        elif params.get("reply_to_message_id") is not None:
            message_id = params["reply_to_message_id"]
        if message_id is None:
            return None
        target = self._messages.get((chat_id, _norm_int(message_id)))
        if target is None:
            return None
        return {k: v for k, v in target.items() if k != "reply_to_message"}

    @staticmethod
    def _format(text: Any, parse_mode: Any, entities: Any) -> tuple[str, list[dict]]:
        text = "" if text is None else str(text)
        if not parse_mode:
            return text, list(entities) if isinstance(entities, list) else []
        mode = str(parse_mode).lower()
        if mode == "html":
            try:
                return parse_html(text)
            except EntityParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        if mode in ("markdown", "markdownv2"):
            return text, []  # not parsed by the fake: the text is kept as sent
        raise _bad(f"unsupported parse_mode {parse_mode!r}")

    def _text_fields(self, params: dict) -> dict:
        text, entities = self._format(params.get("text"), params.get("parse_mode"), params.get("entities"))
        if not text.strip():
            raise _bad("message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        fields: dict[str, Any] = {"text": text}
        if entities:
            fields["entities"] = entities
        return fields

    def _caption_fields(self, params: dict) -> dict:
        if params.get("caption") is None:
            return {}
        caption, entities = self._format(params["caption"], params.get("parse_mode"), params.get("caption_entities"))
        if len(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        fields: dict[str, Any] = {}
        if caption:
            fields["caption"] = caption
        if entities:
            fields["caption_entities"] = entities
        return fields

    @staticmethod
    def _check_markup(markup: Any) -> dict | None:
        """Validate reply_markup; return it if it is an inline keyboard (the only kind a Message carries)."""
        if markup is None or markup == "":
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                raise _bad("can't parse reply keyboard markup JSON object") from None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None  # reply keyboards / ForceReply / ReplyKeyboardRemove are not echoed in a Message
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad('can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                        raise _bad("BUTTON_DATA_INVALID")
                elif not BUTTON_ACTION_KEYS.intersection(button):
                    raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
        return markup

    def _editable(self, params: dict) -> tuple[Any, dict] | None:
        """The (chat_id, message) to edit; None for inline messages (not tracked)."""
        if params.get("inline_message_id") and params.get("chat_id") is None:
            return None
        chat_id = self._require_chat(params)
        message_id = _norm_int(params.get("message_id"))
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise _bad("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise _bad("message can't be edited")
        return chat_id, message

    def _apply_edit(self, chat_id: Any, old: dict, new: dict) -> dict:
        compared = ("text", "entities", "caption", "caption_entities", "reply_markup")
        if all(old.get(k) == new.get(k) for k in compared):
            raise _bad(
                "message is not modified: specified new message content and reply markup are exactly the same "
                "as a specified content and reply markup of the message"
            )
        new["edit_date"] = int(time.time())
        self._store_bot_message(chat_id, new)
        return new

    @staticmethod
    def _with(message: dict, fields: dict, drop: tuple[str, ...]) -> dict:
        new = {k: v for k, v in message.items() if k not in drop}
        new.update(fields)
        return new

    # files

    def _new_file(self, data: bytes, folder: str, file_name: str | None, mime_type: str | None) -> dict:
        n = next(self._file_seq)
        ext = ""
        if file_name and "." in file_name:
            ext = file_name[file_name.rfind(".") :]
        elif folder == "photos":
            ext = ".jpg"
        record = {
            "file_id": f"F{folder[:3].upper()}{n:08d}",
            "file_unique_id": f"U{n:08d}",
            "file_path": f"{folder}/file_{n}{ext}",
            "file_size": len(data),
            "data": data,
            "file_name": file_name,
            "mime_type": mime_type,
        }
        self._files[record["file_id"]] = record
        self._files_by_path[record["file_path"]] = record
        return record

    def _input_file(self, value: Any, folder: str, what: str) -> dict:
        if isinstance(value, dict) and isinstance(value.get("data"), bytes):
            name = value.get("filename") or None
            mime = getattr(value, "content_type", None)
            if not mime or mime == "application/octet-stream":
                mime = (mimetypes.guess_type(name)[0] if name else None) or mime
            return self._new_file(value["data"], folder, name, mime)
        if isinstance(value, str) and value:
            if value in self._files:
                return self._files[value]
            if value.startswith(("http://", "https://")):
                name = urlsplit(value).path.rsplit("/", 1)[-1] or None
                return self._new_file(b"", folder, name, mimetypes.guess_type(name)[0] if name else None)
            if value.startswith("attach://"):
                raise _bad(f"there is no {what} in the request")
            raise _bad("wrong file identifier/HTTP URL specified")
        raise _bad(f"there is no {what} in the request")

    @staticmethod
    def _document_dict(record: dict) -> dict:
        doc = {
            "file_id": record["file_id"],
            "file_unique_id": record["file_unique_id"],
            "file_size": record["file_size"],
        }
        if record.get("file_name"):
            doc["file_name"] = record["file_name"]
        if record.get("mime_type"):
            doc["mime_type"] = record["mime_type"]
        return doc

    def _photo_sizes(self, record: dict) -> list[dict]:
        thumb_id = record["file_id"] + "_s"
        self._files.setdefault(thumb_id, record)
        return [
            {
                "file_id": thumb_id,
                "file_unique_id": record["file_unique_id"] + "s",
                "file_size": record["file_size"],
                "width": 90,
                "height": 90,
            },
            {
                "file_id": record["file_id"],
                "file_unique_id": record["file_unique_id"],
                "file_size": record["file_size"],
                "width": 800,
                "height": 600,
            },
        ]

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if isinstance(scope, str):
            with contextlib.suppress(ValueError):
                scope = json.loads(scope)
        if not scope:
            scope = {"type": "default"}
        if isinstance(scope, dict) and "chat_id" in scope:
            scope = {**scope, "chat_id": _norm_chat_id(scope["chat_id"])}
        return json.dumps(scope, sort_keys=True, ensure_ascii=False)

    @staticmethod
    def _check_language(code: Any) -> str:
        code = code or ""
        if code and not (len(code) == 2 and code.isascii() and code.isalpha() and code.islower()):
            raise _bad("invalid language code specified (a two-letter ISO 639-1 code is expected)")
        return code

    # ---------------------------------------------------------------- API methods

    def _api_get_me(self, params: dict) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _deliverable(self, update: dict) -> bool:
        kind = next((k for k in update if k != "update_id"), None)
        if self._allowed_updates is None:
            return kind not in DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    def _set_allowed_updates(self, allowed: Any) -> None:
        if allowed is None:
            return
        if isinstance(allowed, str):
            with contextlib.suppress(ValueError):
                allowed = json.loads(allowed)
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else None

    def _collect(self, offset: Any, limit: int) -> list[dict]:
        pending = self._pending
        if isinstance(offset, int) and not isinstance(offset, bool):
            if offset < 0:
                while len(pending) > -offset:
                    pending.popleft()
            else:
                while pending and pending[0]["update_id"] < offset:
                    pending.popleft()
        out: list[dict] = []
        undeliverable = False
        for update in pending:
            if not self._deliverable(update):
                undeliverable = True
                continue
            out.append(update)
            if len(out) >= limit:
                break
        if undeliverable:  # Telegram never creates updates the bot did not ask for
            self._pending = deque(u for u in pending if self._deliverable(u))
        return out

    async def _get_updates(self, params: dict) -> list[dict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                "the webhook first",
            )
        offset = _norm_int(params.get("offset"))
        limit = _norm_int(params.get("limit"))
        limit = MAX_UPDATES_PER_CALL if not isinstance(limit, int) else max(1, min(limit, MAX_UPDATES_PER_CALL))
        timeout = params.get("timeout") or 0
        try:
            timeout = max(0.0, float(timeout))
        except (TypeError, ValueError):
            timeout = 0.0
        self._set_allowed_updates(params.get("allowed_updates"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = self._collect(offset, limit)
            if result or self._closing:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._updates_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._updates_event.wait(), remaining)
            if self.webhook_url:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
        if result:
            if self.first_update_served_at is None:
                self.first_update_served_at = time.monotonic()
            self.updates_served += len(result)
        return result

    def _api_set_webhook(self, params: dict) -> bool:
        url = params.get("url") or ""
        secret = params.get("secret_token")
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise _bad("bad webhook: invalid webhook URL specified")
        if secret is not None and secret != "" and not _SECRET_RE.fullmatch(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._set_allowed_updates(params.get("allowed_updates"))
        self.webhook_url = url or None
        self.webhook_secret = (str(secret) or None) if url and secret is not None else None
        self._updates_event.set()  # a waiting getUpdates answers 409
        return True

    def _api_delete_webhook(self, params: dict) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook_url = None
        self.webhook_secret = None
        return True

    def _api_get_webhook_info(self, params: dict) -> dict:
        info: dict[str, Any] = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = 40
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    def _api_send_message(self, params: dict) -> dict:
        self._require_chat(params)
        fields = self._text_fields(params)
        markup = self._check_markup(params.get("reply_markup"))
        if markup is not None:
            fields["reply_markup"] = markup
        return self._bot_message(params, fields)

    def _api_edit_message_text(self, params: dict) -> dict | bool:
        fields = self._text_fields(params)
        markup = self._check_markup(params.get("reply_markup"))
        target = self._editable(params)
        if target is None:
            return True
        chat_id, old = target
        if "text" not in old:
            raise _bad("there is no text in the message to edit")
        if markup is not None:
            fields["reply_markup"] = markup
        return self._apply_edit(chat_id, old, self._with(old, fields, ("text", "entities", "reply_markup")))

    def _api_edit_message_caption(self, params: dict) -> dict | bool:
        fields = self._caption_fields(params)
        markup = self._check_markup(params.get("reply_markup"))
        target = self._editable(params)
        if target is None:
            return True
        chat_id, old = target
        if "text" in old:
            raise _bad("there is no caption in the message to edit")
        if markup is not None:
            fields["reply_markup"] = markup
        return self._apply_edit(chat_id, old, self._with(old, fields, ("caption", "caption_entities", "reply_markup")))

    def _api_edit_message_reply_markup(self, params: dict) -> dict | bool:
        markup = self._check_markup(params.get("reply_markup"))
        target = self._editable(params)
        if target is None:
            return True
        chat_id, old = target
        fields = {"reply_markup": markup} if markup is not None else {}
        return self._apply_edit(chat_id, old, self._with(old, fields, ("reply_markup",)))

    def _api_delete_message(self, params: dict) -> bool:
        chat_id = self._require_chat(params)
        key = (chat_id, _norm_int(params.get("message_id")))
        if self._messages.pop(key, None) is None:
            raise _bad("message to delete not found")
        return True

    def _api_answer_callback_query(self, params: dict) -> bool:
        if not params.get("callback_query_id"):
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        return True

    def _api_send_photo(self, params: dict) -> dict:
        self._require_chat(params)
        record = self._input_file(params.get("photo"), "photos", "photo")
        fields: dict[str, Any] = {"photo": self._photo_sizes(record), **self._caption_fields(params)}
        markup = self._check_markup(params.get("reply_markup"))
        if markup is not None:
            fields["reply_markup"] = markup
        return self._bot_message(params, fields)

    def _api_send_document(self, params: dict) -> dict:
        self._require_chat(params)
        record = self._input_file(params.get("document"), "documents", "document")
        fields: dict[str, Any] = {"document": self._document_dict(record), **self._caption_fields(params)}
        markup = self._check_markup(params.get("reply_markup"))
        if markup is not None:
            fields["reply_markup"] = markup
        return self._bot_message(params, fields)

    def _api_get_file(self, params: dict) -> dict:
        record = self._files.get(str(params.get("file_id") or ""))
        if record is None:
            raise _bad("invalid file_id")
        return {
            "file_id": params["file_id"],
            "file_unique_id": record["file_unique_id"],
            "file_size": record["file_size"],
            "file_path": record["file_path"],
        }

    def _api_send_poll(self, params: dict) -> dict:
        self._require_chat(params)
        question = params.get("question")
        if not isinstance(question, str) or not question.strip():
            raise _bad("poll question must be non-empty")
        raw_options = params.get("options")
        if isinstance(raw_options, str):
            with contextlib.suppress(ValueError):
                raw_options = json.loads(raw_options)
        if not isinstance(raw_options, list):
            raise _bad("poll options must be an array")
        texts = [o.get("text") if isinstance(o, dict) else o for o in raw_options]
        if len(texts) < 2:
            raise _bad("poll must have at least 2 option")
        if len(texts) > 12:
            raise _bad("poll can't have more than 12 options")
        if not all(isinstance(t, str) and t.strip() for t in texts):
            raise _bad("poll options must be non-empty")
        poll_type = params.get("type") or "regular"
        if poll_type not in ("regular", "quiz"):
            raise _bad("wrong poll type specified")
        correct = params.get("correct_option_ids")
        if correct is None and params.get("correct_option_id") is not None:
            correct = [params["correct_option_id"]]
        poll_id = str(next(self._poll_seq))
        options = [{"text": t, "voter_count": 0, "persistent_id": f"{poll_id}-{i}"} for i, t in enumerate(texts)]
        is_anonymous = params.get("is_anonymous")
        poll: dict[str, Any] = {
            "id": poll_id,
            "question": question,
            "options": options,
            "total_voter_count": 0,
            "is_closed": bool(params.get("is_closed", False)),
            "is_anonymous": True if is_anonymous is None else bool(is_anonymous),
            "type": poll_type,
            "allows_multiple_answers": bool(params.get("allows_multiple_answers", False)),
            "allows_revoting": bool(params.get("allows_revoting", poll_type != "quiz")),
            "members_only": bool(params.get("members_only", False)),
        }
        if poll_type == "quiz":
            if not isinstance(correct, list) or not correct:
                raise _bad("quiz poll must have a correct option")
            if any(not isinstance(i, int) or not 0 <= i < len(texts) for i in correct):
                raise _bad("wrong correct option id specified")
            poll["correct_option_ids"] = correct
            if params.get("explanation"):
                poll["explanation"] = params["explanation"]
        for key in ("open_period", "close_date"):
            if params.get(key) is not None:
                poll[key] = params[key]
        fields: dict[str, Any] = {"poll": poll}
        markup = self._check_markup(params.get("reply_markup"))
        if markup is not None:
            fields["reply_markup"] = markup
        message = self._bot_message(params, fields)
        self._polls[poll_id] = {
            "poll": poll,
            "chat_id": params["chat_id"],
            "message_id": message["message_id"],
            "votes": {},
        }
        return message

    def _api_stop_poll(self, params: dict) -> dict:
        chat_id = self._require_chat(params)
        key = (chat_id, _norm_int(params.get("message_id")))
        message = self._messages.get(key)
        if message is None or "poll" not in message or message.get("from", {}).get("id") != self.bot_id:
            raise _bad("message with poll to stop not found")
        poll = self._polls[message["poll"]["id"]]["poll"]
        if poll["is_closed"]:
            raise _bad("poll has already been closed")
        poll["is_closed"] = True
        markup = self._check_markup(params.get("reply_markup"))
        new = self._with(message, {"reply_markup": markup} if markup else {}, ("reply_markup",))
        new["poll"] = poll
        self._messages[key] = new
        return poll

    def _api_set_my_commands(self, params: dict) -> bool:
        commands = params.get("commands")
        if isinstance(commands, str):
            with contextlib.suppress(ValueError):
                commands = json.loads(commands)
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("commands must be an array of at most 100 BotCommand")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        language = self._check_language(params.get("language_code"))
        key = (self._scope_key(params.get("scope")), language)
        if commands:
            self.my_commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        else:
            self.my_commands.pop(key, None)
        return True

    def _api_get_my_commands(self, params: dict) -> list[dict]:
        language = self._check_language(params.get("language_code"))
        return self.my_commands.get((self._scope_key(params.get("scope")), language), [])

    def _api_delete_my_commands(self, params: dict) -> bool:
        language = self._check_language(params.get("language_code"))
        self.my_commands.pop((self._scope_key(params.get("scope")), language), None)
        return True

    def _api_send_chat_action(self, params: dict) -> bool:
        self._require_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _api_true(self, params: dict) -> bool:
        return True

    # ---------------------------------------------------------------- out-of-process control

    async def _ctl_json(self, request: web.Request) -> dict:
        if not request.body_exists:
            return {}
        try:
            data = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="body must be JSON") from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text="body must be a JSON object")
        return data

    async def _ctl_enqueue(self, request: web.Request) -> web.Response:
        body = await self._ctl_json(request)
        ids: list[int] = []
        try:
            for item in body.get("texts", []):
                user = self.user(
                    item["user_id"],
                    item.get("first_name", "Test"),
                    item.get("language_code", "zh-hans"),
                    item.get("username"),
                )
                chat = None
                if item.get("chat_id") not in (None, item["user_id"]):
                    chat = self._chats.get(item["chat_id"]) or self.group_chat(item["chat_id"], item.get("title", "群"))
                ids.append(self.send_text(user, item["text"], chat)["update_id"])
            for item in body.get("presses", []):
                message = self._messages.get((item["chat_id"], item["message_id"]))
                if message is None:
                    raise web.HTTPBadRequest(text=f"no message {item['message_id']} in chat {item['chat_id']}")
                user = self.user(item["user_id"], item.get("first_name", "Test"), item.get("language_code", "zh-hans"))
                ids.append(self.press(user, message, item["data"])["update_id"])
            for item in body.get("poll_answers", []):
                user = self.user(item["user_id"], item.get("first_name", "Test"), item.get("language_code", "zh-hans"))
                ids.append(self.answer_poll(user, item["poll_id"], item["option_ids"])["update_id"])
            for item in body.get("updates", []):
                ids.append(self.send_update(item)["update_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"bad enqueue item: {exc!r}") from None
        return web.json_response({"ok": True, "enqueued": len(ids), "update_ids": ids})

    def stats(self) -> dict:
        return {
            "methods": dict(self._counts),
            "ok": dict(self._ok_counts),
            "statuses": {str(k): v for k, v in self._status_counts.items()},
            "count_429": self._status_counts.get(429, 0),
            "total_calls": len(self.calls),
            "first_update_served_at": self.first_update_served_at,
            "last_send_at": self.last_send_at,
            "updates_served": self.updates_served,
            "pending_updates": len(self._pending),
            "now": time.monotonic(),
            "clock": "time.monotonic",
        }

    async def _ctl_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    def _faults_state(self) -> dict:
        return {
            "blocked": sorted(self.blocked, key=str),
            "rate_limit": self.rate_limit,
            "chat_limits": self.chat_limits,
            "delay": self.delay,
            "fail_next": {k: len(v) for k, v in self._faults.items() if v},
        }

    async def _ctl_faults(self, request: web.Request) -> web.Response:
        body = await self._ctl_json(request)
        try:
            if "blocked" in body:
                self.blocked.clear()
                self.blocked.update(_norm_chat_id(c) for c in body["blocked"])
            if "rate_limit" in body:
                self.rate_limit = float(body["rate_limit"]) if body["rate_limit"] else None
            if "chat_limits" in body:
                self.chat_limits = bool(body["chat_limits"])
            if "delay" in body:
                self.delay = float(body["delay"] or 0)
            fail = body.get("fail_next") or []
            for item in [fail] if isinstance(fail, dict) else fail:
                self.fail_next(
                    item["method"],
                    int(item["status"]),
                    int(item.get("count", 1)),
                    item.get("retry_after"),
                    item.get("description"),
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"bad faults body: {exc!r}") from None
        return web.json_response({"ok": True, **self._faults_state()})

    async def _ctl_sent(self, request: web.Request) -> web.Response:
        method = request.query.get("method")
        chat_id = request.query.get("chat_id")
        calls = self.sent(method, _norm_chat_id(chat_id) if chat_id is not None else None)
        if request.query.get("status") == "any":  # failed calls too (e.g. when the 429s came)
            pool = self.calls if method is None else self._calls_by_method.get(self._canonical(method), [])
            wanted = _norm_chat_id(chat_id) if chat_id is not None else None
            calls = [c for c in pool if wanted is None or c.params.get("chat_id") == wanted]
        rows = [{"method": c.method, "params": _jsonable(c.params), "at": c.at, "status": c.status} for c in calls]
        return web.json_response(rows)


# lower-case name -> (canonical name, kind: "send"/"edit"/"", handler attribute)
_METHODS: dict[str, tuple[str, str, str]] = {
    name.lower(): (name, "send" if name.startswith("send") else "edit" if name.startswith("edit") else "", handler)
    for name, handler in (
        ("getMe", "_api_get_me"),
        ("getUpdates", ""),
        ("setWebhook", "_api_set_webhook"),
        ("deleteWebhook", "_api_delete_webhook"),
        ("getWebhookInfo", "_api_get_webhook_info"),
        ("sendMessage", "_api_send_message"),
        ("editMessageText", "_api_edit_message_text"),
        ("editMessageCaption", "_api_edit_message_caption"),
        ("editMessageReplyMarkup", "_api_edit_message_reply_markup"),
        ("deleteMessage", "_api_delete_message"),
        ("answerCallbackQuery", "_api_answer_callback_query"),
        ("sendPhoto", "_api_send_photo"),
        ("sendDocument", "_api_send_document"),
        ("getFile", "_api_get_file"),
        ("sendPoll", "_api_send_poll"),
        ("stopPoll", "_api_stop_poll"),
        ("setMyCommands", "_api_set_my_commands"),
        ("getMyCommands", "_api_get_my_commands"),
        ("deleteMyCommands", "_api_delete_my_commands"),
        ("sendChatAction", "_api_send_chat_action"),
        ("setMyDescription", "_api_true"),
        ("setMyShortDescription", "_api_true"),
        ("setChatMenuButton", "_api_true"),
        ("close", "_api_true"),
        ("logOut", "_api_true"),
    )
}


# --------------------------------------------------------------------------------------------------
# Command line: python -m tests.fakes.telegram_api --port 8081 [--rate-limit 30]
# --------------------------------------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeTelegram(token=args.token, bot_username=args.bot_username)
    fake.rate_limit = args.rate_limit
    fake.chat_limits = args.chat_limits
    fake.delay = args.delay
    await fake.start(args.port)
    print(f"fake telegram listening on http://{HOST}:{fake.port} token={fake.token}", flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    try:
        await done.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Telegram Bot API server (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=8081, help="0 = any free port (printed on stdout)")
    parser.add_argument("--rate-limit", type=float, default=None, help="send* calls per sliding second before 429")
    parser.add_argument("--chat-limits", action="store_true", help="Telegram's per-chat and per-group limits too")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering send*/edit*")
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--bot-username", default="PufaTestBot")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
