"""A config being written by ``apilink init``, and the commented YAML it becomes.

A draft holds only references for secrets: every auth value is a ``${VAR}`` named after the
side (``SOURCE_TOKEN``, ``TARGET_API_KEY``), so a written config never holds a secret, and
:func:`render` lists the variables to set. :func:`check_draft` validates the rendered text with
the models (each variable set to a stand-in), so ``init`` never writes a config that
``apilink validate`` would refuse once the variables are set.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from apilink.config.loader import parse_config

__all__ = ["AuthDraft", "ConfigDraft", "FieldDraft", "SideDraft", "check_draft", "render"]


@dataclass
class AuthDraft:
    """An auth section: its ``type``, its plain keys, and its secret keys (env var names)."""

    type: str
    settings: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    comment: str = ""


@dataclass
class SideDraft:
    """One API: where it is, how it authenticates, and the one endpoint the sync uses."""

    role: str  # "source" or "target"
    base_url: str
    endpoint: str
    path: str
    method: str
    auth: AuthDraft | None = None
    pagination: dict[str, Any] | None = None
    records_path: str | None = None
    comments: list[str] = field(default_factory=list)


@dataclass
class FieldDraft:
    """One mapped field; ``commented`` ones are suggestions written as comments."""

    source: str
    target: str
    commented: bool = False
    note: str = ""


@dataclass
class ConfigDraft:
    """A whole config to write."""

    name: str
    source: SideDraft
    target: SideDraft
    fields: list[FieldDraft] = field(default_factory=list)
    header: list[str] = field(default_factory=list)

    @property
    def variables(self) -> list[str]:
        """The environment variables the config reads, in order."""
        names: list[str] = []
        for side in (self.source, self.target):
            if side.base_url.startswith("${"):
                names.append(side.base_url[2:-1])
            if side.auth is not None:  # in the order the file holds them
                names.extend(
                    v[2:-1]
                    for v in side.auth.settings.values()
                    if isinstance(v, str) and v.startswith("${")
                )
                names.extend(side.auth.secrets.values())
        return list(dict.fromkeys(names))


_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./{}@+-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def _scalar(value: Any) -> str:
    """One YAML scalar on one line: plain when harmless, else a JSON (double-quoted) string.

    Names and URLs come from OpenAPI documents, input from outside: quoting them this way
    keeps a newline or a ``}`` in a property name from adding keys to the config.
    """
    if isinstance(value, str):
        if _PLAIN.match(value) and yaml.safe_load(value) == value:
            return value
        return json.dumps(value)
    return json.dumps(value)


def _comment(text: str) -> str:
    """A comment line: control characters (a newline would end the comment) become spaces."""
    return "# " + _CONTROL.sub(" ", text)


def _mapping(value: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items()) + "}"


def render(draft: ConfigDraft) -> str:
    """The draft as a commented YAML config."""
    lines = [
        "# yaml-language-server: $schema=./apilink.schema.json",
        "# Written by `apilink init`; every key is described in docs/config.md.",
        *(_comment(line) for line in draft.header),
    ]
    if draft.variables:
        lines.append(_comment("Set before running: " + ", ".join(draft.variables)))
    lines.append(f"name: {_scalar(draft.name)}")
    for side in (draft.source, draft.target):
        lines += _side(side)
    lines += [
        "mapping:",
        f"  - source: {_scalar(draft.source.endpoint)}",
        f"    target: {_scalar(draft.target.endpoint)}",
    ]
    active = [f for f in draft.fields if not f.commented]
    lines.append("    fields:" if active or draft.fields else "    fields: []")
    if not active and draft.fields:
        lines[-1] = "    fields: []  # no field matched by name; uncomment and adjust:"
    for item in draft.fields:
        note = f"  {_comment(item.note)}" if item.note else ""
        entry = f"{{source: {_scalar(item.source)}, target: {_scalar(item.target)}}}"
        prefix = "      # - " if item.commented else "      - "
        lines.append(f"{prefix}{entry}{note}")
    lines += [
        "    validation:",
        "      required_fields: []  # e.g. [id, email]; failing records are quarantined",
        "logging:",
        "  level: INFO",
    ]
    return "\n".join(lines) + "\n"


def _side(side: SideDraft) -> list[str]:
    lines = [f"{side.role}:"]
    lines += [f"  {_comment(comment)}" for comment in side.comments]
    lines += ["  type: rest", f"  base_url: {_scalar(side.base_url)}"]
    if side.auth is not None:
        if side.auth.comment:
            lines.append(f"  {_comment(side.auth.comment)}")
        lines += ["  auth:", f"    type: {side.auth.type}"]
        for key, value in side.auth.settings.items():
            lines.append(f"    {key}: {_scalar(value)}")
        for key, variable in side.auth.secrets.items():
            lines.append(f'    {key}: "${{{variable}}}"  # never the value itself')
    lines += [
        "  endpoints:",
        f"    {side.endpoint}:",
        f"      path: {_scalar(side.path)}",
        f"      method: {side.method}",
    ]
    if side.records_path is not None:
        lines.append(f"      response_path: {_scalar(side.records_path)}")
    if side.pagination is not None:
        lines.append(f"      pagination: {_mapping(side.pagination)}")
    return lines


def check_draft(text: str, draft: ConfigDraft) -> None:
    """Validate the rendered config with every variable set to a stand-in.

    Raises:
        ConfigError: the draft is not a valid config (a defect of ``init``, not of the input).
    """
    env = {
        name: "https://api.example.com" if name.endswith("URL") else "stand-in"
        for name in draft.variables
    }
    parse_config(text, source="<apilink init>", env=env)
