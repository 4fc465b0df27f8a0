"""Free-text questions: urgent help first, then the best tips from our reviewed content."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from bot.content.model import Catalog, DisputeKind
from bot.core import screens
from bot.core.events import Button, Delivery, Reply, Text
from bot.core.payloads import Action, encode
from bot.core.referrals import find_dispute
from bot.core.search import TipIndex, build_index, detect_urgent
from bot.i18n import Translator
from bot.storage import Storage
from bot.textnorm import normalize

MIN_SCORE = 6.0  # below this nothing matched well enough (tuned on tests/data/questions.yaml)
PER_TERM = 3.0  # a very short question ("诈骗") cannot score high: its bar is lower, per term it has
RELATIVE = 0.5  # further hits must score at least half the best one
MAX_HITS = 3

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

        Urgent help first; then a dispute the tips do not cover goes to `refer` (the town's own help);
        then the best tips.
        """
        # Normalised once here (Simplified, NFKC, synonyms) and handed to every matcher below.
        normalized = normalize(text, catalog.synonyms)
        if not normalized:  # synonyms only replace words by words: empty exactly when the text was
            return None
        intent = detect_urgent(catalog.urgent, text, normalized=normalized)
        if intent is not None:
            sources = "；".join(c.render() for c in intent.sources)
            return [
                Text(
                    f"{intent.reply}\n\n{t('tip.source', sources=sources)}",
                    title=f"⚠️ {intent.name}",
                    buttons=((screens.menu_button(t),),),
                    delivery=Delivery("answer", item_id=f"urgent:{intent.id}"),
                )
            ]
        dispute = find_dispute(catalog.office, text, normalized=normalized) if refer is not None else None
        if dispute is not None and refer is not None:
            return await refer(dispute)
        hits, term_count = self.index(catalog, today).lookup(text, MAX_HITS, normalized=normalized)
        bar = threshold(term_count)
        if not hits or hits[0].score < bar:
            await self._log_unanswered(normalized)
            return [Text(t("answers.none"), buttons=screens.main_menu(t).buttons)]
        best = hits[0].score
        hits = [hit for hit in hits if hit.score >= max(bar, RELATIVE * best)]
        first = hits[0].tip
        sources = "；".join(c.render() for c in first.sources)
        replies: list[Reply] = [
            Text(
                f"{first.body}\n\n{t('tip.source', sources=sources)}",
                title=first.title,
                buttons=((screens.menu_button(t),),) if len(hits) == 1 else (),
                delivery=Delivery("answer", topic_id=first.topic_id, item_id=first.id),
            )
        ]
        if len(hits) > 1:
            related = tuple((Button(hit.tip.title, encode(Action.TIP, hit.tip.id)),) for hit in hits[1:])
            replies.append(Text(t("answers.related"), buttons=(*related, (screens.menu_button(t),))))
        return replies

    async def _log_unanswered(self, question: str) -> None:
        """Best effort: the resident still gets the "not found" answer when the log cannot be written."""
        try:
            await self.storage.questions.log_unanswered(question)
        except Exception as exc:
            log.warning("could not log an unanswered question: %s: %s", type(exc).__name__, exc)


def threshold(query_terms: int) -> float:
    """The score a best hit needs to be shown."""
    return min(MIN_SCORE, PER_TERM * max(1, query_terms))
