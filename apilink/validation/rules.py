"""Validation rules as data: each rule names a field and how a record fails it.

Rules are built from a mapping's ``validation:`` section and turned into Great Expectations
expectations by :mod:`apilink.validation.gx`. Keeping them as plain data lets quarantine reasons
be worded without GX, and lets a rule type be added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apilink.config.models import ValidationRules

__all__ = ["EMAIL_PATTERN", "Rule", "rules_from_config"]

# Deliberately simple: one @, no spaces, a dot in the domain. RFC 5322 in full accepts addresses
# no mail system delivers to; this is what data engineers mean by "looks like an email".
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"


@dataclass(frozen=True)
class Rule:
    """One check of one field.

    Attributes:
        kind: ``required`` or ``email``.
        field: the record path it reads (``user.email``).
        params: what the kind needs (a regex, a set, bounds).
    """

    kind: str
    field: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def reason(self) -> str:
        """How a failing record is described in quarantine (never its value)."""
        if self.kind == "required":
            return f"required field `{self.field}` is missing or null"
        if self.kind == "email":
            return f"field `{self.field}` is not a valid email address"
        return f"field `{self.field}` fails rule `{self.kind}`"


def rules_from_config(config: ValidationRules) -> list[Rule]:
    """The rules of a mapping's ``validation:`` section, in the order they are reported."""
    rules = [Rule("required", name) for name in config.required_fields]
    rules += [Rule("email", name, (("regex", EMAIL_PATTERN),)) for name in config.email_fields]
    return rules
