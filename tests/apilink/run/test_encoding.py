"""encode_records: one body at once when it can be, else the bad records set aside, named."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from apilink.http.fast_lane import json_body
from apilink.run.encoding import encode_records, why_unencodable


def test_a_good_batch_is_one_body_as_json_body_writes_it() -> None:
    records = [{"id": 1, "name": "ä"}, {"id": 2, "tags": [1, 2]}]
    assert encode_records(records, batch=True, split=True) == (records, json_body(records), [])


def test_a_bad_record_is_set_aside_and_the_body_is_the_rest_byte_for_byte() -> None:
    records: list[dict[str, Any]] = [{"id": 1}, {"id": 2, "x": {"y": [0, float("nan")]}}, {"id": 3}]
    kept, body, refused = encode_records(records, batch=True, split=True)
    assert kept == [{"id": 1}, {"id": 3}]
    assert body == json_body(kept)
    assert [(r["id"], why) for r, why in refused] == [
        (2, "`x.y[1]` is nan (NaN and Infinity have no JSON form)")
    ]


def test_without_split_one_bad_record_fails_them_all() -> None:
    records = [{"id": 1}, {"id": 2, "when": date(2025, 1, 1)}]
    kept, body, refused = encode_records(records, batch=True, split=False)
    assert kept == [] and body is None
    assert [why for _, why in refused][1] == "`when` is a date, which JSON has no form for"


@pytest.mark.parametrize(
    ("record", "said"),
    [
        ({"a": float("-inf")}, "`a` is -inf"),
        ({"a": {1, 2}}, "`a` is a set"),
        ({"a": {("t",): 1}}, "`a` has a key of type tuple"),
    ],
)
def test_the_reason_names_the_field(record: dict[str, Any], said: str) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        json.dumps(record, allow_nan=False)
    assert why_unencodable(record, caught.value).startswith(said)
