"""Field paths: the made-once readers and writers do what ``get_path`` and ``set_path`` do."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apilink.mapping.paths import MISSING, get_path, path_getter, path_setter, set_path

PATHS = ["id", "profile.city", "items[0]", "items[1].id", "a.b.c", "profile.city.name"]

RECORDS: list[Any] = [
    {"id": 1, "profile": {"city": "Lyon"}, "items": [{"id": 7}, {"id": 8}], "a": {"b": {"c": 0}}},
    {"id": None, "profile": None, "items": []},
    {"profile": "flat", "items": "no"},
    {"profile": {"city": None}},
    {},
    [],
    "text",
    None,
]


@pytest.mark.parametrize("path", PATHS)
def test_a_getter_reads_what_get_path_reads(path: str) -> None:
    read = path_getter(path)
    for record in RECORDS:
        assert read(record) is get_path(record, path) or read(record) == get_path(record, path)


def test_a_getter_tells_absent_from_null() -> None:
    assert path_getter("profile.city")({"profile": {"city": None}}) is None
    assert path_getter("profile.city")({"profile": {}}) is MISSING
    assert path_getter("id")({"id": None}) is None
    assert path_getter("id")({}) is MISSING


@pytest.mark.parametrize("path", PATHS)
def test_a_setter_writes_what_set_path_writes(path: str) -> None:
    starts: list[dict[str, Any]] = [{}, {"profile": None, "a": None}, {"profile": {"zip": 1}}]
    for start in starts:
        ours, theirs = copy.deepcopy(start), copy.deepcopy(start)
        path_setter(path)(ours, "v")
        set_path(theirs, path, "v")
        assert ours == theirs


def test_a_setter_refuses_what_set_path_refuses() -> None:
    with pytest.raises(TypeError):
        path_setter("profile.city")({"profile": "flat"}, "v")
    with pytest.raises(TypeError):
        set_path({"profile": "flat"}, "profile.city", "v")
