"""RecordMapper: source, default, value, template, condition, transformers."""

from __future__ import annotations

from typing import Any

import pytest

from apilink.errors import MappingFailure
from apilink.mapping import RecordMapper, register_transformer
from apilink.mapping.field_config import FieldMapping

USER = {
    "id": 7,
    "email": " Ada@Example.ORG ",
    "age": 36,
    "vip": True,
    "profile": {"first_name": "Ada", "last_name": "Lovelace"},
    "tags": [{"name": "math"}],
}


def mapper(*fields: dict[str, Any]) -> RecordMapper:
    return RecordMapper([FieldMapping.model_validate(f) for f in fields])


def test_every_origin() -> None:
    out = mapper(
        {"source": "email", "target": "contact.email", "transform": ["strip", "lowercase"]},
        {"target": "origin", "value": "crm-sync"},
        {"target": "name", "template": "{profile.first_name} {profile.last_name}"},
        {"target": "label", "template": "#{id}: {tags[0].name} {{raw}}"},
        {"source": "nickname", "target": "nick", "default": "n/a"},
        {"target": "country", "default": "FR"},
        {"source": "tags[0].name", "target": "labels[0]"},
    ).map(USER)
    assert out == {
        "contact": {"email": "ada@example.org"},
        "origin": "crm-sync",
        "name": "Ada Lovelace",
        "label": "#7: math {raw}",
        "nick": "n/a",
        "country": "FR",
        "labels": ["math"],
    }


def test_an_absent_source_without_default_leaves_the_field_out() -> None:
    assert mapper({"source": "missing.path", "target": "x"}).map(USER) == {}


def test_a_null_source_takes_the_default() -> None:
    assert mapper({"source": "n", "target": "x", "default": 0}).map({"n": None}) == {"x": 0}


def test_a_template_over_absent_values_renders_empty_parts() -> None:
    out = mapper({"target": "name", "template": "{profile.first_name}|{profile.middle}"}).map(USER)
    assert out == {"name": "Ada|"}


@pytest.mark.parametrize(
    ("condition", "mapped"),
    [
        ({"path": "vip", "eq": True}, True),
        ({"path": "vip", "eq": 1}, False),  # a boolean is not a number
        ({"path": "age", "gt": 18}, True),
        ({"path": "age", "lt": 18}, False),
        ({"path": "age", "ne": 36}, False),
        ({"path": "profile.first_name", "in": ["Ada", "Grace"]}, True),
        ({"path": "email", "exists": True}, True),
        ({"path": "phone", "not_exists": True}, True),
        ({"path": "phone", "eq": "x"}, False),  # absent: no crash, just false
        ({"path": "phone", "gt": 3}, False),
        ({"path": "phone", "ne": "x"}, True),
        ({"path": "email", "gt": 3}, False),  # a string against a number: false
        ({"path": "profile", "lt": 3}, False),
    ],
)
def test_conditions(condition: dict[str, Any], mapped: bool) -> None:
    out = mapper(
        {"target": "tier", "value": "gold", "condition": condition},
        {"source": "id", "target": "id"},
    ).map(USER)
    assert ("tier" in out) is mapped
    assert out["id"] == 7  # a false condition skips only its own field


def test_a_failing_transformer_names_field_and_transformer_never_the_value() -> None:
    @register_transformer("test_explodes")
    def explodes(value: Any) -> Any:
        raise RuntimeError(f"cannot handle {value}")

    with pytest.raises(MappingFailure) as caught:
        mapper({"source": "email", "target": "e", "transform": "test_explodes"}).map(USER)
    message = str(caught.value)
    assert "test_explodes" in message and "`e`" in message and "Ada" not in message


@pytest.mark.parametrize(
    ("field", "match"),
    [
        ({"target": "x"}, "needs `source`"),
        ({"source": "a", "value": 1, "target": "x"}, "one of"),
        ({"template": "{a", "target": "x"}, "never closed"),
        ({"template": "a}", "target": "x"}, "stray"),
        ({"template": "{a..b}", "target": "x"}, "bad field path"),
        ({"value": 1, "target": "x", "condition": {"path": "a"}}, "exactly one"),
        ({"value": 1, "target": "x", "condition": {"path": "a", "eq": 1, "gt": 0}}, "exactly one"),
        ({"value": 1, "target": "x", "condition": {"path": "a", "exists": False}}, "unclear"),
        ({"value": 1, "target": "x", "condition": {"path": "a", "like": 1}}, "exactly one"),
    ],
)
def test_bad_fields_are_refused_when_the_config_loads(field: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FieldMapping.model_validate(field)


def test_short_paths_read_in_place_mean_what_the_general_path_means() -> None:
    fields = (
        {"source": "a", "target": "x"},
        {"source": "p.q", "target": "y.z", "default": "d"},
        {"source": "p.q", "target": "w", "transform": ["to_string"]},
        {"source": "items[0]", "target": "first"},
        {"target": "kind", "value": "user"},
    )
    check = mapper(*fields)
    assert check.map({"a": 1, "p": {"q": 2}, "items": [9]}) == {
        "x": 1,
        "y": {"z": 2},
        "w": "2",
        "first": 9,
        "kind": "user",
    }
    # An absent middle, a middle that is not an object, a null: default, None, or left out.
    assert check.map({"p": "flat"}) == {"y": {"z": "d"}, "w": None, "kind": "user"}
    assert check.map({"a": None, "p": {"q": None}}) == {
        "x": None,
        "y": {"z": "d"},
        "w": None,
        "kind": "user",
    }
    # A record that is not an object: only what needs no source.
    for odd in (["a"], "text", 7, None):
        assert check.map(odd) == {"y": {"z": "d"}, "w": None, "kind": "user"}  # type: ignore[arg-type]
