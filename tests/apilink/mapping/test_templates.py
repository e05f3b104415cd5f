"""Templates over record paths."""

from __future__ import annotations

from apilink.mapping import Template


def test_paths_indexes_and_escaped_braces() -> None:
    template = Template("{{{ a.b }}} {items[1].id}-{missing}")
    assert template.paths == ["a.b", "items[1].id", "missing"]
    assert template.render({"a": {"b": 1}, "items": [{}, {"id": "x"}]}) == "{1} x-"


def test_nothing_is_evaluated() -> None:
    # str.format would read attributes; a template reads only record paths.
    assert Template("{__class__}").render({}) == ""
