"""Run validation rules on a chunk of records with Great Expectations.

Great Expectations takes seconds to import and ~15-50 ms per validation call whatever the size,
so it is imported once, lazily, and called once per chunk of thousands of records.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from apilink.mapping.paths import MISSING, get_path, parse_path
from apilink.validation.rules import Rule

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChunkValidation", "Quarantined", "Validator"]


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

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    source = context.data_sources.add_pandas("apilink")
    asset = source.add_dataframe_asset("records")
    return asset.add_batch_definition_whole_dataframe("chunk")


def _expectation(rule: Rule, column: str) -> Any:
    import great_expectations.expectations as gxe

    if rule.kind == "required":
        return gxe.ExpectColumnValuesToNotBeNull(column=column, result_format="COMPLETE")
    if rule.kind == "email":
        params = dict(rule.params)
        return gxe.ExpectColumnValuesToMatchRegex(
            column=column, regex=params["regex"], result_format="COMPLETE"
        )
    raise ValueError(f"no expectation for rule kind {rule.kind!r}")


class Validator:
    """Validates chunks against a fixed list of rules.

    Example:
        >>> validator = Validator(rules_from_config(mapping.validation))
        >>> outcome = validator.validate(records)
    """

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._columns = {rule.field: f"c{i}" for i, rule in enumerate(rules)}
        self._paths = {name: parse_path(name) for name in self._columns}
        self._suite: Any = None

    def validate(self, records: list[dict[str, Any]]) -> ChunkValidation:
        """Split ``records`` into valid and quarantined, keeping their order."""
        if not self.rules or not records:
            return ChunkValidation(valid=list(records))
        failures = self._failures(self._frame(records))
        outcome = ChunkValidation()
        for index, record in enumerate(records):
            reasons = failures.get(index)
            if reasons:
                outcome.quarantined.append(Quarantined(record, tuple(reasons)))
            else:
                outcome.valid.append(record)
        return outcome

    def _frame(self, records: list[dict[str, Any]]) -> pd.DataFrame:
        import pandas as pd

        data: dict[str, list[Any]] = {}
        for name, column in self._columns.items():
            path = self._paths[name]
            values = []
            for record in records:
                value = get_path(record, path)
                values.append(None if value is MISSING else value)
            data[column] = values
        return pd.DataFrame(data, dtype=object)

    def _failures(self, frame: pd.DataFrame) -> dict[int, list[str]]:
        import great_expectations as gx

        batch_definition = _gx_batch_definition()
        if self._suite is None:
            suite = gx.ExpectationSuite(name=f"apilink-{id(self)}")
            for rule in self.rules:
                suite.add_expectation(_expectation(rule, self._columns[rule.field]))
            self._suite = suite
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(self._suite, result_format={"result_format": "COMPLETE"})
        failures: dict[int, list[str]] = {}
        for rule, outcome in zip(self.rules, result.results, strict=True):
            if outcome.success:
                continue
            for index in outcome.result.get("unexpected_index_list") or []:
                failures.setdefault(int(index), []).append(rule.reason)
        return failures
