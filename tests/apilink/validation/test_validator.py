"""The rules on chunks of thousands of records, by both engines: the Python checks and real
Great Expectations must quarantine the same records for the same reasons."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from apilink.validation import ENGINES, Engine, Validator, rules_from_config
from apilink.validation.rules_config import ValidationRules

ROWS = 5_000


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    chosen: Engine = request.param
    return chosen


def validator(engine: Engine = "python", **section: Any) -> Validator:
    return Validator(rules_from_config(ValidationRules.model_validate(section)), engine=engine)


def good(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "email": f"user{n}@example.org",
        "age": n % 100,
        "status": "active" if n % 2 else "disabled",
        "sku": f"SKU-{n}",
        "score": n / 7,
        "tags": ["a"],
        "profile": {"city": "Lyon"},
    }


EVERY_RULE: dict[str, Any] = {
    "required_fields": ["id", "email"],
    "email_fields": ["email"],
    "rules": [
        {"field": "age", "type": "integer", "range": {"min": 0, "max": 150}},
        {"field": "status", "in_set": ["active", "disabled"]},
        {"field": "sku", "regex": "^SKU-[0-9]+$", "unique": True, "not_null": True},
        {"field": "score", "type": "number"},
        {"field": "tags", "type": "array"},
        {"field": "profile", "type": "object"},
        {"field": "profile.city", "type": "string"},
    ],
}

# Row number -> (change, the one reason it must give).
BREAKAGES: dict[int, tuple[dict[str, Any], str]] = {
    10: ({"email": None}, "required field `email` is missing or null"),
    20: ({"email": "no-at-sign.example.org"}, "field `email` is not a valid email address"),
    30: ({"age": 151}, "field `age` is not a number in [0, 150]"),
    40: ({"age": -1}, "field `age` is not a number in [0, 150]"),
    50: ({"status": "deleted"}, "field `status` is not one of the allowed values"),
    60: ({"sku": "sku 60"}, "field `sku` does not match its regex"),
    70: ({"sku": None}, "field `sku` is null"),
    80: ({"score": "high"}, "field `score` is not of type number"),
    90: ({"score": True}, "field `score` is not of type number"),
    100: ({"tags": "a"}, "field `tags` is not of type array"),
    110: ({"profile": {"city": 7}}, "field `profile.city` is not of type string"),
    120: ({"sku": {"nested": 1}}, "field `sku` does not match its regex"),
}


def test_every_rule_kind_on_thousands_of_rows(engine: Engine) -> None:
    records = [good(n) for n in range(ROWS)]
    for row, (change, _) in BREAKAGES.items():
        records[row].update(change)
    outcome = validator(engine, **EVERY_RULE).validate(records)
    reasons = {q.record["id"]: q.reasons for q in outcome.quarantined}
    assert reasons == {row: (reason,) for row, (_, reason) in BREAKAGES.items()}
    assert len(outcome.valid) == ROWS - len(BREAKAGES)
    assert [r["id"] for r in outcome.valid] == [n for n in range(ROWS) if n not in BREAKAGES]


def test_a_record_failing_several_rules_gives_every_reason(engine: Engine) -> None:
    record = good(1) | {"age": "old", "status": 3, "email": "x"}
    outcome = validator(engine, **EVERY_RULE).validate([record, good(2)])
    assert outcome.quarantined[0].reasons == (
        "field `email` is not a valid email address",
        "field `age` is not of type integer",
        "field `age` is not a number in [0, 150]",
        "field `status` is not one of the allowed values",
    )


def test_absent_values_pass_every_rule_but_required(engine: Engine) -> None:
    sparse = {"id": 1, "email": "a@b.co"}
    outcome = validator(engine, **EVERY_RULE).validate([sparse])
    assert outcome.valid == [sparse]
    missing_id = validator(engine, **EVERY_RULE).validate([{"email": "a@b.co"}])
    assert missing_id.quarantined[0].reasons == ("required field `id` is missing or null",)


def test_booleans_are_not_integers_nor_members_of_a_numeric_set(engine: Engine) -> None:
    check = validator(
        engine, rules=[{"field": "n", "type": "integer"}, {"field": "m", "in_set": [1, 2]}]
    )
    outcome = check.validate([{"n": True}, {"m": True}, {"n": 3, "m": 1}])
    assert [q.reasons for q in outcome.quarantined] == [
        ("field `n` is not of type integer",),
        ("field `m` is not one of the allowed values",),
    ]


def test_unique_holds_across_the_chunks_of_a_run(engine: Engine) -> None:
    check = validator(engine, rules=[{"field": "sku", "unique": True}])
    first = check.validate([{"sku": f"S{n}"} for n in range(2_000)] + [{"sku": "S5"}])
    # Within a chunk every copy is suspect: which one is right cannot be told.
    assert sorted(q.record["sku"] for q in first.quarantined) == ["S5", "S5"]
    second = check.validate([{"sku": "S7"}, {"sku": "S2000"}, {"sku": "S5"}])
    assert [q.record["sku"] for q in second.quarantined] == ["S7", "S5"]
    assert second.valid == [{"sku": "S2000"}]


def test_no_rules_and_no_records_pass_through(engine: Engine) -> None:
    assert validator(engine).validate([{"a": 1}]).valid == [{"a": 1}]
    assert validator(engine, **EVERY_RULE).validate([]).valid == []


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"rules": [{"field": "age"}]}, "checks nothing"),
        ({"rules": [{"field": "age", "range": {}}]}, "min"),
        ({"rules": [{"field": "age", "range": {"min": 5, "max": 1}}]}, "greater"),
        ({"rules": [{"field": "a", "regex": "("}]}, "regular expression"),
        ({"rules": [{"field": "a", "type": "date"}]}, "type"),
        ({"rules": [{"field": "a..b", "unique": True}]}, "bad field path"),
        ({"rules": [{"field": "a", "in_set": [{"x": 1}]}]}, "strings, numbers"),
        ({"rules": [{"field": "a", "unique": True, "typo": 1}]}, "typo"),
    ],
)
def test_bad_rules_are_refused_when_the_config_loads(section: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        ValidationRules.model_validate(section)


# Values a JSON API can send, the awkward ones first: every rule kind meets every one of them.
AWKWARD: list[Any] = [
    None,
    "",
    " ",
    "a@b.co",
    "a@b.co\n",
    "A@B.CO",
    "a@@b.co",
    "a b@c.de",
    "@b.co",
    "SKU-1",
    "SKU-1\n",
    "sku-1",
    "active",
    "1",
    0,
    1,
    1.0,
    -1,
    150,
    150.5,
    151,
    10**400,
    -(10**400),
    float("nan"),
    float("inf"),
    True,
    False,
    [],
    ["active"],
    {},
    {"x": 1},
]

PARITY_RULES: dict[str, Any] = {
    "required_fields": ["v"],
    "email_fields": ["v"],
    "rules": [
        {"field": "v", "not_null": True},
        {"field": "v", "regex": "^SKU-[0-9]+$"},
        {"field": "v", "in_set": ["active", 1, 1.5, True]},
        {"field": "v", "range": {"min": 0, "max": 150}},
        {"field": "v", "range": {"min": 0.5}},
        {"field": "v", "unique": True},
        *({"field": "v", "type": kind} for kind in ("string", "integer", "number", "boolean")),
        *({"field": "v", "type": kind} for kind in ("object", "array")),
    ],
}


def _outcome(outcome: Any) -> tuple[list[Any], list[tuple[Any, tuple[str, ...]]]]:
    return [repr(r) for r in outcome.valid], [
        (repr(q.record), q.reasons) for q in outcome.quarantined
    ]


def test_both_engines_quarantine_the_same_records_for_the_same_reasons() -> None:
    # Each awkward value alone, twice (so `unique` has repeats), and absent altogether; then a
    # second chunk that repeats some of them (repeats of earlier chunks).
    chunks = [
        [{"v": v} for v in AWKWARD] + [{"v": v} for v in AWKWARD] + [{}, {"w": 1}],
        [{"v": "SKU-1"}, {"v": 1}, {"v": "new"}, {"v": 2.0}],
    ]
    python = validator("python", **PARITY_RULES)
    gx = validator("great_expectations", **PARITY_RULES)
    for chunk in chunks:
        assert _outcome(python.validate(chunk)) == _outcome(gx.validate(chunk))


def test_the_python_engine_never_imports_great_expectations() -> None:
    code = (
        "import sys\n"
        "from apilink.validation.rules_config import ValidationRules\n"
        "from apilink.validation import Validator, rules_from_config\n"
        "rules = rules_from_config(ValidationRules.model_validate({'required_fields': ['id'],"
        " 'email_fields': ['e'], 'rules': [{'field': 'id', 'unique': True}]}))\n"
        "out = Validator(rules).validate([{'id': 1, 'e': 'a@b.co'}, {'id': 1, 'e': 'x'}])\n"
        "assert len(out.quarantined) == 2, out\n"
        "assert not [m for m in sys.modules if m.startswith(('great_expectations', 'pandas'))]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_unknown_engine_is_refused_when_the_config_loads() -> None:
    with pytest.raises(ValueError, match="great_expectations"):
        ValidationRules.model_validate({"required_fields": ["id"], "engine": "pandera"})
