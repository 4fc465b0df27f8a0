"""Reads content/places.yaml: the town's name, its townships and its villages, communities and schools.

A file without `townships:` describes one town (the format since the start): every place belongs to one implicit
township, id "town", named by `town:`. A county deployment declares `townships:` (each an id and a name) and names
one of them on every place with `township: <id>`.
"""

from __future__ import annotations

from typing import Any

from bot.content.fields import ProblemSink, Section
from bot.content.items import LIMITS, FirstSeen
from bot.content.model import TOWN_ID, Place, PlaceKind, Township
from bot.content.problems import msg


def read_places(
    sink: ProblemSink, data: Any, ids: FirstSeen, declared: set[str]
) -> tuple[str, tuple[Township, ...], list[Place]]:
    """The town, its townships (always at least one when there is no error) and every valid place. Adds every place
    id written in the file to `declared`, even of an entry with errors, so that what refers to it is not reported as
    unknown (the entry's own error says why)."""
    top = Section(sink, msg("thing.places_file"), data, 1, required=["town", "places"], optional=["townships"])
    town = top.text("town", LIMITS["place_name"]) or ""
    multi = top.valid and "townships" in top.data
    townships, township_ids = _read_townships(sink, top, ids) if multi else ((Township(TOWN_ID, town),), ())
    places: list[Place] = []
    for line, item in top.sequence("places", min_items=1):
        section = Section(
            sink,
            msg("thing.place"),
            item,
            line,
            required=["id", "name", "kind"],
            optional=["population", "enrolment", "township"],
        )
        place_id, name = section.identifier(), section.text("name", LIMITS["place_name"])
        if place_id:
            declared.add(place_id)
        kind_text = section.text("kind")
        kind = None
        if kind_text is not None:
            try:
                kind = PlaceKind(kind_text)
            except ValueError:
                sink.error(section.line_of("kind"), "place_kind", kind=kind_text)
        population, enrolment = section.integer("population", 1), section.integer("enrolment", 1)
        if kind is PlaceKind.SCHOOL and section.has("population"):
            sink.error(section.line_of("population"), "school_population")
        if kind in (PlaceKind.VILLAGE, PlaceKind.COMMUNITY) and section.has("enrolment"):
            sink.error(section.line_of("enrolment"), "village_enrolment")
        township_id = _township_of(sink, section, place_id, township_ids) if multi else _no_township(sink, section)
        if place_id and name and kind and ids.claim(sink, "place", place_id, section.line) and township_id:
            places.append(Place(place_id, name, kind, population, enrolment, township_id))
    return town, townships, places


def _read_townships(
    sink: ProblemSink, top: Section, ids: FirstSeen
) -> tuple[tuple[Township, ...], tuple[str, ...] | None]:
    """The valid townships, and every township id written, even of an entry with errors: a place naming it is not
    reported as unknown, the entry's own error says what is wrong. None instead of the ids when `townships:` is empty or
    not a list: its own error says so, and the places' `township:` are not checked one by one."""
    if not top.has("townships"):  # `townships:` with nothing after it
        sink.error(top.line_of("townships"), "empty", what=msg("thing.key_of", key="townships", what=top.what))
        return (), None
    if not isinstance(top.data["townships"], list) or not top.data["townships"]:
        top.sequence("townships", min_items=1)  # reports that it is not a list, or an empty one
        return (), None
    townships: list[Township] = []
    written: dict[str, None] = {}  # in file order
    for line, item in top.sequence("townships", min_items=1):
        section = Section(sink, msg("thing.township"), item, line, required=["id", "name"])
        township_id, name = section.identifier(), section.text("name", LIMITS["place_name"])
        if township_id:
            written[township_id] = None
        if township_id and name and ids.claim(sink, "township", township_id, section.line_of("id")):
            townships.append(Township(township_id, name))
    return tuple(townships), tuple(written)


def _township_of(
    sink: ProblemSink, place: Section, place_id: str | None, written: tuple[str, ...] | None
) -> str | None:
    """The `township:` of a place in a file that declares townships: required, and one of them."""
    if not place.valid:
        return None
    if "township" not in place.data:
        sink.error(place.line, "township_missing", id=place_id or "?", townships=written or ())
        return None
    if not place.has("township"):  # `township:` with nothing after it
        sink.error(place.line_of("township"), "empty", what=msg("thing.key_of", key="township", what=place.what))
        return None
    township_id = place.text("township")
    if township_id is None or written is None:
        return township_id
    if township_id not in written:
        sink.error(place.line_of("township"), "unknown_township", township=township_id, townships=written)
        return None
    return township_id


def _no_township(sink: ProblemSink, place: Section) -> str:
    """A one-town file: every place is the town's. A `township:` there is an error that says to declare townships."""
    if place.valid and "township" in place.data:
        sink.error(place.line_of("township"), "township_undeclared", township=str(place.data["township"]))
    return TOWN_ID
