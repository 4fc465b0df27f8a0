"""Reads content/places.yaml: the town's name and its villages, communities and schools."""

from __future__ import annotations

from typing import Any

from bot.content.fields import ProblemSink, Section
from bot.content.items import LIMITS, FirstSeen
from bot.content.model import Place, PlaceKind
from bot.content.problems import msg


def read_places(sink: ProblemSink, data: Any, ids: FirstSeen, declared: set[str]) -> tuple[str, list[Place]]:
    """The town and every valid place. Adds every place id written in the file to `declared`, even of an entry
    with errors, so that what refers to it is not reported as unknown (the entry's own error says why)."""
    top = Section(sink, msg("thing.places_file"), data, 1, required=["town", "places"])
    town = top.text("town", LIMITS["place_name"]) or ""
    places: list[Place] = []
    for line, item in top.sequence("places", min_items=1):
        section = Section(
            sink, msg("thing.place"), item, line, required=["id", "name", "kind"], optional=["population", "enrolment"]
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
        if place_id and name and kind and ids.claim(sink, "place", place_id, section.line):
            places.append(Place(place_id, name, kind, population, enrolment))
    return town, places
