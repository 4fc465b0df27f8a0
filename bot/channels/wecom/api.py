"""A small async client for WeCom's message API: one token, cached and refreshed, never one per message."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

TOKEN_ERRORS = {40014, 42001, 40001}  # invalid or expired access_token: refresh once and retry
RATE_ERRORS = {45009, 45033, 45047}  # frequency limits: back off


class WeComError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeCom errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class SendResult:
    invalid: frozenset[str]  # recipients WeCom did not deliver to (invaliduser, unlicenseduser)
    msgid: str | None
    response_code: str | None


class WeComClient:
    def __init__(self, base_url: str, corp_id: str, secret: str, agent_id: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.corp_id = corp_id
        self._secret = secret
        self.agent_id = agent_id
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15), trust_env=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def token(self, refresh: bool = False) -> str:
        """The cached access token; fetched when missing, five minutes before expiry, or when refused."""
        async with self._token_lock:
            if refresh or self._token is None or time.monotonic() > self._token_expires:
                assert self._session is not None, "WeComClient.start() first"
                async with self._session.get(
                    f"{self.base_url}/cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": self._secret}
                ) as response:
                    data = await response.json(content_type=None)
                if data.get("errcode", 0) != 0:
                    raise WeComError(int(data.get("errcode", -1)), str(data.get("errmsg", "")))
                self._token = str(data["access_token"])
                self._token_expires = time.monotonic() + int(data.get("expires_in", 7200)) - 300
                log.info("wecom: new access token")
            return self._token

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with the token; on an expired/invalid token refresh once and retry."""
        assert self._session is not None, "WeComClient.start() first"
        for attempt in range(2):
            token = await self.token(refresh=attempt > 0)
            async with self._session.post(
                f"{self.base_url}{path}", params={"access_token": token}, json=body
            ) as response:
                data = await response.json(content_type=None)
            errcode = int(data.get("errcode", 0))
            if errcode in TOKEN_ERRORS and attempt == 0:
                continue
            if errcode != 0:
                raise WeComError(errcode, str(data.get("errmsg", "")))
            return data
        raise WeComError(42001, "access_token refused twice")

    async def upload(self, kind: str, filename: str, data: bytes) -> str:
        """Upload an image or file for message/send; returns its media_id (valid three days)."""
        assert self._session is not None, "WeComClient.start() first"
        for attempt in range(2):
            token = await self.token(refresh=attempt > 0)
            form = aiohttp.FormData(quote_fields=False)
            form.add_field("media", data, filename=filename, content_type="application/octet-stream")
            async with self._session.post(
                f"{self.base_url}/cgi-bin/media/upload", params={"access_token": token, "type": kind}, data=form
            ) as response:
                result = await response.json(content_type=None)
            errcode = int(result.get("errcode", 0))
            if errcode in TOKEN_ERRORS and attempt == 0:
                continue
            if errcode != 0:
                raise WeComError(errcode, str(result.get("errmsg", "")))
            return str(result["media_id"])
        raise WeComError(42001, "access_token refused twice")

    async def send(self, users: list[str], message: dict[str, Any]) -> SendResult:
        body = {"touser": "|".join(users), "agentid": self.agent_id, "enable_duplicate_check": 0, **message}
        data = await self.call("/cgi-bin/message/send", body)
        invalid = {u for key in ("invaliduser", "unlicenseduser") for u in str(data.get(key) or "").split("|") if u}
        return SendResult(frozenset(invalid), data.get("msgid"), data.get("response_code"))
