"""Free-text questions: urgent help first, then the best tips from our reviewed content."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from bot.content.model import Catalog, DisputeKind
from bot.core import screens
from bot.core.deciding import Kind, decide
from bot.core.events import Button, Delivery, Reply, Text
from bot.core.payloads import Action, encode
from bot.core.search import TipIndex, build_index
from bot.i18n import Translator
from bot.storage import Storage
from bot.textnorm import normalize

log = logging.getLogger(__name__)

Refer = Callable[[DisputeKind], Awaitable[list[Reply]]]


class AnswerFlow:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._index: tuple[int, dt.date, TipIndex] | None = None

    def index(self, catalog: Catalog, today: dt.date) -> TipIndex:
        """Built once per content version and day (a reload or an expiry changes what may be served)."""
        if self._index is None or self._index[0] != id(catalog) or self._index[1] != today:
            self._index = (id(catalog), today, build_index(catalog, today))
        return self._index[2]

    async def answer(
        self, t: Translator, catalog: Catalog, today: dt.date, text: str, refer: Refer | None = None
    ) -> list[Reply] | None:
        """Replies for a question, or None when the text is not a question at all (empty, emoji).

        Urgent help first; then one tip when it is clearly the answer; a dispute the tips do not cover goes to
        `refer` (the town's own help); then 「您是想问……」 with the closest tips; else "not found".
        """
        # Normalised once here (Simplified, NFKC, synonyms) and handed to every matcher.
        normalized = normalize(text, catalog.synonyms)
        if not normalized:  # synonyms only replace words by words: empty exactly when the text was
            return None
        decision = decide(catalog, self.index(catalog, today), normalized, office=refer is not None)
        if decision.kind is Kind.URGENT and decision.urgent is not None:
            intent = decision.urgent
            sources = "；".join(c.render() for c in intent.sources)
            return [
                Text(
                    f"{intent.reply}\n\n{t('tip.source', sources=sources)}",
                    title=f"⚠️ {intent.name}",
                    buttons=((screens.menu_button(t),),),
                    delivery=Delivery("answer", item_id=f"urgent:{intent.id}"),
                )
            ]
        if decision.kind is Kind.REFERRAL and decision.dispute is not None and refer is not None:
            return await refer(decision.dispute)
        if decision.kind is Kind.ASK_BACK:
            choices = tuple((Button(tip.title, encode(Action.TIP, tip.id)),) for tip in decision.tips)
            return [Text(t("answers.did_you_mean"), buttons=(*choices, (screens.menu_button(t),)))]
        if decision.kind is not Kind.TIP:
            await self._log_unanswered(normalized)
            return [Text(t("answers.none"), buttons=screens.main_menu(t).buttons)]
        first, *others = decision.tips
        sources = "；".join(c.render() for c in first.sources)
        replies: list[Reply] = [
            Text(
                f"{first.body}\n\n{t('tip.source', sources=sources)}",
                title=first.title,
                buttons=() if others else ((screens.menu_button(t),),),
                delivery=Delivery("answer", topic_id=first.topic_id, item_id=first.id),
            )
        ]
        if others:
            related = tuple((Button(tip.title, encode(Action.TIP, tip.id)),) for tip in others)
            replies.append(Text(t("answers.related"), buttons=(*related, (screens.menu_button(t),))))
        return replies

    async def _log_unanswered(self, question: str) -> None:
        """Best effort: the resident still gets the "not found" answer when the log cannot be written."""
        try:
            await self.storage.questions.log_unanswered(question)
        except Exception as exc:
            log.warning("could not log an unanswered question: %s: %s", type(exc).__name__, exc)
