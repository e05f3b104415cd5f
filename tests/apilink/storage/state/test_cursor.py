"""Cursor values: how they order, and the client-side filter of incremental syncs."""

from __future__ import annotations

from typing import Any

import pytest

from apilink.config.models import IncrementalConfig
from apilink.storage.state.cursor import CursorFilter, compare, later, with_lag


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (1, 2, -1),
        (2.5, 2, 1),
        (10, 10.0, 0),
        ("9", "10", -1),  # decimal strings are numbers, not text
        ("300", 300, 0),  # a YAML string initial_value against an integer field
        ("-1.5", -2, 1),
        (12345678901234567890, "12345678901234567891", -1),  # no float rounding
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00+00:00", 0),
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z", 0),  # the same instant
        ("2024-05-01T12:00:01+02:00", "2024-05-01T10:00:00Z", 1),
        ("2024-05-01T09:59:59.5-00:00", "2024-05-01T10:00:00Z", -1),
        ("2024-05-01T10:00:00", "2024-05-01T10:00:00Z", 0),  # no offset: UTC
        ("2024-05-01", "2024-05-01T00:00:01Z", -1),
        ("2024-05-01T00:00:00.123456789Z", "2024-05-01T00:00:00.1Z", 1),
        ("01HZX3", "01HZX4", -1),  # other strings: as text
        ("b", "a", 1),
    ],
)
def test_compare_orders_cursor_values(a: Any, b: Any, expected: int) -> None:
    assert compare(a, b) == expected
    assert compare(b, a) == -expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (5, "2024-05-01T00:00:00Z"),  # a number and a timestamp
        ("2024-05-01T00:00:00Z", "tomorrow"),  # a timestamp and text
        ("abc", 5),
        (True, 1),  # booleans are no cursors
        (float("nan"), 1),
        ({"a": 1}, {"a": 1}),
        (None, 1),
    ],
)
def test_values_of_different_kinds_do_not_order(a: Any, b: Any) -> None:
    assert compare(a, b) is None
    assert compare(b, a) is None


def test_later_compares_decimal_strings_as_numbers_and_naive_timestamps_as_utc() -> None:
    assert later("9", "10") == "10"
    assert later("2024-05-01T11:00:00", "2024-05-01T10:30:00Z") == "2024-05-01T11:00:00"
    assert later("b", 5) == "b"  # no order: text decides, as before, so one wins


def test_with_lag_keeps_the_offset_style() -> None:
    assert with_lag("2024-05-01T00:00:30+02:00", 60) == "2024-04-30T23:59:30+02:00"
    assert with_lag(1.5, 0.5) == 1.0


FIELD = "meta.updated"


def record(value: Any = ..., **extra: Any) -> dict[str, Any]:
    return {"id": 1, **extra} if value is ... else {"id": 1, "meta": {"updated": value}}


@pytest.mark.parametrize(
    ("since", "value", "skipped"),
    [
        (100, 99, True),
        (100, 100, True),  # at the cursor: delivered by the run that set it
        (100, 101, False),
        (100, "100", True),
        ("2024-05-01T10:00:00Z", "2024-05-01T11:59:59+02:00", True),
        ("2024-05-01T10:00:00Z", "2024-05-01T12:00:00+02:00", True),
        ("2024-05-01T10:00:00Z", "2024-05-01T12:00:01+02:00", False),
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00.001Z", False),
        ("0002", "0001", True),
        ("0002", "0003", False),
        (100, None, False),  # null: kept
        (100, "2024-05-01T10:00:00Z", False),  # does not order against the cursor: kept
        (100, True, False),
    ],
)
def test_the_filter_skips_records_at_or_below_the_cursor(
    since: Any, value: Any, skipped: bool
) -> None:
    assert CursorFilter(FIELD, since).delivered_before(record(value)) is skipped


def test_a_record_without_the_cursor_field_is_kept() -> None:
    assert not CursorFilter(FIELD, 100).delivered_before(record())
    assert not CursorFilter(FIELD, 100).delivered_before({"meta": "not an object"})


def test_split_keeps_the_order_and_counts_what_it_skipped() -> None:
    records = [record(v) | {"id": i} for i, v in enumerate([5, 50, 1, 70, 50, None])]
    kept, skipped = CursorFilter(FIELD, 50).split(records)
    assert [r["id"] for r in kept] == [3, 5]
    assert skipped == 4


INCREMENTAL = IncrementalConfig(cursor_field="seq", param="since", lag=30)


@pytest.mark.parametrize(
    ("incremental", "params", "expected"),
    [
        (INCREMENTAL, {"since": 470, "per_page": 10}, CursorFilter("seq", 470)),
        (INCREMENTAL, {"per_page": 10}, None),  # no cursor sent (a first run)
        (INCREMENTAL, {"since": None}, None),
        (INCREMENTAL, None, None),
        (None, {"since": 470}, None),  # no incremental section: `since` is just a parameter
    ],
)
def test_the_filter_is_the_value_sent_in_the_cursor_parameter(
    incremental: IncrementalConfig | None,
    params: dict[str, Any] | None,
    expected: CursorFilter | None,
) -> None:
    # The lag is already in what was sent (SyncCheckpoint.begin): it is not applied twice.
    assert CursorFilter.for_params(incremental, params) == expected
