"""What ``apilink validate`` reports about a config file: errors from the models, warnings
from the checks the models cannot make (literal secrets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apilink.config.bounds import safe_load_bounded
from apilink.config.loader import load_config
from apilink.errors import ConfigError
from apilink.scaffold.literal_secrets import find_literal_secrets

__all__ = ["ConfigReport", "check_config_file"]


@dataclass
class ConfigReport:
    """The result of checking one config file.

    Attributes:
        config: the file checked.
        message: the first error as one paragraph (file, key paths, what is valid), or "".
        errors: one line per problem that makes the config unusable.
        warnings: one line per thing that works but should not be so (a literal secret).
        mappings: ``source -> target`` of each mapping, when the config is valid.
    """

    config: str
    message: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    mappings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors

    def as_json(self) -> dict[str, Any]:
        """The report as ``validate --json`` prints it."""
        return {
            "ok": self.ok,
            "config": self.config,
            "errors": self.errors,
            "warnings": self.warnings,
            "mappings": self.mappings,
        }


def check_config_file(path: Path) -> ConfigReport:
    """Validate ``path`` with the models and scan it, as written, for literal secrets."""
    report = ConfigReport(config=str(path))
    try:
        sync = load_config(path)
        report.mappings = [f"{m.source} -> {m.target}" for m in sync.mapping]
    except ConfigError as exc:
        report.message = str(exc)
        report.errors = list(exc.problems) or [str(exc)]
    try:
        raw = safe_load_bounded(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, ConfigError):
        return report  # already an error above
    report.warnings = [found.message for found in find_literal_secrets(raw)]
    return report
