"""The ``great_expectations`` validation engine: each rule is one expectation, run by Great
Expectations on a pandas frame of the chunk.

Great Expectations takes seconds to import and ~15-50 ms per validation call whatever the size,
so it is imported once per process, lazily, and called once per chunk of thousands of records:
each rule is one expectation on one column of a frame built from the chunk (see
:mod:`apilink.validation.columns`). GX's ephemeral context is shared by every validator of the
process and is not thread-safe, so validation calls are serialised by a lock.
"""

from __future__ import annotations

import importlib
import os
import threading
from functools import cache
from typing import TYPE_CHECKING, Any

from apilink.errors import ValidationEngineError
from apilink.mapping.paths import path_getter
from apilink.validation.columns import REFUSED, encode_cell, encode_set
from apilink.validation.rules import Rule

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["GreatExpectationsEngine", "expectation"]

_GX_LOCK = threading.Lock()


@cache
def _gx_batch_definition() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    context: Any = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    source = context.data_sources.add_pandas("apilink")
    asset = source.add_dataframe_asset("records")
    return asset.add_batch_definition_whole_dataframe("chunk")


def expectation(rule: Rule, column: str) -> Any:
    """The GX expectation ``rule`` stands for, on ``column``."""
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


class GreatExpectationsEngine:
    """Runs the rules as one GX expectation suite per chunk."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._columns = [f"c{i}" for i in range(len(rules))]
        self._readers = [path_getter(rule.field) for rule in rules]
        self._suite: Any = None

    def failing_rows(self, records: list[dict[str, Any]]) -> list[set[int]]:
        """For each rule, the rows GX finds failing, and the rows it could not even judge.

        Raises:
            ValidationEngineError: GX could not evaluate a rule on this chunk.
        """
        cells = [
            [encode_cell(rule, read(record)) for record in records]
            for rule, read in zip(self.rules, self._readers, strict=True)
        ]
        frame = self._frame(cells)
        with _GX_LOCK:
            batch_definition = _gx_batch_definition()
            suite = self._suite_for_run()
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
            result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        failing: list[set[int]] = []
        for number, (rule, outcome) in enumerate(zip(self.rules, result.results, strict=True)):
            if _raised(outcome):
                raise ValidationEngineError(
                    f"Great Expectations could not evaluate rule `{rule.kind}` on field "
                    f"`{rule.field}`; no record of the chunk was let through"
                )
            rows: set[int] = set()
            if not outcome.success:
                rows.update(int(i) for i in outcome.result.get("unexpected_index_list") or [])
            rows.update(i for i, cell in enumerate(cells[number]) if cell is REFUSED)
            failing.append(rows)
        return failing

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
                suite.add_expectation(expectation(rule, column))
            self._suite = suite
        return self._suite
