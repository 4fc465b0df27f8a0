"""Reads the files that shape how residents' messages are matched: content/urgent.yaml (urgent intents and their
trigger words) and content/synonyms.yaml (what residents type, mapped to the word tips use)."""

from __future__ import annotations

import itertools
from typing import Any

from bot.content.fields import ProblemSink, Section, check_text
from bot.content.items import LIMITS, FirstSeen, ItemReader
from bot.content.model import Law, UrgentIntent
from bot.content.problems import msg
from bot.textnorm import normalize

MAX_TRIGGER_EXPANSION = 500  # one trigger line with "|" alternatives stands for at most this many triggers


def read_urgent(
    sink: ProblemSink, data: Any, laws: dict[str, Law], items: ItemReader, ids: FirstSeen
) -> list[UrgentIntent]:
    top = Section(sink, msg("thing.urgent_file"), data, 1, required=["urgent"], optional=["now"])
    now_word = msg("thing.now_word")
    now = tuple(
        normalize(text) for line, value in top.sequence("now") if (text := check_text(sink, value, line, now_word))
    )
    intents = []
    for line, item in top.sequence("urgent", min_items=1):
        s = Section(
            sink,
            msg("thing.urgent_intent"),
            item,
            line,
            required=["id", "name", "triggers", "reply", "source"],
            optional=["unless", "now_triggers"],
        )
        intent_id, name = s.identifier(), s.text("name", 20)
        reply = s.text("reply", LIMITS["tip_body"])
        triggers = []
        for trigger_line, trigger in s.sequence("triggers", min_items=1):
            triggers.extend(_trigger_words(sink, trigger, trigger_line))
        now_triggers = []
        for trigger_line, trigger in s.sequence("now_triggers"):
            now_triggers.extend(_trigger_words(sink, trigger, trigger_line))
        if now_triggers and not now:
            sink.error(s.line_of("now_triggers"), "now_triggers_need_now")
        unless = [
            normalize(text)
            for unless_line, value in s.sequence("unless")
            if (text := check_text(sink, value, unless_line, msg("thing.unless_word")))
        ]
        sources = items.sources(sink, s, laws)
        items.check_law_mentions(sink, s, ["reply"])
        if intent_id and not ids.claim(sink, "urgent intent", intent_id, s.line_of("id")):
            intent_id = None
        if intent_id and name and reply and triggers and sources:
            intents.append(
                UrgentIntent(intent_id, name, tuple(triggers), tuple(unless), reply, sources, now, tuple(now_triggers))
            )
    return intents


def _trigger_words(sink: ProblemSink, trigger: Any, line: int) -> list[tuple[str, ...]]:
    """One trigger line: every combination of words it stands for, or none when it is wrong."""
    text = check_text(sink, trigger, line, msg("thing.trigger"))
    if text is None:
        return []
    # Words joined by "+" must all appear; "a|b" in a word's place means either of them.
    slots = [[normalize(word) for word in slot.split("|")] for slot in text.split("+")]
    if not all(all(slot) for slot in slots):
        sink.error(line, "trigger_empty_word", trigger=text)
        return []
    expansion = 1
    for slot in slots:
        expansion *= len(slot)
    if expansion > MAX_TRIGGER_EXPANSION:
        sink.error(line, "trigger_too_many", trigger=text, count=expansion, most=MAX_TRIGGER_EXPANSION)
        return []
    return list(itertools.product(*slots))


def read_synonyms(sink: ProblemSink, data: Any) -> dict[str, str]:
    top = Section(sink, msg("thing.synonyms_file"), data, 1, required=["synonyms"])
    synonyms: dict[str, str] = {}
    if top.has("synonyms"):
        mapping = top.data["synonyms"]
        if not isinstance(mapping, dict):
            sink.error(top.line_of("synonyms"), "synonyms_not_mapping")
        else:
            for wrong, right in mapping.items():
                line = mapping.key_lines.get(wrong, top.line)
                target = check_text(sink, right, line, msg("thing.synonym_of", word=str(wrong)))
                source = normalize(str(wrong))
                if target and source:
                    synonyms[source] = normalize(target)
    return synonyms
