"""Split chunks of records into valid and quarantined by a mapping's rules.

A :class:`Validator` holds the rules of one mapping for a whole run and asks an engine which
rows of a chunk fail which rule:

- ``python`` (the default): each rule is made once into a check of one value, in the terms of
  the Great Expectations expectation it stands for (:mod:`apilink.validation.native`);
- ``great_expectations``: each rule is that expectation, run by Great Expectations on a pandas
  frame of the chunk (:mod:`apilink.validation.gx`).

Both engines quarantine exactly the same records for the same reasons (the test suite runs every
rule kind through both on the same awkward values). The Python engine costs a few hundred
nanoseconds a value; GX costs seconds to import, ~180 MB, and ~40 ms per chunk whatever its
size, which on a sync of a million records is most of the run.

``unique`` is the validator's own, for both engines, from one encoding of the column: every copy
of a value repeated within a chunk fails (GX's ``ExpectColumnValuesToBeUnique``), and so does a
value of an earlier chunk of the run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from apilink.mapping.paths import path_getter
from apilink.validation.columns import encode_cell, is_null_cell
from apilink.validation.rules import Rule

__all__ = [
    "ENGINES",
    "ChunkValidation",
    "Engine",
    "Quarantined",
    "RuleEngine",
    "Validator",
]

Engine = Literal["python", "great_expectations"]
ENGINES: tuple[Engine, ...] = ("python", "great_expectations")


@dataclass(frozen=True)
class Quarantined:
    """A record set aside, with every reason it failed."""

    record: dict[str, Any]
    reasons: tuple[str, ...]


@dataclass
class ChunkValidation:
    """The outcome for one chunk: records to map, and records set aside."""

    valid: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)


class RuleEngine(Protocol):
    """Finds the rows of a chunk that fail each rule (``unique``: see :class:`Validator`)."""

    def failing_rows(self, records: list[dict[str, Any]]) -> list[set[int]]:
        """For each rule, in order, the indexes of the records that fail it."""
        ...


def make_engine(engine: Engine, rules: list[Rule]) -> RuleEngine:
    """The engine named ``engine`` for ``rules``."""
    if engine == "great_expectations":
        from apilink.validation.gx import GreatExpectationsEngine

        return GreatExpectationsEngine(rules)
    if engine == "python":
        from apilink.validation.native import PythonEngine

        return PythonEngine(rules)
    raise ValueError(f"unknown validation engine {engine!r}; valid: {', '.join(ENGINES)}")


class Validator:
    """Validates chunks against a fixed list of rules.

    Keep one validator for the whole run: ``unique`` remembers the values it has seen.

    Args:
        rules: the mapping's rules, in the order their reasons are reported.
        engine: ``python`` or ``great_expectations`` (same outcome; see the module's text).

    Example:
        >>> validator = Validator(rules_from_config(mapping.validation))
        >>> outcome = validator.validate(records)
    """

    def __init__(self, rules: list[Rule], engine: Engine = "python") -> None:
        self.rules = rules
        self.engine = engine
        self._engine = make_engine(engine, rules) if rules else None
        self._seen = {
            number: (path_getter(rule.field), set[Any]())
            for number, rule in enumerate(rules)
            if rule.kind == "unique"
        }

    def validate(self, records: list[dict[str, Any]]) -> ChunkValidation:
        """Split ``records`` into valid and quarantined, keeping their order.

        Raises:
            ValidationEngineError: the engine could not evaluate a rule on this chunk.
        """
        if self._engine is None or not records:
            return ChunkValidation(valid=list(records))
        failing = self._engine.failing_rows(records)
        self._repeats(records, failing)
        if not any(failing):
            return ChunkValidation(valid=list(records))
        reasons_of: dict[int, list[str]] = {}
        for rule, rows in zip(self.rules, failing, strict=True):
            for index in rows:
                reasons_of.setdefault(index, []).append(rule.reason)
        outcome = ChunkValidation()
        for index, record in enumerate(records):
            reasons = reasons_of.get(index)
            if reasons:
                outcome.quarantined.append(Quarantined(record, tuple(reasons)))
            else:
                outcome.valid.append(record)
        return outcome

    def _repeats(self, records: list[dict[str, Any]], failing: list[set[int]]) -> None:
        """Add the rows whose ``unique`` value repeats one of this chunk or of an earlier one."""
        for number, (read, seen) in self._seen.items():
            rule = self.rules[number]
            cells = [encode_cell(rule, read(record)) for record in records]
            counts = Counter(cell for cell in cells if not is_null_cell(cell))
            failing[number].update(
                i
                for i, cell in enumerate(cells)
                if not is_null_cell(cell) and (counts[cell] > 1 or cell in seen)
            )
            seen.update(counts)
