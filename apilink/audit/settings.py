"""Which audit log a sync config asks for.

The guide's ``logging: {security_audit: true, file: ...}`` names one file; audit lines go to
``logging.audit_file`` when set, else ``logging.file``, else ``apilink_audit.log``. The audit file
holds only chained lines, so an ordinary log handler must not write to the same path (see
:func:`plain_log_path`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from apilink.audit.log import AuditLog
from apilink.config.models import LoggingConfig, SyncConfig
from apilink.redaction import secret_values

__all__ = ["DEFAULT_AUDIT_FILE", "audit_path_for", "open_audit_log", "plain_log_path"]

DEFAULT_AUDIT_FILE = "apilink_audit.log"


def audit_path_for(logging: LoggingConfig) -> Path:
    """Where this config's audit lines go."""
    return Path(logging.audit_file or logging.file or DEFAULT_AUDIT_FILE)


def plain_log_path(logging: LoggingConfig) -> Path | None:
    """Where ordinary log lines may go: ``logging.file``, unless the audit log already uses it."""
    if logging.file is None:
        return None
    if logging.security_audit and audit_path_for(logging) == Path(logging.file):
        return None
    return Path(logging.file)


def open_audit_log(
    config: SyncConfig,
    *,
    env: Mapping[str, str] | None = None,
    run_id: str | None = None,
) -> AuditLog | None:
    """The audit log of ``config``, or ``None`` when ``logging.security_audit`` is off.

    Every secret value the config holds is masked in what gets written.
    """
    if not config.logging.security_audit:
        return None
    return AuditLog.open(
        audit_path_for(config.logging),
        env=env,
        secrets=secret_values(config),
        filter_fields=config.logging.filter_fields,
        run_id=run_id,
    )
