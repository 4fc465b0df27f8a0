"""YAML parsing that remembers where every value came from.

Editors need `file:line` for each problem, so mappings and sequences are built as
dict/list subclasses that carry the line of each key and item (1-based).
Duplicate keys, which PyYAML silently collapses, are recorded as problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.content.problems import Msg, msg


class LocatedDict(dict):
    """A mapping with the line of the mapping itself and of each key.

    `text_lines` gives, for a value written as a literal block (`key: |`), the line of its first text line, so a
    problem found inside the text can name the line it is on.
    """

    line: int
    key_lines: dict[str, int]
    text_lines: dict[str, int]


class LocatedList(list):
    """A sequence with the line of the sequence and of each item."""

    line: int
    item_lines: list[int]


@dataclass
class ParseResult:
    data: Any
    duplicate_keys: list[tuple[int, str]] = field(default_factory=list)


# libyaml's parser (PyYAML's C extension, in its wheels) composes the nodes, with their marks, several times
# faster than the pure-Python one: loading the content is most of what `python -m bot stats` waits for.
_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LocatingLoader(_Base):  # type: ignore[misc, valid-type]
    duplicate_keys: list[tuple[int, str]]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LocatedDict:  # type: ignore[override]
        self.flatten_mapping(node)
        result = LocatedDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        result.text_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            key_text = str(key)
            line = key_node.start_mark.line + 1
            if key_text in result.key_lines:
                self.duplicate_keys.append((line, key_text))
            result[key_text] = self.construct_object(value_node, deep=True)
            result.key_lines[key_text] = line
            if isinstance(value_node, yaml.ScalarNode) and value_node.style == "|":
                result.text_lines[key_text] = value_node.start_mark.line + 2  # the text starts below `key: |`
        return result

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:  # type: ignore[override]
        """A date that is not in the calendar (2026-02-30) stays text: the checker names it with its line."""
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LocatedList:  # type: ignore[override]
        result = LocatedList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_LocatingLoader.add_constructor("tag:yaml.org,2002:map", _LocatingLoader.construct_mapping)
_LocatingLoader.add_constructor("tag:yaml.org,2002:seq", _LocatingLoader.construct_sequence)
_LocatingLoader.add_constructor("tag:yaml.org,2002:timestamp", _LocatingLoader.construct_yaml_timestamp)


class YamlSyntaxError(Exception):
    """A file that is not valid YAML; `line` is 1-based, `detail` the checker message (PyYAML's words inside)."""

    def __init__(self, line: int, detail: Msg) -> None:
        self.line = line
        self.detail = detail
        self.message = detail.render("en")
        super().__init__(self.message)


def parse_yaml(path: Path) -> ParseResult:
    """Parse one YAML file; raises YamlSyntaxError (with a line) or OSError."""
    text = path.read_text(encoding="utf-8")
    loader = _LocatingLoader(text)
    loader.duplicate_keys = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        detail = msg("yaml_syntax", problem=problem)
        if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            # e.g. an unclosed quote: the problem is found at the end, the cause is where it started
            detail = msg("yaml_syntax_from", problem=problem, context=exc.context, start=exc.context_mark.line + 1)
        raise YamlSyntaxError(line, detail) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, msg("yaml_error", error=str(exc))) from None
    finally:
        loader.dispose()
    return ParseResult(data=data, duplicate_keys=loader.duplicate_keys)
