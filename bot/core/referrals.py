"""Out of the content's reach → the town's own help (legal-facts AU-12), and 「请司法所联系我」.

A dispute the tips do not cover (婚姻家庭、继承、宅基地、讨薪 …, `content/office.yaml`) is answered with who can
help: the resident's own village 人民调解委员会, the 司法所, 法律援助 and 12348. The resident may ask the office to
contact them; leaving a phone number is optional and said to be used for that call only. Admins list the
requests (`/requests`) and mark them done.
"""

from __future__ import annotations

import re
import unicodedata

from bot.config import Identity, Settings
from bot.content.model import Contact, DisputeKind, Office
from bot.core import screens
from bot.core.events import Button, Delivery, Reply, Text
from bot.core.payloads import Action, encode
from bot.core.townships import Scope
from bot.core.turn import Turn, stale
from bot.storage import Storage
from bot.textnorm import normalize

# Mainland mobile numbers, and landlines with an area code (0731-8xxxxxxx); spaces and dashes allowed.
_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
_NO_PHONE_WORDS = {"不留", "不用", "不要", "不留号码", "不想留", "不方便", "算了", "跳过"}


def find_dispute(
    office: Office | None, text: str, synonyms: dict[str, str] | None = None, normalized: str | None = None
) -> DisputeKind | None:
    """The first dispute kind one of whose keywords appears in the message."""
    if office is None:
        return None
    words = normalize(text, synonyms) if normalized is None else normalized
    for kind in office.disputes:
        if any(keyword in words for keyword in kind.keywords):
            return kind
    return None


def phone_number(text: str) -> str | None:
    """A phone number as typed (full-width digits, spaces, dashes), normalised; None if it is not one."""
    compact = re.sub(r"[\s\-—()（）]", "", unicodedata.normalize("NFKC", text))
    compact = compact.removeprefix("+86").removeprefix("86") if len(compact) > 11 else compact
    if not _PHONE.match(compact):
        return None
    return compact


class ReferralFlow:
    def __init__(self, storage: Storage, settings: Settings | None = None) -> None:
        self.storage = storage
        self.requests = storage.requests
        self.settings = settings or Settings()

    async def refer(self, turn: Turn, kind: DisputeKind, question: str) -> list[Reply]:
        office = turn.catalog.office
        assert office is not None  # find_dispute found the kind in it
        offer = await self.requests.offer(
            turn.resident.id, turn.resident.channel, turn.resident.place_id, kind.id, question
        )
        body = self.where_to_go(turn, office)
        sources = "；".join(c.render() for c in office.sources)
        if sources:
            body += "\n\n" + turn.t("tip.source", sources=sources)
        return [
            Text(
                body,
                title=turn.t("referral.title", kind=kind.name),
                buttons=(
                    (Button(turn.t("referral.request"), encode(Action.REQUEST_CALLBACK, offer)),),
                    (screens.menu_button(turn.t),),
                ),
                delivery=Delivery("answer", item_id=f"referral:{kind.id}"),
            )
        ]

    def where_to_go(self, turn: Turn, office: Office) -> str:
        t = turn.t
        lines = [t("referral.intro")]
        mediation = office.mediation.get(turn.resident.place_id or "")
        if mediation is not None:
            lines.append(t("referral.mediation", where=_contact(mediation)))
        lines.append(t("referral.office", where=_contact(office.office)))
        if office.legal_aid is not None:
            lines.append(t("referral.legal_aid", where=_contact(office.legal_aid)))
        lines.append(t("referral.hotline", hotline=office.hotline))
        if mediation is None and turn.catalog.places:
            lines.append(t("referral.set_place"))
        return "\n".join(lines)

    # -- 「请司法所联系我」 ------------------------------------------------------------------------

    async def ask_phone(self, turn: Turn) -> list[Reply]:
        offer = turn.payload.arg if turn.payload else ""
        if not offer.isdigit() or not await self.requests.ask_phone(int(offer), turn.resident.id):
            return stale(turn)
        return [
            Text(
                turn.t("referral.ask_phone"),
                buttons=(
                    (Button(turn.t("referral.no_phone"), encode(Action.REQUEST_NO_PHONE, offer)),),
                    (screens.menu_button(turn.t),),
                ),
            )
        ]

    async def without_phone(self, turn: Turn) -> list[Reply]:
        request = turn.payload.arg if turn.payload else ""
        if not request.isdigit() or not await self.requests.submit(int(request), turn.resident.id, None):
            return stale(turn)
        return [self._confirmation(turn, None)]

    async def typed(self, turn: Turn, text: str) -> list[Reply] | None:
        """A resident asked to be contacted: their next message may be the number, or a no. None otherwise."""
        number = phone_number(text)
        if number is None and normalize(text) not in _NO_PHONE_WORDS:
            return None  # a question, not a number: answer it (no database read on the per-message path)
        waiting = await self.requests.awaiting_phone(turn.resident.id)
        if waiting is None:
            return None
        await self.requests.submit(waiting.id, turn.resident.id, number)
        return [self._confirmation(turn, number)]

    def _confirmation(self, turn: Turn, phone: str | None) -> Text:
        office = turn.catalog.office
        name = office.office.name if office else ""
        key = "referral.submitted_phone" if phone else "referral.submitted"
        return Text(turn.t(key, office=name, phone=phone or ""), buttons=((screens.menu_button(turn.t),),))

    # -- admins --------------------------------------------------------------------------------

    def scope(self, turn: Turn) -> Scope:
        return Scope.of(self.settings, Identity(turn.resident.channel, turn.resident.external_id))

    async def listing(self, turn: Turn) -> list[Reply]:
        """The open requests; an admin of one township sees those of its places only."""
        requests = await self.scope(turn).requests_listed(self.storage, turn.catalog, 100)
        if not requests:
            return [Text(turn.t("referral.admin_none"))]
        kinds = {k.id: k.name for k in turn.catalog.office.disputes} if turn.catalog.office else {}
        lines, buttons = [], []
        for request in requests[:20]:
            place = screens.place_name(turn.t, turn.catalog, request.place_id)
            lines.append(
                turn.t(
                    "referral.admin_line",
                    id=request.id,
                    kind=kinds.get(request.dispute_id or "", request.dispute_id or "—"),
                    place=place,
                    phone=request.phone or turn.t("referral.admin_no_phone"),
                    question=_cut(request.question, 40),
                )
            )
            done = Button(turn.t("referral.admin_done", id=request.id), encode(Action.REQUEST_DONE, request.id))
            buttons.append(done)
        title = turn.t("referral.admin_title", count=len(requests))
        return [Text("\n".join(lines), title=title, buttons=screens.rows(buttons))]

    async def mark_done(self, turn: Turn) -> list[Reply]:
        request = turn.payload.arg if turn.payload else ""
        by = f"{turn.resident.channel}:{turn.resident.external_id}"
        if not request.isdigit():
            return stale(turn)
        scope = self.scope(turn)
        if not await scope.may_mark_done(self.storage, turn.catalog, int(request)):
            return [Text(turn.t("township.request_not_yours", id=request, township=scope.name(turn.catalog)))]
        if not await self.requests.mark_done(int(request), by):
            return stale(turn)
        return [Text(turn.t("referral.admin_marked", id=request)), *await self.listing(turn)]


def _contact(contact: Contact) -> str:
    parts = [contact.name]
    parts += [part for part in (contact.address, contact.hours) if part]
    if contact.phone:
        parts.append(f"☎ {contact.phone}")
    return "，".join(parts)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
