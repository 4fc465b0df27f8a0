"""The 微信客服 (kf) endpoints the channel uses, over the WeCom client's token handling.

Facts relied on (WeCom's kf documentation, summarised in issue 15): messages are pulled with `kf/sync_msg`
(cursor, the callback's token, limit ≤ 1000, has_more) and never include our own; `kf/send_msg` works only while
the session state is 0 or 1 and at most five times within 48 hours of the customer's last message;
`kf/send_msg_on_event` sends the welcome with an enter_session's welcome_code; `kf/add_contact_way` gives the entry
link for a scene; `kf/service_state/get` tells whether a person has taken the session over; `kf/get_corp_statistic`
gives WeCom's own daily figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.channels.wecom.api import WeComClient, WeComError

# send_msg refused because the customer's 48-hour window is closed or its five messages are used up.
OUT_OF_WINDOW_ERRORS = frozenset({95001, 95002})  # over the five messages; outside the 48 hours
HUMAN_AGENT = 3  # service_state: a person is serving this customer
BOT_MAY_SEND = frozenset({0, 1})  # new, or served by the bot (智能助手接待)


@dataclass(frozen=True)
class SyncPage:
    next_cursor: str
    has_more: bool
    messages: list[dict[str, Any]]


class KfClient:
    def __init__(self, client: WeComClient, open_kfid: str) -> None:
        self.client = client
        self.open_kfid = open_kfid

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    async def sync(self, cursor: str | None, token: str | None, limit: int = 1000) -> SyncPage:
        body: dict[str, Any] = {"open_kfid": self.open_kfid, "limit": limit}
        if cursor:
            body["cursor"] = cursor
        if token:
            body["token"] = token
        data = await self.client.call("/cgi-bin/kf/sync_msg", body)
        return SyncPage(
            str(data.get("next_cursor") or cursor or ""), bool(data.get("has_more")), data.get("msg_list") or []
        )

    async def send(self, external_userid: str, message: dict[str, Any]) -> str:
        """One message; its msgid (errcode 0 is not delivery: msg_send_fail may follow)."""
        body = {"touser": external_userid, "open_kfid": self.open_kfid, **message}
        data = await self.client.call("/cgi-bin/kf/send_msg", body)
        return str(data.get("msgid", ""))

    async def welcome(self, code: str, message: dict[str, Any]) -> str:
        data = await self.client.call("/cgi-bin/kf/send_msg_on_event", {"code": code, **message})
        return str(data.get("msgid", ""))

    async def contact_link(self, scene: str) -> str:
        data = await self.client.call("/cgi-bin/kf/add_contact_way", {"open_kfid": self.open_kfid, "scene": scene})
        return str(data["url"])

    async def state(self, external_userid: str) -> int:
        data = await self.client.call(
            "/cgi-bin/kf/service_state/get", {"open_kfid": self.open_kfid, "external_userid": external_userid}
        )
        return int(data.get("service_state", 0))

    async def statistics(self, start: int, end: int) -> list[dict[str, Any]]:
        data = await self.client.call(
            "/cgi-bin/kf/get_corp_statistic", {"open_kfid": self.open_kfid, "start_time": start, "end_time": end}
        )
        return list(data.get("statistic_list") or [])


__all__ = ["BOT_MAY_SEND", "HUMAN_AGENT", "OUT_OF_WINDOW_ERRORS", "KfClient", "SyncPage", "WeComError"]
