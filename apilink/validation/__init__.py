"""Record validation: rules from the config, run by Great Expectations on chunks.

Build a :class:`Validator` from ``rules_from_config(mapping.validation)`` once per run,
validate chunks of thousands of records, write the quarantined ones with
:class:`apilink.quarantine.QuarantineWriter`, and hold the run to ``max_invalid_ratio`` with
:class:`InvalidRatioGuard`.
"""

from __future__ import annotations

from apilink.validation.columns import json_type_name
from apilink.validation.gx import ChunkValidation, Quarantined, ValidationEngineError, Validator
from apilink.validation.ratio import InvalidRatioGuard, enforce_invalid_ratio
from apilink.validation.rules import EMAIL_PATTERN, RULE_KINDS, Rule, rules_from_config
from apilink.validation.spec import FieldRule, RangeSpec, ValueType

__all__ = [
    "EMAIL_PATTERN",
    "RULE_KINDS",
    "ChunkValidation",
    "FieldRule",
    "InvalidRatioGuard",
    "Quarantined",
    "RangeSpec",
    "Rule",
    "ValidationEngineError",
    "Validator",
    "ValueType",
    "enforce_invalid_ratio",
    "json_type_name",
    "rules_from_config",
]
