"""The conversation core: one neutral event in, neutral replies out.

`Core.handle` decides what to say; `Core.respond` also hands each reply to the channel's `send`, records a
reach event for every delivery the channel confirms, and marks a resident who blocked the bot. The route
tables (`commands`, `buttons`) are the whole map of what a resident — or an admin — can do, each route
saying who may use it and where. Nothing here imports a channel library.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.config import Identity, Settings
from bot.content.model import Catalog, Tip
from bot.content.problems import Severity
from bot.content.store import ContentStore
from bot.core import screens
from bot.core.admin_flow import BroadcastFlow
from bot.core.admin_stats import StatsFlow
from bot.core.answers import AnswerFlow
from bot.core.deferred import DeferredBroadcasts, Waiting
from bot.core.events import Button, Incoming, Reply, Text
from bot.core.first_contact import Wish, read_wish
from bot.core.flood import FloodGate, Verdict
from bot.core.payloads import ADMIN_ACTIONS, Action, decode, encode
from bot.core.quiz import QuizContext, QuizFlows
from bot.core.referrals import ReferralFlow
from bot.core.resident_settings import SettingsFlow
from bot.core.sending import ChannelState, Send, SendResult, SendStatus, SendTurn
from bot.core.townships import Scope
from bot.core.turn import Handler, Route, Turn, private_only, stale
from bot.core.web_links import mint_link
from bot.i18n import normalize_language, translator
from bot.storage import ReachEvent, Resident, Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    resident: Resident | None
    replies: list[Reply]


class Core:
    def __init__(
        self,
        storage: Storage,
        content: ContentStore,
        settings: Settings,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.storage = storage
        self.content = content
        self.settings = settings
        self._today = today
        self.channel_state = ChannelState(storage)
        self.deferred = DeferredBroadcasts(storage, content.directory)
        self.flood = FloodGate(settings.flood_limit)
        self.broadcasts = BroadcastFlow(storage, settings)
        self.admin_stats = StatsFlow(storage, settings)
        self.answers = AnswerFlow(storage)
        self.resident_settings = SettingsFlow(storage)
        self.referrals = ReferralFlow(storage, settings)
        self.quiz = QuizFlows(
            storage,
            town=lambda catalog: settings.town or catalog.town,
            certificates=settings.data_dir / "certificates",
        )
        self.commands = self._command_routes()
        self.buttons = self._button_routes()

    # -- the route tables ----------------------------------------------------------------------

    def _command_routes(self) -> dict[str, Route]:
        you = self.resident_settings
        quiz = self._with_quiz_context
        private, admin = {"private_only": True}, {"private_only": True, "admin_only": True}
        return {
            "start": Route(self._start),
            "menu": Route(self._menu),
            "topics": Route(self._topics),
            "tip": Route(self._daily),
            "daily_tip": Route(self._daily),
            "help": Route(self._help),
            "settings": Route(you.overview, **private),
            "place": Route(you.place, **private),
            "language": Route(you.language, **private),
            "subscribe": Route(you.subscribe, **private),
            "unsubscribe": Route(you.unsubscribe, **private),
            "quiz": Route(quiz(lambda turn, ctx: self.quiz.command(ctx, turn.event.args)), **private),
            "daily": Route(quiz(lambda turn, ctx: self.quiz.daily(ctx)), **private),
            "review": Route(quiz(lambda turn, ctx: self.quiz.review(ctx)), **private),
            "rank": Route(quiz(lambda turn, ctx: self.quiz.rank(ctx))),
            "certificate": Route(quiz(lambda turn, ctx: self.quiz.certificate(ctx)), **private),
            "nickname": Route(quiz(lambda turn, ctx: self.quiz.nickname(ctx, turn.event.args)), **private),
            # admins only
            "admin": Route(self._admin, **admin),
            "reload": Route(self._reload, **admin),
            "broadcast": Route(lambda turn: self.broadcasts.start(turn.resident, turn.t, turn.catalog), **admin),
            "broadcasts": Route(lambda turn: self.broadcasts.listing(turn.resident, turn.t, turn.catalog), **admin),
            "stats": Route(lambda turn: self.admin_stats.stats(turn.resident, turn.t, turn.catalog), **admin),
            "export": Route(lambda turn: self.admin_stats.export(turn.resident, turn.t, turn.catalog), **admin),
            "ledger": Route(
                lambda turn: self.admin_stats.ledger(turn.resident, turn.t, turn.catalog, turn.event.args), **admin
            ),
            "requests": Route(self.referrals.listing, **admin),
            "web": Route(self._web_link, **admin),  # a sign-in link: never in a group chat
        }

    def _button_routes(self) -> dict[Action, Route]:
        you = self.resident_settings
        quiz = self._with_quiz_context
        private = {"private_only": True}
        routes = {
            Action.MENU: Route(lambda turn: self._menu(turn, replace=True)),
            Action.TOPICS: Route(lambda turn: self._topics(turn, replace=True)),
            Action.TOPIC: Route(self._open_topic),
            Action.TIP: Route(self._open_tip),
            Action.DAILY: Route(self._daily),
            Action.HELP: Route(self._help),
            Action.SETTINGS: Route(lambda turn: you.overview(turn, replace=True)),
            Action.PLACES: Route(you.place_page, **private),
            Action.TOWNSHIP: Route(you.township_page, **private),
            Action.SET_PLACE: Route(you.set_place, **private),
            Action.SKIP_PLACE: Route(you.skip_place),
            Action.LANGUAGES: Route(you.language, **private),
            Action.SET_LANGUAGE: Route(you.set_language, **private),
            Action.SUBSCRIPTIONS: Route(lambda turn: you.subscriptions(turn, replace=True)),
            Action.UNSUBSCRIBE_ALL: Route(you.unsubscribe_all, **private),
            Action.SUBSCRIBE_ALL: Route(you.subscribe_all, **private),
            Action.TOGGLE_TOPIC: Route(you.toggle_topic, **private),
            Action.QUIZ_MENU: Route(quiz(lambda turn, ctx: self.quiz.menu(ctx, replace=True)), **private),
            Action.QUIZ_TOPIC: Route(self._start_topic_quiz, **private),
            Action.QUIZ_ANSWER: Route(self._answer, **private),
            Action.QUIZ_RESUME: Route(quiz(lambda turn, ctx: self.quiz.resume(ctx)), **private),
            Action.DAILY_QUIZ: Route(quiz(lambda turn, ctx: self.quiz.daily(ctx)), **private),
            Action.REVIEW: Route(quiz(lambda turn, ctx: self.quiz.review(ctx)), **private),
            Action.RANK: Route(quiz(lambda turn, ctx: self.quiz.rank(ctx))),
            Action.CERTIFICATE: Route(quiz(lambda turn, ctx: self.quiz.certificate(ctx)), **private),
            Action.REQUEST_CALLBACK: Route(self.referrals.ask_phone, **private),
            Action.REQUEST_NO_PHONE: Route(self.referrals.without_phone, **private),
            Action.ADMIN_RELOAD: Route(self._reload, private_only=True, admin_only=True),
            Action.REQUEST_DONE: Route(self.referrals.mark_done, private_only=True, admin_only=True),
        }
        for action in ADMIN_ACTIONS:  # the /broadcast dialog's steps
            if action.name.startswith("BROADCAST_"):
                routes[action] = Route(self._broadcast_button, private_only=True, admin_only=True)
        return routes

    # -- entry points ------------------------------------------------------------------------

    async def respond(self, event: Incoming, send: Send, send_turn: SendTurn | None = None) -> Outcome:
        """Answer one event, recording a reach event per confirmed delivery.

        `send` takes one reply at a time; a channel that merges a turn's replies into fewer messages (微信客服:
        five messages per 48 hours) passes `send_turn`, which takes them all and reports one result per reply.
        Broadcasts that missed the resident's conversation window go out after the reply (`DeferredBroadcasts`).
        """
        outcome = await self.handle(event)
        resident = outcome.resident
        replies = list(outcome.replies)
        waiting = await self._waiting_broadcasts(resident)
        for item in waiting:
            replies.extend(item.replies)
        if send_turn is not None:
            results = [SendResult.of(r) for r in await send_turn(replies)]
        else:
            results = []
            for reply in replies:
                results.append(SendResult.of(await send(reply)))
                if results[-1].status is SendStatus.BLOCKED:
                    break
        for reply, result in zip(replies, results, strict=False):
            if result.status is SendStatus.BLOCKED and resident is not None:
                await self.storage.residents.set_blocked(resident.channel, resident.external_id, True)
                log.info("%s: a resident blocked the bot; marked blocked", resident.channel)
                break
            d = reply.delivery
            if result.delivered and d is not None and resident is not None and d.kind != "broadcast":
                # A receipt names its event by time: then the time is fixed here.
                ts = self.storage.db.now() if result.receipt else None
                event = d.event(resident.id, resident.channel, resident.place_id, ts=ts)
                self.storage.reach.record(event)
                # A quiz answer is the resident's own act: it stands even if our feedback message is lost.
                if result.receipt and d.kind != "quiz_answer":
                    await self._keep_receipt(result.receipt, event)
        await self._count_waiting(resident, waiting, replies, results)
        return outcome

    async def _keep_receipt(self, receipt: str, event: ReachEvent) -> None:
        try:
            await self.storage.receipts.remember(receipt, event)
        except Exception:  # best effort: the delivery is counted either way
            log.exception("could not keep a delivery receipt")

    async def _waiting_broadcasts(self, resident: Resident | None) -> list[Waiting]:
        if resident is None or resident.blocked:
            return []
        try:
            return await self.deferred.waiting(resident, self.content.catalog, self.storage.db.now())
        except Exception:  # best effort: the reply goes out whatever happens here
            log.exception("could not read deferred broadcasts")
            return []

    async def _count_waiting(
        self, resident: Resident | None, waiting: list[Waiting], replies: list[Reply], results: list[SendResult]
    ) -> None:
        """A deferred broadcast counts once every part of it was delivered."""
        if resident is None:
            return
        delivered = {id(reply): result for reply, result in zip(replies, results, strict=False) if result.delivered}
        for item in waiting:
            if all(id(reply) in delivered for reply in item.replies):
                receipt = delivered[id(item.replies[-1])].receipt
                await self.deferred.delivered(item, resident, self.storage.db.now(), receipt)

    async def handle(self, event: Incoming) -> Outcome:
        """Never raises for a resident's input: failures become a short apology."""
        try:
            resident, created = await self.storage.residents.get_or_create(
                event.channel, event.user_id, event.display_name, normalize_language(event.language)
            )
        except Exception:
            log.exception("could not load resident %s:%s", event.channel, _mask(event.user_id))
            return Outcome(None, [Text(translator(normalize_language(event.language))("fallback.error"))])
        turn = Turn(
            event=event,
            resident=resident,
            created=created,
            t=translator(resident.language or normalize_language(event.language)),
            catalog=self.content.catalog,
            today=self._today(),
        )
        verdict = self.flood.check(resident.id) if not self._is_admin(turn) else Verdict.ALLOW
        if verdict is not Verdict.ALLOW:
            return Outcome(turn.resident, [Text(turn.t("fallback.flood"))] if verdict is Verdict.WARN else [])
        try:
            replies = await self._route(turn)
        except Exception:
            log.exception("handling %s failed", _describe(event))
            replies = [Text(turn.t("fallback.error"), buttons=((screens.menu_button(turn.t),),))]
        return Outcome(turn.resident, replies)

    async def _route(self, turn: Turn) -> list[Reply]:
        event = turn.event
        if event.button is not None:
            turn.payload = decode(event.button)
            route = self.buttons.get(turn.payload.action) if turn.payload is not None else None
            if route is None or (route.admin_only and not self._is_admin(turn)):
                return stale(turn)  # to a resident, an admin button is just an outdated one
            return await self._follow(route, turn)
        if event.command is not None:
            route = self.commands.get(event.command)
            if route is None or (route.admin_only and not self._is_admin(turn)):
                # Admin commands look exactly like unknown ones to everybody else.
                return [
                    Text(
                        turn.t("fallback.unknown_command", command=event.command[:32]),
                        buttons=((screens.menu_button(turn.t),),),
                    )
                ]
            return await self._follow(route, turn)
        if event.text and self._is_admin(turn) and await self.broadcasts.wants_text(turn.resident):
            return await self.broadcasts.text(turn.resident, turn.t, turn.catalog, event.text)
        wish = read_wish(event.text)
        if wish is Wish.UNSUBSCRIBE:
            return await self.resident_settings.unsubscribe(turn)
        if wish is Wish.SUBSCRIBE:
            return await self.resident_settings.subscribe(turn)
        if wish is Wish.GREETING or (turn.created and event.text is None):
            return await self._start(turn)
        if event.text is None:  # a sticker, photo, voice message...
            return [Text(turn.t("fallback.non_text"), buttons=screens.main_menu(turn.t).buttons)]
        phone_or_no = await self.referrals.typed(turn, event.text)  # after 「请司法所联系我」
        if phone_or_no is not None:
            return phone_or_no
        text = event.text
        answered = await self.answers.answer(
            turn.t, turn.catalog, turn.today, text, refer=lambda kind: self.referrals.refer(turn, kind, text)
        )
        if turn.created:
            # First words first: a newcomer's first message is answered as what it is (an emergency gets its
            # steps at once); registration is offered after it, never in its place.
            return await self._first_contact(turn, answered)
        if answered is not None:
            return answered
        return [Text(turn.t("fallback.unknown_text"), buttons=screens.main_menu(turn.t).buttons)]

    async def _first_contact(self, turn: Turn, answered: list[Reply] | None) -> list[Reply]:
        if answered is None:
            return [Text(turn.t("welcome.not_found")), *await self._start(turn)]
        if turn.event.private_chat and turn.catalog.places and not turn.resident.place_asked:
            picker = screens.place_picker(turn.t, turn.catalog, 0, onboarding=True)
            offer = turn.t("welcome.offer")
            if turn.catalog.multi_township:  # the buttons are townships: say so
                offer = f"{offer}\n{turn.t('township.first')}"
            return [*answered, dataclasses.replace(picker, body=offer)]
        return answered

    async def _follow(self, route: Route, turn: Turn) -> list[Reply]:
        if route.private_only and not turn.event.private_chat:
            return private_only(turn)
        return await route.handler(turn)

    # -- screens -----------------------------------------------------------------------------

    async def _start(self, turn: Turn) -> list[Reply]:
        resident, t = turn.resident, turn.t
        if resident.blocked:
            # They came back: /start after blocking the bot unblocks them.
            await self.storage.residents.update(resident.id, blocked=False)
        name = f"，{resident.display_name}" if t.language != "en" else f", {resident.display_name}"
        name = name if resident.display_name else ""
        town = self.settings.town or turn.catalog.town
        # "/start hexi-village": came in through a village's QR code or link; registered there, nothing asked.
        place = turn.catalog.place(turn.event.args.strip()) if turn.event.args.strip() else None
        if place is not None and not resident.place_id:
            await self.storage.residents.update(resident.id, place_id=place.id, place_asked=True)
            welcome = t("welcome.new", name=name, town=town) if turn.created else t("welcome.back", name=name)
            named = screens.place_name(t, turn.catalog, place.id)
            return [Text(f"{welcome}\n{t('place.set', place=named)}"), screens.main_menu(t)]
        if not resident.place_asked and turn.event.private_chat and turn.catalog.places:
            return [
                Text(t("welcome.new", name=name, town=town)),
                screens.place_picker(t, turn.catalog, 0, onboarding=True),
            ]
        return [Text(t("welcome.back", name=name)), screens.main_menu(t)]

    async def _menu(self, turn: Turn, replace: bool = False) -> list[Reply]:
        return [screens.main_menu(turn.t, replace=replace)]

    async def _topics(self, turn: Turn, replace: bool = False) -> list[Reply]:
        return [screens.topics_list(turn.t, turn.catalog, turn.today, replace=replace)]

    async def _daily(self, turn: Turn) -> list[Reply]:
        tip = tip_of_the_day(turn.catalog, turn.today)
        return [screens.daily_tip(turn.t, turn.catalog, tip, self.content.directory)]

    async def _help(self, turn: Turn) -> list[Reply]:
        return [screens.help_view(turn.t)]

    async def _open_topic(self, turn: Turn) -> list[Reply]:
        topic = turn.catalog.topic(turn.payload.arg) if turn.payload else None
        tips = topic.served_tips(turn.today) if topic else ()
        if topic is None or not tips:
            return stale(turn)
        return [screens.tip_view(turn.t, topic, tips[0], turn.today, self.content.directory, replace=True)]

    async def _open_tip(self, turn: Turn) -> list[Reply]:
        tip = turn.catalog.tip(turn.payload.arg) if turn.payload else None
        topic = turn.catalog.topic(tip.topic_id) if tip else None
        if tip is None or topic is None or not tip.is_served_on(turn.today):
            return stale(turn)
        return [screens.tip_view(turn.t, topic, tip, turn.today, self.content.directory, replace=True)]

    # -- quizzes -------------------------------------------------------------------------------

    def _with_quiz_context(self, step: Callable[[Turn, QuizContext], Awaitable[list[Reply]]]) -> Handler:
        async def handler(turn: Turn) -> list[Reply]:
            return await step(turn, _quiz_context(turn))

        return handler

    async def _start_topic_quiz(self, turn: Turn) -> list[Reply]:
        replies = await self.quiz.start_topic(_quiz_context(turn), turn.payload.arg if turn.payload else "")
        return stale(turn) if replies is None else replies

    async def _answer(self, turn: Turn) -> list[Reply]:
        if turn.payload is None or not all(arg.isdigit() for arg in turn.payload.args):
            return stale(turn)
        return await self.quiz.answer(_quiz_context(turn), turn.payload)

    # -- admins --------------------------------------------------------------------------------

    async def _admin(self, turn: Turn) -> list[Reply]:
        scope = self._scope(turn)
        return [screens.admin_view(turn.t, turn.catalog, None if scope.county else scope.name(turn.catalog))]

    async def _web_link(self, turn: Turn) -> list[Reply]:
        if not self.settings.web_listen:
            return [Text(turn.t("web.chat.disabled"))]
        who = Identity(turn.resident.channel, turn.resident.external_id)
        link = await mint_link(self.settings, self.storage, who, self.settings.web_base_url)
        return [Text(turn.t("web.chat.link", link=link))]

    async def _reload(self, turn: Turn) -> list[Reply]:
        if not self._scope(turn).county:  # the content serves every township: the county's to reload
            return [Text(turn.t("township.reload_county_only"))]
        result = await self.content.reload()
        if result.catalog is not None:
            return [Text(turn.t("admin.reload_ok", **screens.content_counts(result.catalog)))]
        errors = [p for p in result.problems if p.severity is Severity.ERROR]
        shown = "\n".join(str(p) for p in errors[:5])
        return [Text(turn.t("admin.reload_failed", count=len(errors), problems=shown))]

    async def _broadcast_button(self, turn: Turn) -> list[Reply]:
        assert turn.payload is not None  # buttons only
        return await self.broadcasts.button(turn.resident, turn.t, turn.catalog, turn.payload)

    def _is_admin(self, turn: Turn) -> bool:
        return self.settings.is_admin(turn.event.channel, turn.event.user_id)

    def _scope(self, turn: Turn) -> Scope:
        return Scope.of(self.settings, Identity(turn.event.channel, turn.event.user_id))


def tip_of_the_day(catalog: Catalog, day: dt.date) -> Tip | None:
    """The same tip for everyone on a given day, stable across restarts and processes."""
    tips = sorted((tip for tip in catalog.all_tips() if tip.is_served_on(day)), key=lambda tip: tip.id)
    if not tips:
        return None
    digest = hashlib.sha256(day.isoformat().encode()).digest()
    return tips[int.from_bytes(digest[:8], "big") % len(tips)]


def _quiz_context(turn: Turn) -> QuizContext:
    return QuizContext(turn.resident, turn.t, turn.catalog, turn.today, turn.event.channel)


def _mask(user_id: str) -> str:
    return user_id[:2] + "…" if len(user_id) > 2 else "…"


def _describe(event: Incoming) -> str:
    kind = f"button {event.button!r}" if event.button else f"command /{event.command}" if event.command else "text"
    return f"{event.channel} {kind}"


__all__ = ["Button", "Core", "Outcome", "Send", "encode", "tip_of_the_day"]
