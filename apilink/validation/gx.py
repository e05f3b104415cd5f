"""Run validation rules on a chunk of records with Great Expectations.

Great Expectations takes seconds to import and ~15-50 ms per validation call whatever the size,
so it is imported once per process, lazily, and called once per chunk of thousands of records:
each rule is one expectation on one column of a pandas frame built from the chunk (see
:mod:`apilink.validation.columns`). GX's ephemeral context is shared by every validator of the
process and is not thread-safe, so validation calls are serialised by a lock.

``unique`` holds across the chunks of a run: GX finds repeats within a chunk (every copy
fails), and the validator remembers the values of earlier chunks (a later copy fails).
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from apilink.errors import ApilinkError
from apilink.mapping.paths import get_path, parse_path
from apilink.validation.columns import REFUSED, encode_cell, encode_set
from apilink.validation.rules import Rule

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChunkValidation", "Quarantined", "ValidationEngineError", "Validator"]

_GX_LOCK = threading.Lock()


class ValidationEngineError(ApilinkError):
    """Great Expectations could not evaluate a rule (not: a record failed it).

    Records are never let through when a rule could not be evaluated.
    """


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


@cache
def _gx_batch_definition() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    context: Any = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    source = context.data_sources.add_pandas("apilink")
    asset = source.add_dataframe_asset("records")
    return asset.add_batch_definition_whole_dataframe("chunk")


def _expectation(rule: Rule, column: str) -> Any:
    gxe: Any = importlib.import_module("great_expectations.expectations")

    common: dict[str, Any] = {"column": column, "result_format": "COMPLETE"}
    kind = rule.kind
    if kind in ("required", "not_null"):
        return gxe.ExpectColumnValuesToNotBeNull(**common)
    if kind in ("email", "regex"):
        return gxe.ExpectColumnValuesToMatchRegex(regex=rule.param("regex"), **common)
    if kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(value_set=encode_set(rule.param("values")), **common)
    if kind == "range":
        return gxe.ExpectColumnValuesToBeBetween(
            min_value=rule.param("min"), max_value=rule.param("max"), **common
        )
    if kind == "unique":
        return gxe.ExpectColumnValuesToBeUnique(**common)
    if kind == "type":
        wanted = rule.param("type")
        names = ["integer", "number"] if wanted == "number" else [wanted]
        return gxe.ExpectColumnValuesToBeInSet(value_set=names, **common)
    raise ValueError(f"no expectation for rule kind {kind!r}")


def _raised(outcome: Any) -> bool:
    info = getattr(outcome, "exception_info", None) or {}
    if info.get("raised_exception"):
        return True
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


class Validator:
    """Validates chunks against a fixed list of rules.

    Keep one validator for the whole run: ``unique`` remembers the values it has seen.

    Example:
        >>> validator = Validator(rules_from_config(mapping.validation))
        >>> outcome = validator.validate(records)
    """

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._columns = [f"c{i}" for i in range(len(rules))]
        self._paths = [parse_path(rule.field) for rule in rules]
        self._seen: dict[int, set[Any]] = {
            i: set() for i, rule in enumerate(rules) if rule.kind == "unique"
        }
        self._suite: Any = None

    def validate(self, records: list[dict[str, Any]]) -> ChunkValidation:
        """Split ``records`` into valid and quarantined, keeping their order.

        Raises:
            ValidationEngineError: GX could not evaluate a rule on this chunk.
        """
        if not self.rules or not records:
            return ChunkValidation(valid=list(records))
        cells = self._cells(records)
        failures = self._failures(cells)
        outcome = ChunkValidation()
        for index, record in enumerate(records):
            reasons = failures.get(index)
            if reasons:
                outcome.quarantined.append(Quarantined(record, tuple(reasons)))
            else:
                outcome.valid.append(record)
        return outcome

    def _cells(self, records: list[dict[str, Any]]) -> list[list[Any]]:
        return [
            [encode_cell(rule, get_path(record, path)) for record in records]
            for rule, path in zip(self.rules, self._paths, strict=True)
        ]

    def _frame(self, cells: list[list[Any]]) -> pd.DataFrame:
        import pandas as pd

        data: dict[str, Any] = {}
        for rule, column, values in zip(self.rules, self._columns, cells, strict=True):
            judged = [None if v is REFUSED else v for v in values]
            if rule.kind == "range":
                data[column] = pd.Series(judged, dtype="float64")
            else:
                data[column] = pd.Series(judged, dtype=object)
        return pd.DataFrame(data)

    def _suite_for_run(self) -> Any:
        if self._suite is None:
            import great_expectations as gx

            suite = gx.ExpectationSuite(name=f"apilink-{id(self)}")
            for rule, column in zip(self.rules, self._columns, strict=True):
                suite.add_expectation(_expectation(rule, column))
            self._suite = suite
        return self._suite

    def _failures(self, cells: list[list[Any]]) -> dict[int, list[str]]:
        frame = self._frame(cells)
        with _GX_LOCK:
            batch_definition = _gx_batch_definition()
            suite = self._suite_for_run()
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
            result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        failing: dict[int, set[int]] = {}
        for number, (rule, outcome) in enumerate(zip(self.rules, result.results, strict=True)):
            if _raised(outcome):
                raise ValidationEngineError(
                    f"Great Expectations could not evaluate rule `{rule.kind}` on field "
                    f"`{rule.field}`; no record of the chunk was let through"
                )
            rows = failing.setdefault(number, set())
            if not outcome.success:
                rows.update(int(i) for i in outcome.result.get("unexpected_index_list") or [])
            rows.update(i for i, cell in enumerate(cells[number]) if cell is REFUSED)
        for number, seen in self._seen.items():
            column = cells[number]
            failing[number].update(
                i for i, cell in enumerate(column) if cell is not None and cell in seen
            )
            seen.update(cell for cell in column if cell is not None)
        failures: dict[int, list[str]] = {}
        for number, rule in enumerate(self.rules):
            for index in sorted(failing[number]):
                failures.setdefault(index, []).append(rule.reason)
        return failures
