"""Pure builders of the core's screens: catalog + translator in, neutral replies out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bot.content.model import Catalog, Place, PlaceKind, Tip, Topic
from bot.core.events import Button, Delivery, Image, Keyboard, Reply, Text
from bot.core.payloads import Action, encode
from bot.i18n import LANGUAGES, Translator, translator
from bot.storage import Broadcast

PLACES_PER_PAGE = 10


def rows(buttons: list[Button], per_row: int = 2) -> Keyboard:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def menu_button(t: Translator) -> Button:
    return Button(t("menu.back_to_menu"), encode(Action.MENU))


def main_menu(t: Translator, replace: bool = False) -> Text:
    buttons = (
        (Button(t("menu.topics"), encode(Action.TOPICS)), Button(t("menu.daily"), encode(Action.DAILY))),
        (Button(t("quiz.entry"), encode(Action.QUIZ_MENU)), Button(t("quiz.daily"), encode(Action.DAILY_QUIZ))),
        (
            Button(t("menu.settings"), encode(Action.SETTINGS)),
            Button(t("menu.subscriptions"), encode(Action.SUBSCRIPTIONS)),
        ),
        (Button(t("menu.help"), encode(Action.HELP)),),
    )
    return Text(t("menu.prompt"), title=t("menu.title"), buttons=buttons, replace=replace)


def topics_list(t: Translator, catalog: Catalog, today: dt.date, replace: bool = False) -> Text:
    topics = [topic for topic in catalog.topics if topic.served_tips(today)]
    if not topics:
        return Text(t("topics.empty"), buttons=((menu_button(t),),))
    buttons = [Button(topic.label(t.language), encode(Action.TOPIC, topic.id)) for topic in topics]
    return Text(
        t("topics.prompt"), title=t("topics.title"), buttons=(*rows(buttons), (menu_button(t),)), replace=replace
    )


def _tip_reply(tip: Tip, title: str, body: str, buttons: Keyboard, image_root: Path | None, replace: bool) -> Reply:
    delivery = Delivery("tip", topic_id=tip.topic_id, item_id=tip.id)
    if tip.image and image_root is not None:
        return Image(image_root / tip.image, caption=body, title=title, buttons=buttons, delivery=delivery)
    return Text(body, title=title, buttons=buttons, replace=replace, delivery=delivery)


def tip_view(
    t: Translator, topic: Topic, tip: Tip, today: dt.date, image_root: Path | None = None, replace: bool = False
) -> Reply:
    tips = topic.served_tips(today)
    index = tips.index(tip)
    nav = []
    if index > 0:
        nav.append(Button(t("tip.previous"), encode(Action.TIP, tips[index - 1].id)))
    if index + 1 < len(tips):
        nav.append(Button(t("tip.next"), encode(Action.TIP, tips[index + 1].id)))
    keyboard = ((*nav,), (Button(t("tip.back_to_topic"), encode(Action.TOPICS)), menu_button(t)))
    body = "\n\n".join(
        [
            tip.body,
            t("tip.source", sources="；".join(c.render() for c in tip.sources)),
            f"{topic.label(t.language)} · {t('tip.position', index=index + 1, total=len(tips))}",
        ]
    )
    return _tip_reply(tip, tip.title, body, tuple(row for row in keyboard if row), image_root, replace)


def daily_tip(t: Translator, catalog: Catalog, tip: Tip | None, image_root: Path | None = None) -> Reply:
    if tip is None:
        return Text(t("tip.none_today"), buttons=((menu_button(t),),))
    topic = catalog.topic(tip.topic_id)
    sources = "；".join(c.render() for c in tip.sources)
    body = f"{tip.body}\n\n{t('tip.source', sources=sources)}"
    buttons: Keyboard = (
        ((Button(topic.label(t.language), encode(Action.TOPIC, topic.id)), menu_button(t)),)
        if topic
        else ((menu_button(t),),)
    )
    return _tip_reply(tip, f"{t('tip.daily_title')}｜{tip.title}", body, buttons, image_root, replace=False)


def place_picker(t: Translator, catalog: Catalog, page: int, onboarding: bool, township: str | None = None) -> Text:
    """Where the resident lives or studies. With more than one township, the townships come first (`township`
    None), then the chosen township's villages and schools."""
    if catalog.multi_township and township is None:
        return township_picker(t, catalog, page, onboarding)
    # Villages and communities first, then schools: the order residents look for.
    places = catalog.places if township is None else catalog.places_of(township)
    ordered = sorted(places, key=lambda p: p.kind is PlaceKind.SCHOOL)
    pages = max(1, -(-len(ordered) // PLACES_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = ordered[page * PLACES_PER_PAGE : (page + 1) * PLACES_PER_PAGE]
    buttons = [Button(_place_label(p), encode(Action.SET_PLACE, p.id)) for p in shown]
    extra = []
    if page + 1 < pages:
        more = encode(Action.PLACES, page + 1) if township is None else encode(Action.TOWNSHIP, township, page + 1)
        extra.append(Button(t("place.more"), more))
    if township is not None and catalog.multi_township:
        extra.append(Button(t("township.back"), encode(Action.PLACES, 0)))
    extra.append(Button(t("place.skip"), encode(Action.SKIP_PLACE)) if onboarding else menu_button(t))
    if township is not None and catalog.multi_township:
        found = catalog.township(township)
        prompt = t("township.pick_place", township=found.name if found else township)
        return Text(prompt, buttons=(*rows(buttons), tuple(extra)), replace=not onboarding)
    prompt = t("place.ask") if onboarding else t("place.ask_change")
    return Text(prompt, buttons=(*rows(buttons), tuple(extra)), replace=not onboarding and page > 0)


def township_picker(t: Translator, catalog: Catalog, page: int, onboarding: bool) -> Text:
    """A county's townships, a page at a time: the first step of choosing one's place."""
    townships = catalog.townships
    pages = max(1, -(-len(townships) // PLACES_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = townships[page * PLACES_PER_PAGE : (page + 1) * PLACES_PER_PAGE]
    buttons = [Button(f"🏛 {township.name}", encode(Action.TOWNSHIP, township.id, 0)) for township in shown]
    extra = []
    if page + 1 < pages:
        extra.append(Button(t("place.more"), encode(Action.PLACES, page + 1)))
    extra.append(Button(t("place.skip"), encode(Action.SKIP_PLACE)) if onboarding else menu_button(t))
    prompt = t("township.ask") if onboarding else t("township.ask_change")
    return Text(prompt, buttons=(*rows(buttons), tuple(extra)), replace=not onboarding and page > 0)


def _place_label(place: Place) -> str:
    return f"🏫 {place.name}" if place.kind is PlaceKind.SCHOOL else f"🏡 {place.name}"


def place_name(t: Translator, catalog: Catalog, place_id: str | None) -> str:
    """A place's name; with more than one township, after its township's (two townships may each have a 茶园村)."""
    place = catalog.place(place_id) if place_id else None
    if place is None:
        return t("place.none")
    township = catalog.township(place.township_id) if catalog.multi_township else None
    return f"{township.name}{place.name}" if township else place.name


def settings_view(t: Translator, catalog: Catalog, place_id: str | None, replace: bool = False) -> Text:
    body = t("settings.body", place=place_name(t, catalog, place_id), language=t(f"language.{t.language}"))
    buttons = (
        (
            Button(t("settings.place"), encode(Action.PLACES, 0)),
            Button(t("settings.language"), encode(Action.LANGUAGES)),
        ),
        (menu_button(t),),
    )
    return Text(body, title=t("settings.title"), buttons=buttons, replace=replace)


def language_picker(t: Translator) -> Text:
    buttons = tuple(
        Button(t(f"language.{code}"), encode(Action.SET_LANGUAGE, "en" if code == "en" else "zh")) for code in LANGUAGES
    )
    return Text(t("settings.language_prompt"), buttons=(buttons, (menu_button(t),)), replace=True)


def subscriptions_view(
    t: Translator, catalog: Catalog, subscribed: bool, optouts: set[str], replace: bool = False
) -> Text:
    topics = catalog.topics
    receiving = [topic for topic in topics if topic.id not in optouts] if subscribed else []
    if not receiving:
        status = t("subscriptions.status_none")
    elif len(receiving) == len(topics):
        status = t("subscriptions.status_all")
    else:
        status = t("subscriptions.status_some", topics="、".join(topic.name(t.language) for topic in receiving))
    buttons: list[Button] = []
    if subscribed:
        buttons = [
            Button(
                t(
                    "subscriptions.topic_off" if topic.id in optouts else "subscriptions.topic_on",
                    topic=topic.name(t.language),
                ),
                encode(Action.TOGGLE_TOPIC, topic.id),
            )
            for topic in topics
        ]
    bulk = (
        Button(t("subscriptions.unsubscribe_all"), encode(Action.UNSUBSCRIBE_ALL))
        if subscribed
        else Button(t("subscriptions.subscribe_all"), encode(Action.SUBSCRIBE_ALL))
    )
    body = f"{status}\n{t('subscriptions.hint')}" if subscribed else status
    return Text(body, title=t("subscriptions.title"), buttons=(*rows(buttons), (bulk, menu_button(t))), replace=replace)


def help_view(t: Translator) -> Text:
    return Text(t("help.body"), title=t("help.title"), buttons=((menu_button(t),),))


def admin_view(t: Translator, catalog: Catalog, township: str | None = None) -> Text:
    """The admin menu; an admin of one `township` (its name) is told so, and reloading is the county's."""
    counts = content_counts(catalog)
    if township is None:
        return Text(
            t("admin.body", **counts),
            title=t("admin.title"),
            buttons=((Button(t("admin.reload"), encode(Action.ADMIN_RELOAD)),), (menu_button(t),)),
        )
    body = f"{t('township.admin_scope', township=township)}\n{t('admin.body', **counts)}"
    return Text(body, title=t("admin.title"), buttons=((menu_button(t),),))


def content_counts(catalog: Catalog) -> dict[str, int]:
    return {
        "topics": len(catalog.topics),
        "tips": sum(len(topic.tips) for topic in catalog.topics),
        "questions": sum(len(topic.quiz) for topic in catalog.topics),
    }


@dataclass(frozen=True)
class BroadcastContent:
    """What a broadcast sends: a tip from the catalogue, or an admin's text (with an optional image)."""

    item_id: str | None = None
    text: str | None = None
    image: str | None = None
    topic_id: str | None = None
    campaign_id: str | None = None
    broadcast_id: int | None = None  # None in a preview: not sent yet

    @classmethod
    def of(cls, broadcast: Broadcast) -> BroadcastContent:
        """What a stored broadcast sends."""
        return cls(
            item_id=broadcast.item_id,
            text=broadcast.text,
            image=broadcast.image,
            topic_id=broadcast.topic_id,
            campaign_id=broadcast.campaign_id,
            broadcast_id=broadcast.id,
        )


def broadcast_message(
    content: BroadcastContent, catalog: Catalog, language: str | None, content_dir: Path
) -> list[Reply] | None:
    """What each recipient of a broadcast gets (and the admin's preview shows); None when the tip is gone."""
    t = translator(language or "zh-CN")
    delivery = Delivery(
        "broadcast",
        topic_id=content.topic_id,
        item_id=content.item_id,
        campaign_id=content.campaign_id,
        broadcast_id=content.broadcast_id,
    )
    footer = t("broadcast.footer")
    if content.item_id:
        tip = catalog.tip(content.item_id)
        topic = catalog.topic(tip.topic_id) if tip else None
        if tip is None or topic is None:
            return None
        sources = "；".join(c.render() for c in tip.sources)
        body = f"{tip.body}\n\n{t('tip.source', sources=sources)}\n\n{footer}"
        buttons = ((Button(topic.label(t.language), encode(Action.TOPIC, topic.id)), menu_button(t)),)
        if tip.image:
            return [Image(content_dir / tip.image, caption=body, title=tip.title, buttons=buttons, delivery=delivery)]
        return [Text(body, title=tip.title, buttons=buttons, delivery=delivery)]
    text = Text(
        f"{content.text}\n\n{footer}",
        title=t("broadcast.title"),
        buttons=((menu_button(t),),),
        delivery=delivery,
    )
    if content.image:
        return [Image(content_dir / content.image), text]
    return [text]
