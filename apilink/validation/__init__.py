"""Record validation: rules from the config, run by Great Expectations on chunks."""

from __future__ import annotations

from apilink.validation.gx import ChunkValidation, Quarantined, Validator
from apilink.validation.rules import EMAIL_PATTERN, Rule, rules_from_config

__all__ = [
    "EMAIL_PATTERN",
    "ChunkValidation",
    "Quarantined",
    "Rule",
    "Validator",
    "rules_from_config",
]
