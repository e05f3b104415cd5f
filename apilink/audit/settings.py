"""Which audit log a sync config asks for.

The guide's ``logging: {security_audit: true, file: ...}`` names one file; audit lines go to
``logging.audit_file`` when set, else ``logging.file``, else ``apilink_audit.log``. The audit file
holds only chained lines, so an ordinary log handler must not write to the same path (see
:func:`plain_log_path`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from apilink.audit.log import AuditLog
from apilink.config.models import LoggingConfig, SyncConfig
from apilink.redaction import secret_values

__all__ = [
    "AUDIT_FILE_ENV",
    "DEFAULT_AUDIT_FILE",
    "audit_path_for",
    "denial_audit_log",
    "open_audit_log",
    "plain_log_path",
    "worker_audit_path",
]

DEFAULT_AUDIT_FILE = "apilink_audit.log"
AUDIT_FILE_ENV = "APILINK_AUDIT_FILE"


def audit_path_for(logging: LoggingConfig) -> Path:
    """Where this config's audit lines go."""
    return Path(logging.audit_file or logging.file or DEFAULT_AUDIT_FILE)


def worker_audit_path(
    config: SyncConfig | None = None,
    *,
    trusted: bool = True,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Where the worker's own audit lines go, whoever supplied the config.

    The operator's ``APILINK_AUDIT_FILE`` wins. Otherwise a config from the worker's disk
    (``trusted``) names its file as the guide shows; a config a caller supplied cannot choose where
    its own denial is written, so it gets the default file.
    """
    env = os.environ if env is None else env
    if path := env.get(AUDIT_FILE_ENV):
        return Path(path)
    if config is not None and trusted:
        return audit_path_for(config.logging)
    return Path(DEFAULT_AUDIT_FILE)


def denial_audit_log(
    config: SyncConfig | None = None,
    *,
    trusted: bool = True,
    env: Mapping[str, str] | None = None,
    run_id: str | None = None,
) -> AuditLog:
    """The log a denial or refusal is written to: always one, whether or not the config audits."""
    return AuditLog.open(
        worker_audit_path(config, trusted=trusted, env=env),
        env=env,
        secrets=secret_values(config) if config is not None else (),
        run_id=run_id,
    )


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
