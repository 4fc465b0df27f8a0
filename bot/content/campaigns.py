"""Reads content/campaigns.yaml: scheduled broadcasts, each a tip or a text sent to an audience on a calendar rule.

`CampaignReader` reads them for the loader, like `ItemReader` reads topics: one problem per mistake, each with its
file:line; campaign ids are checked for duplicates with every other id of the directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.content.calendar import parse_rule, parse_time
from bot.content.fields import ProblemSink, Section
from bot.content.items import KIND_NAMES, LIMITS, FirstSeen, ItemReader
from bot.content.model import Campaign, Place, Topic
from bot.content.problems import msg


@dataclass(frozen=True)
class Declarations:
    """Ids written in the topic and place files, even of entries with errors, and those files that could not be
    read at all. A reference that is not found is no error of its own when one of them explains it."""

    tips: set[str]
    topics: set[str]
    places: set[str]
    unreadable_topics: list[str]
    unreadable_places: str | None

    def missing_is_error(self, kind: str, value: str, line: int, unchecked: list[int]) -> bool:
        """True when a reference that was not found is an error here; False when another file explains it (and
        `line` is added to `unchecked` when that file could not be read)."""
        declared = {"tip": self.tips, "topic": self.topics, "place": self.places}
        if value in declared[kind]:
            return False  # it is there, with an error of its own in its own file
        if (kind == "place" and self.unreadable_places) or (kind != "place" and self.unreadable_topics):
            unchecked.append(line)
            return False
        return True

    def unreadable_files(self) -> list[str]:
        return [*self.unreadable_topics, *([self.unreadable_places] if self.unreadable_places else [])]


class CampaignReader:
    def __init__(self, items: ItemReader, ids: FirstSeen) -> None:
        self.items = items
        self.ids = ids

    def campaigns(
        self, sink: ProblemSink, data: Any, topics: list[Topic], places: list[Place], declarations: Declarations
    ) -> list[Campaign]:
        tips = {tip.id: tip for topic in topics for tip in topic.tips}
        topic_ids, place_ids = {t.id for t in topics}, {p.id for p in places}
        top = Section(sink, msg("thing.campaigns_file"), data, 1, required=["campaigns"])
        campaigns = []
        unchecked: list[int] = []  # lines whose references may be in a file that could not be read
        for line, item in top.sequence("campaigns", min_items=1):
            s = Section(
                sink,
                msg("thing.campaign"),
                item,
                line,
                required=["id", "name", "when", "time", "to"],
                optional=["item", "text", "topic"],
            )
            campaign_id, name = s.identifier(), s.text("name", 40)
            rule = when = None
            if s.has("when"):
                try:
                    rule = parse_rule(str(s.data["when"]))
                except ValueError:
                    sink.error(s.line_of("when"), "bad_date_rule", text=str(s.data["when"]))
            if s.has("time"):
                try:
                    when = parse_time(str(s.data["time"]))
                except ValueError:
                    sink.error(s.line_of("time"), "bad_time", text=str(s.data["time"]))
            item_id, text, topic_id = s.text("item"), s.text("text", LIMITS["tip_body"]), s.text("topic")
            self.items.check_law_mentions(sink, s, ["text"])  # 「《消防法》第四十四条规定」: the law and article exist
            if (item_id is None) == (text is None):
                sink.error(s.line, "item_or_text")
            tip = tips.get(item_id) if item_id else None
            if item_id and tip is None:
                if declarations.missing_is_error("tip", item_id, s.line_of("item"), unchecked):
                    sink.error(s.line_of("item"), "campaign_item_unknown", id=item_id)
            elif tip is not None and not tip.is_served_on(self.items.today):
                sink.warning(s.line_of("item"), "campaign_item_expired", id=item_id)
            topic_line = s.line_of("topic")
            if (
                topic_id
                and topic_id not in topic_ids
                and declarations.missing_is_error("topic", topic_id, topic_line, unchecked)
            ):
                sink.error(topic_line, "unknown_topic", id=topic_id)
            audience = []
            for spec_line, spec in s.sequence("to", min_items=1):
                spec_text = str(spec)
                kind, _, value = spec_text.partition(":")
                known = {"lang": {"zh-CN", "en"}, "topic": topic_ids, "place": place_ids}
                if spec_text == "all" or value in known.get(kind, ()):
                    audience.append(spec_text)
                elif kind in ("topic", "place"):
                    if declarations.missing_is_error(kind, value, spec_line, unchecked):
                        sink.error(spec_line, "audience_unknown", audience=spec_text, kind=KIND_NAMES[kind], id=value)
                else:
                    sink.error(spec_line, "audience_form", audience=spec_text)
            if campaign_id and not self.ids.claim(sink, "campaign", campaign_id, s.line_of("id")):
                campaign_id = None
            if campaign_id and name and rule and when and audience and (item_id or text):
                campaigns.append(
                    Campaign(
                        campaign_id,
                        name,
                        rule,
                        when,
                        tuple(audience),
                        item_id,
                        text,
                        topic_id or (tip.topic_id if tip else None),
                    )
                )
        if unchecked:
            sink.warning(
                unchecked[0],
                "references_unchecked",
                count=len(unchecked),
                files=tuple(declarations.unreadable_files()),
            )
        return campaigns
