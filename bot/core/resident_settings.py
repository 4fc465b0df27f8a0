"""A resident's own settings: village or school, language, and which reminders they receive."""

from __future__ import annotations

from bot.core import screens
from bot.core.events import Button, Reply, Text, Toast
from bot.core.payloads import Action, encode
from bot.core.turn import Turn, stale
from bot.i18n import translator
from bot.storage import Storage

_LANGUAGE_WORDS = {
    "zh": "zh-CN", "zh-cn": "zh-CN", "cn": "zh-CN", "中文": "zh-CN", "汉语": "zh-CN", "chinese": "zh-CN",
    "en": "en", "english": "en", "英文": "en", "英语": "en",
}  # fmt: skip


class SettingsFlow:
    def __init__(self, storage: Storage) -> None:
        self.residents = storage.residents

    async def overview(self, turn: Turn, replace: bool = False) -> list[Reply]:
        return [screens.settings_view(turn.t, turn.catalog, turn.resident.place_id, replace=replace)]

    # -- place ---------------------------------------------------------------------------------

    async def place(self, turn: Turn) -> list[Reply]:
        current = turn.t("place.current", place=screens.place_name(turn.t, turn.catalog, turn.resident.place_id))
        return [Text(current), screens.place_picker(turn.t, turn.catalog, 0, onboarding=False)]

    async def place_page(self, turn: Turn) -> list[Reply]:
        page = turn.payload.arg if turn.payload else ""
        if not page.isdigit():
            return stale(turn)
        return [screens.place_picker(turn.t, turn.catalog, int(page), onboarding=not turn.resident.place_asked)]

    async def township_page(self, turn: Turn) -> list[Reply]:
        """A township chosen (more than one in the content): its villages and schools, a page at a time."""
        township, page = turn.payload.args if turn.payload else ("", "")
        if turn.catalog.township(township) is None or not page.isdigit():
            return stale(turn)
        onboarding = not turn.resident.place_asked
        return [screens.place_picker(turn.t, turn.catalog, int(page), onboarding, township=township)]

    async def set_place(self, turn: Turn) -> list[Reply]:
        place = turn.catalog.place(turn.payload.arg) if turn.payload else None
        if place is None:
            return stale(turn)
        await self.residents.update(turn.resident.id, place_id=place.id, place_asked=True)
        name = screens.place_name(turn.t, turn.catalog, place.id)
        return [Text(turn.t("place.set", place=name)), screens.main_menu(turn.t)]

    async def skip_place(self, turn: Turn) -> list[Reply]:
        await self.residents.update(turn.resident.id, place_asked=True)
        return [Text(turn.t("place.skipped")), screens.main_menu(turn.t)]

    # -- language ------------------------------------------------------------------------------

    async def language(self, turn: Turn) -> list[Reply]:
        """`/language` shows the choice; `/language en` (or zh, 中文, English) sets it at once."""
        wanted = _LANGUAGE_WORDS.get(turn.event.args.strip().lower()) if turn.event.args.strip() else None
        if wanted is not None:
            return await self._switch_language(turn, wanted)
        return [screens.language_picker(turn.t)]

    async def set_language(self, turn: Turn) -> list[Reply]:
        language = {"zh": "zh-CN", "en": "en"}.get(turn.payload.arg if turn.payload else "")
        if language is None:
            return stale(turn)
        return await self._switch_language(turn, language)

    async def _switch_language(self, turn: Turn, language: str) -> list[Reply]:
        await self.residents.update(turn.resident.id, language=language)
        t = translator(language)
        return [Text(t("settings.language_set")), screens.main_menu(t)]

    # -- reminders -----------------------------------------------------------------------------

    async def subscriptions(self, turn: Turn, replace: bool = False) -> list[Reply]:
        optouts = await self.residents.unsubscribed_topics(turn.resident.id)
        return [screens.subscriptions_view(turn.t, turn.catalog, turn.resident.subscribed, optouts, replace)]

    async def subscribe(self, turn: Turn) -> list[Reply]:
        await self.residents.subscribe_all(turn.resident.id)
        return [
            Text(turn.t("subscriptions.subscribed_all")),
            screens.subscriptions_view(turn.t, turn.catalog, True, set()),
        ]

    async def unsubscribe(self, turn: Turn) -> list[Reply]:
        """/unsubscribe, 退订, TD, 不要再发了 …: every reminder stops in one step, with a one-press way back."""
        await self.residents.update(turn.resident.id, subscribed=False)
        return [
            Text(
                turn.t("subscriptions.unsubscribed_all"),
                buttons=(
                    (Button(turn.t("subscriptions.resubscribe"), encode(Action.SUBSCRIBE_ALL)),),
                    (
                        Button(turn.t("subscriptions.by_topic"), encode(Action.SUBSCRIPTIONS)),
                        screens.menu_button(turn.t),
                    ),
                ),
            )
        ]

    async def unsubscribe_all(self, turn: Turn) -> list[Reply]:
        await self.residents.update(turn.resident.id, subscribed=False)
        return [
            Toast(turn.t("subscriptions.unsubscribed_all")),
            screens.subscriptions_view(turn.t, turn.catalog, False, set(), replace=True),
        ]

    async def subscribe_all(self, turn: Turn) -> list[Reply]:
        await self.residents.subscribe_all(turn.resident.id)
        return [
            Toast(turn.t("subscriptions.subscribed_all")),
            screens.subscriptions_view(turn.t, turn.catalog, True, set(), replace=True),
        ]

    async def toggle_topic(self, turn: Turn) -> list[Reply]:
        topic = turn.catalog.topic(turn.payload.arg) if turn.payload else None
        if topic is None:
            return stale(turn)
        optouts = await self.residents.unsubscribed_topics(turn.resident.id)
        now_subscribed = topic.id in optouts
        await self.residents.set_topic_subscription(turn.resident.id, topic.id, now_subscribed)
        optouts ^= {topic.id}
        key = "subscriptions.topic_subscribed" if now_subscribed else "subscriptions.topic_unsubscribed"
        return [
            Toast(turn.t(key, topic=topic.title)),
            screens.subscriptions_view(turn.t, turn.catalog, turn.resident.subscribed, optouts, replace=True),
        ]
