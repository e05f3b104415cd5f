"""Validation rules as data: each rule names a field and how a record fails it.

Rules are built from a mapping's ``validation:`` section and turned into Great Expectations
expectations by :mod:`apilink.validation.gx`. Keeping them as plain data lets quarantine reasons
be worded without GX, and lets a rule kind be added in one place (here, in
:mod:`apilink.validation.columns` and in ``gx._expectation``).

Kinds: ``required``, ``not_null``, ``email``, ``regex``, ``in_set``, ``range``, ``unique``,
``type``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Only for annotations (the model is built by apilink.config.models).
    from apilink.validation.rules_config import ValidationRules

__all__ = ["EMAIL_PATTERN", "RULE_KINDS", "Rule", "rules_from_config"]

# Deliberately simple: one @, no spaces, a dot in the domain. RFC 5322 in full accepts addresses
# no mail system delivers to; this is what data engineers mean by "looks like an email".
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"

RULE_KINDS = ("required", "not_null", "email", "regex", "in_set", "range", "unique", "type")


@dataclass(frozen=True)
class Rule:
    """One check of one field.

    Attributes:
        kind: one of :data:`RULE_KINDS`.
        field: the record path it reads (``user.email``).
        params: what the kind needs (a regex, a set, bounds, a type name).
    """

    kind: str
    field: str
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str) -> Any:
        """The parameter ``name`` (``None`` when not given)."""
        return dict(self.params).get(name)

    @property
    def reason(self) -> str:
        """How a failing record is described in quarantine (never its value)."""
        name = f"`{self.field}`"
        if self.kind == "required":
            return f"required field {name} is missing or null"
        if self.kind == "not_null":
            return f"field {name} is null"
        if self.kind == "email":
            return f"field {name} is not a valid email address"
        if self.kind == "regex":
            return f"field {name} does not match its regex"
        if self.kind == "in_set":
            return f"field {name} is not one of the allowed values"
        if self.kind == "range":
            low, high = self.param("min"), self.param("max")
            bounds = f"[{_num(low) if low is not None else '-inf'}, "
            bounds += f"{_num(high) if high is not None else 'inf'}]"
            return f"field {name} is not a number in {bounds}"
        if self.kind == "unique":
            return f"field {name} repeats a value of another record"
        if self.kind == "type":
            return f"field {name} is not of type {self.param('type')}"
        return f"field {name} fails rule `{self.kind}`"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def rules_from_config(config: ValidationRules) -> list[Rule]:
    """The rules of a mapping's ``validation:`` section, in the order they are reported."""
    rules = [Rule("required", name) for name in config.required_fields]
    rules += [Rule("email", name, (("regex", EMAIL_PATTERN),)) for name in config.email_fields]
    for spec in config.rules:
        if spec.not_null:
            rules.append(Rule("not_null", spec.field))
        if spec.type is not None:
            rules.append(Rule("type", spec.field, (("type", spec.type),)))
        if spec.regex is not None:
            rules.append(Rule("regex", spec.field, (("regex", spec.regex),)))
        if spec.in_set is not None:
            rules.append(Rule("in_set", spec.field, (("values", tuple(spec.in_set)),)))
        if spec.range is not None:
            bounds = (("min", spec.range.min), ("max", spec.range.max))
            rules.append(Rule("range", spec.field, bounds))
        if spec.unique:
            rules.append(Rule("unique", spec.field))
    return rules
