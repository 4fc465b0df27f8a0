"""The conversation core: one neutral event in, neutral replies out.

`Core.handle` decides what to say; `Core.respond` also hands each reply to the
channel's `send` and records a reach event for every delivery the channel
confirms. The routing tables (`_commands`, `_buttons`) are the whole map of what
a resident can do. Nothing here imports a channel library.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.content.model import Catalog, Tip
from bot.content.problems import Severity
from bot.content.store import ContentStore
from bot.core import screens
from bot.core.admin_flow import BroadcastFlow
from bot.core.admin_stats import StatsFlow
from bot.core.answers import AnswerFlow
from bot.core.events import Button, Incoming, Reply, Text, Toast
from bot.core.payloads import ADMIN_ACTIONS, Action, Payload, decode, encode
from bot.core.quiz import QuizContext, QuizFlows
from bot.i18n import Translator, normalize_language, translator
from bot.storage import ReachEvent, Resident, Storage

log = logging.getLogger(__name__)

Send = Callable[[Reply], Awaitable[bool]]  # True when the channel delivered the reply


@dataclass
class Turn:
    """What the core knows while answering one event."""

    event: Incoming
    resident: Resident
    created: bool
    t: Translator
    catalog: Catalog
    today: dt.date


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
        self.broadcasts = BroadcastFlow(storage, settings)
        self.admin_stats = StatsFlow(storage, settings)
        self.answers = AnswerFlow(storage)
        self.quiz = QuizFlows(
            storage,
            town=lambda catalog: settings.town or catalog.town,
            certificates=settings.db_path.parent / "certificates",
        )
        self._commands: dict[str, Callable[[Turn], Awaitable[list[Reply]]]] = {
            "start": self._start,
            "menu": self._menu,
            "topics": self._topics,
            "tip": self._daily,
            "daily_tip": self._daily,
            "settings": self._settings,
            "place": self._place,
            "language": self._language,
            "subscribe": self._subscribe,
            "unsubscribe": self._subscriptions,
            "help": self._help,
            "quiz": lambda turn: self.quiz.command(self._quiz_ctx(turn), turn.event.args),
            "daily": lambda turn: self.quiz.daily(self._quiz_ctx(turn)),
            "review": lambda turn: self.quiz.review(self._quiz_ctx(turn)),
            "rank": lambda turn: self.quiz.rank(self._quiz_ctx(turn)),
            "certificate": lambda turn: self.quiz.certificate(self._quiz_ctx(turn)),
            "nickname": lambda turn: self.quiz.nickname(self._quiz_ctx(turn), turn.event.args),
        }
        self._admin_commands: dict[str, Callable[[Turn], Awaitable[list[Reply]]]] = {
            "admin": self._admin,
            "reload": self._reload,
            "broadcast": lambda turn: self.broadcasts.start(turn.resident, turn.t, turn.catalog),
            "broadcasts": lambda turn: self.broadcasts.listing(turn.t),
            "stats": lambda turn: self.admin_stats.stats(turn.t, turn.catalog),
            "export": lambda turn: self.admin_stats.export(turn.t, turn.catalog),
            "ledger": lambda turn: self.admin_stats.ledger(turn.resident, turn.t, turn.catalog, turn.event.args),
        }
        # Quizzes and settings belong in a private chat; a group gets a polite pointer instead.
        self._private_only = {
            "place",
            "language",
            "subscribe",
            "unsubscribe",
            "settings",
            "quiz",
            "daily",
            "review",
            "certificate",
            "nickname",
        }
        self._private_buttons = {
            Action.QUIZ_MENU,
            Action.QUIZ_TOPIC,
            Action.QUIZ_ANSWER,
            Action.DAILY_QUIZ,
            Action.REVIEW,
            Action.CERTIFICATE,
            Action.SET_PLACE,
            Action.PLACES,
            Action.SET_LANGUAGE,
            Action.TOGGLE_TOPIC,
            Action.UNSUBSCRIBE_ALL,
            Action.SUBSCRIBE_ALL,
        }
        self._buttons: dict[Action, Callable[[Turn, Payload], Awaitable[list[Reply]]]] = {
            Action.MENU: lambda turn, p: self._menu(turn, replace=True),
            Action.TOPICS: lambda turn, p: self._topics(turn, replace=True),
            Action.TOPIC: self._open_topic,
            Action.TIP: self._open_tip,
            Action.DAILY: lambda turn, p: self._daily(turn),
            Action.SETTINGS: lambda turn, p: self._settings(turn, replace=True),
            Action.PLACES: self._place_page,
            Action.SET_PLACE: self._set_place,
            Action.SKIP_PLACE: self._skip_place,
            Action.LANGUAGES: lambda turn, p: self._language(turn),
            Action.SET_LANGUAGE: self._set_language,
            Action.SUBSCRIPTIONS: lambda turn, p: self._subscriptions(turn, replace=True),
            Action.UNSUBSCRIBE_ALL: self._unsubscribe_all,
            Action.SUBSCRIBE_ALL: self._subscribe_all,
            Action.TOGGLE_TOPIC: self._toggle_topic,
            Action.HELP: lambda turn, p: self._help(turn),
            Action.ADMIN_RELOAD: lambda turn, p: self._reload(turn),
            **{action: self._broadcast_button for action in ADMIN_ACTIONS - {Action.ADMIN_RELOAD}},
            Action.QUIZ_MENU: lambda turn, p: self.quiz.menu(self._quiz_ctx(turn), replace=True),
            Action.QUIZ_TOPIC: self._start_topic_quiz,
            Action.QUIZ_ANSWER: self._answer,
            Action.DAILY_QUIZ: lambda turn, p: self.quiz.daily(self._quiz_ctx(turn)),
            Action.REVIEW: lambda turn, p: self.quiz.review(self._quiz_ctx(turn)),
            Action.RANK: lambda turn, p: self.quiz.rank(self._quiz_ctx(turn)),
            Action.CERTIFICATE: lambda turn, p: self.quiz.certificate(self._quiz_ctx(turn)),
        }

    # -- entry points ------------------------------------------------------------------------

    async def respond(self, event: Incoming, send: Send) -> Outcome:
        """Answer one event through `send`, recording a reach event per confirmed delivery."""
        outcome = await self.handle(event)
        resident = outcome.resident
        for reply in outcome.replies:
            delivered = await send(reply)
            if delivered and reply.delivery is not None and resident is not None:
                d = reply.delivery
                self.storage.record(
                    ReachEvent(
                        resident_id=resident.id,
                        channel=resident.channel,
                        kind=d.kind,
                        topic_id=d.topic_id,
                        item_id=d.item_id,
                        place_id=resident.place_id,
                        campaign_id=d.campaign_id,
                        broadcast_id=d.broadcast_id,
                        correct=d.correct,
                    )
                )
        return outcome

    async def handle(self, event: Incoming) -> Outcome:
        """Never raises for a resident's input: failures become a short apology."""
        try:
            resident, created = await self.storage.get_or_create_resident(
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
        try:
            replies = await self._route(turn)
        except Exception:
            log.exception("handling %s failed", _describe(event))
            replies = [Text(turn.t("fallback.error"), buttons=((screens.menu_button(turn.t),),))]
        return Outcome(turn.resident, replies)

    async def _route(self, turn: Turn) -> list[Reply]:
        event = turn.event
        if event.button is not None:
            payload = decode(event.button)
            if payload is None:
                return self._stale(turn)
            if payload.action in ADMIN_ACTIONS and not self._is_admin(turn):
                return self._stale(turn)  # to a resident, an admin button is just an outdated one
            if payload.action in self._private_buttons and not event.private_chat:
                return [Text(turn.t("fallback.private_only"))]
            return await self._buttons[payload.action](turn, payload)
        if event.command is not None:
            handler = self._commands.get(event.command)
            if handler is None and self._is_admin(turn):
                handler = self._admin_commands.get(event.command)
            if handler is None:
                # Admin commands look exactly like unknown ones to everybody else.
                return [
                    Text(
                        turn.t("fallback.unknown_command", command=event.command[:32]),
                        buttons=((screens.menu_button(turn.t),),),
                    )
                ]
            if not event.private_chat and (
                event.command in self._private_only or event.command in self._admin_commands
            ):
                return [Text(turn.t("fallback.private_only"))]
            return await handler(turn)
        if turn.created:
            return await self._start(turn)
        if event.text and self._is_admin(turn) and await self.broadcasts.wants_text(turn.resident):
            return await self.broadcasts.text(turn.resident, turn.t, turn.catalog, event.text)
        if event.text is None:  # a sticker, photo, voice message...
            return [Text(turn.t("fallback.non_text"), buttons=screens.main_menu(turn.t).buttons)]
        answered = await self.answers.answer(turn.t, turn.catalog, turn.today, event.text)
        if answered is not None:
            return answered
        return [Text(turn.t("fallback.unknown_text"), buttons=screens.main_menu(turn.t).buttons)]

    # -- commands ----------------------------------------------------------------------------

    async def _start(self, turn: Turn) -> list[Reply]:
        resident, t = turn.resident, turn.t
        if resident.blocked:
            # They came back: /start after blocking the bot unblocks them.
            await self.storage.update_resident(resident.id, blocked=False)
        name = f"，{resident.display_name}" if t.language != "en" else f", {resident.display_name}"
        name = name if resident.display_name else ""
        town = self.settings.town or turn.catalog.town
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

    async def _settings(self, turn: Turn, replace: bool = False) -> list[Reply]:
        return [screens.settings_view(turn.t, turn.catalog, turn.resident.place_id, replace=replace)]

    async def _place(self, turn: Turn) -> list[Reply]:
        current = turn.t("place.current", place=screens.place_name(turn.t, turn.catalog, turn.resident.place_id))
        return [Text(current), screens.place_picker(turn.t, turn.catalog, 0, onboarding=False)]

    async def _language(self, turn: Turn) -> list[Reply]:
        if not turn.event.private_chat:
            return [Text(turn.t("fallback.private_only"))]
        return [screens.language_picker(turn.t)]

    async def _help(self, turn: Turn) -> list[Reply]:
        return [screens.help_view(turn.t)]

    async def _subscriptions(self, turn: Turn, replace: bool = False) -> list[Reply]:
        optouts = await self.storage.unsubscribed_topics(turn.resident.id)
        return [screens.subscriptions_view(turn.t, turn.catalog, turn.resident.subscribed, optouts, replace)]

    async def _subscribe(self, turn: Turn) -> list[Reply]:
        await self.storage.subscribe_all(turn.resident.id)
        return [
            Text(turn.t("subscriptions.subscribed_all")),
            screens.subscriptions_view(turn.t, turn.catalog, True, set()),
        ]

    async def _admin(self, turn: Turn) -> list[Reply]:
        return [screens.admin_view(turn.t, turn.catalog)]

    async def _reload(self, turn: Turn) -> list[Reply]:
        result = await self.content.reload()
        if result.catalog is not None:
            return [Text(turn.t("admin.reload_ok", **screens.content_counts(result.catalog)))]
        errors = [p for p in result.problems if p.severity is Severity.ERROR]
        shown = "\n".join(str(p) for p in errors[:5])
        return [Text(turn.t("admin.reload_failed", count=len(errors), problems=shown))]

    # -- buttons -----------------------------------------------------------------------------

    async def _open_topic(self, turn: Turn, payload: Payload) -> list[Reply]:
        topic = turn.catalog.topic(payload.arg)
        tips = topic.served_tips(turn.today) if topic else ()
        if topic is None or not tips:
            return self._stale(turn)
        return [screens.tip_view(turn.t, topic, tips[0], turn.today, self.content.directory, replace=True)]

    async def _open_tip(self, turn: Turn, payload: Payload) -> list[Reply]:
        tip = turn.catalog.tip(payload.arg)
        topic = turn.catalog.topic(tip.topic_id) if tip else None
        if tip is None or topic is None or not tip.is_served_on(turn.today):
            return self._stale(turn)
        return [screens.tip_view(turn.t, topic, tip, turn.today, self.content.directory, replace=True)]

    async def _place_page(self, turn: Turn, payload: Payload) -> list[Reply]:
        if not payload.arg.isdigit():
            return self._stale(turn)
        return [screens.place_picker(turn.t, turn.catalog, int(payload.arg), onboarding=not turn.resident.place_asked)]

    async def _set_place(self, turn: Turn, payload: Payload) -> list[Reply]:
        place = turn.catalog.place(payload.arg)
        if place is None:
            return self._stale(turn)
        await self.storage.update_resident(turn.resident.id, place_id=place.id, place_asked=True)
        return [Text(turn.t("place.set", place=place.name)), screens.main_menu(turn.t)]

    async def _skip_place(self, turn: Turn, payload: Payload) -> list[Reply]:
        await self.storage.update_resident(turn.resident.id, place_asked=True)
        return [Text(turn.t("place.skipped")), screens.main_menu(turn.t)]

    async def _set_language(self, turn: Turn, payload: Payload) -> list[Reply]:
        language = {"zh": "zh-CN", "en": "en"}.get(payload.arg)
        if language is None:
            return self._stale(turn)
        await self.storage.update_resident(turn.resident.id, language=language)
        t = translator(language)
        return [Text(t("settings.language_set")), screens.main_menu(t)]

    async def _unsubscribe_all(self, turn: Turn, payload: Payload) -> list[Reply]:
        await self.storage.update_resident(turn.resident.id, subscribed=False)
        return [
            Toast(turn.t("subscriptions.unsubscribed_all")),
            screens.subscriptions_view(turn.t, turn.catalog, False, set(), replace=True),
        ]

    async def _subscribe_all(self, turn: Turn, payload: Payload) -> list[Reply]:
        await self.storage.subscribe_all(turn.resident.id)
        return [
            Toast(turn.t("subscriptions.subscribed_all")),
            screens.subscriptions_view(turn.t, turn.catalog, True, set(), replace=True),
        ]

    async def _toggle_topic(self, turn: Turn, payload: Payload) -> list[Reply]:
        topic = turn.catalog.topic(payload.arg)
        if topic is None:
            return self._stale(turn)
        optouts = await self.storage.unsubscribed_topics(turn.resident.id)
        now_subscribed = topic.id in optouts
        await self.storage.set_topic_subscription(turn.resident.id, topic.id, now_subscribed)
        optouts ^= {topic.id}
        key = "subscriptions.topic_subscribed" if now_subscribed else "subscriptions.topic_unsubscribed"
        return [
            Toast(turn.t(key, topic=topic.title)),
            screens.subscriptions_view(turn.t, turn.catalog, turn.resident.subscribed, optouts, replace=True),
        ]

    async def _start_topic_quiz(self, turn: Turn, payload: Payload) -> list[Reply]:
        replies = await self.quiz.start_topic(self._quiz_ctx(turn), payload.arg)
        return self._stale(turn) if replies is None else replies

    async def _answer(self, turn: Turn, payload: Payload) -> list[Reply]:
        if not all(arg.isdigit() for arg in payload.args):
            return self._stale(turn)
        return await self.quiz.answer(self._quiz_ctx(turn), payload)

    async def _broadcast_button(self, turn: Turn, payload: Payload) -> list[Reply]:
        if not turn.event.private_chat:
            return [Text(turn.t("fallback.private_only"))]
        return await self.broadcasts.button(turn.resident, turn.t, turn.catalog, payload)

    def _quiz_ctx(self, turn: Turn) -> QuizContext:
        return QuizContext(turn.resident, turn.t, turn.catalog, turn.today, turn.event.channel)

    # -- helpers -----------------------------------------------------------------------------

    def _stale(self, turn: Turn) -> list[Reply]:
        return [Text(turn.t("fallback.stale"), buttons=screens.main_menu(turn.t).buttons)]

    def _is_admin(self, turn: Turn) -> bool:
        return self.settings.is_admin(turn.event.channel, turn.event.user_id)


def tip_of_the_day(catalog: Catalog, day: dt.date) -> Tip | None:
    """The same tip for everyone on a given day, stable across restarts and processes."""
    tips = sorted((tip for tip in catalog.all_tips() if tip.is_served_on(day)), key=lambda tip: tip.id)
    if not tips:
        return None
    digest = hashlib.sha256(day.isoformat().encode()).digest()
    return tips[int.from_bytes(digest[:8], "big") % len(tips)]


def _mask(user_id: str) -> str:
    return user_id[:2] + "…" if len(user_id) > 2 else "…"


def _describe(event: Incoming) -> str:
    kind = f"button {event.button!r}" if event.button else f"command /{event.command}" if event.command else "text"
    return f"{event.channel} {kind}"


__all__ = ["Button", "Core", "Outcome", "Send", "encode", "tip_of_the_day"]
