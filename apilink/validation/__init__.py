"""Record validation: rules from the config, run on chunks by a Python engine or by Great
Expectations (same outcome; see :mod:`apilink.validation.validator`).

Build a :class:`Validator` from ``rules_from_config(mapping.validation)`` once per run,
validate chunks of thousands of records, write the quarantined ones with
:class:`apilink.storage.quarantine.QuarantineWriter`, and hold the run to ``max_invalid_ratio`` with
:class:`InvalidRatioGuard`.
"""

from __future__ import annotations

from apilink.errors import ValidationEngineError
from apilink.validation.columns import json_type_name
from apilink.validation.ratio import InvalidRatioGuard, enforce_invalid_ratio
from apilink.validation.rules import EMAIL_PATTERN, RULE_KINDS, Rule, rules_from_config
from apilink.validation.spec import FieldRule, RangeSpec, ValueType
from apilink.validation.validator import ENGINES, ChunkValidation, Engine, Quarantined, Validator

__all__ = [
    "EMAIL_PATTERN",
    "ENGINES",
    "RULE_KINDS",
    "ChunkValidation",
    "Engine",
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
