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
from typing import Any

from apilink.audit.anchor import Anchor
from apilink.audit.log import AuditLog
from apilink.config.models import LoggingConfig, SyncConfig
from apilink.redaction import Redactor, secret_values
from apilink.storage.state.store import default_state_dir

__all__ = [
    "AUDIT_FILE_ENV",
    "DEFAULT_AUDIT_FILE",
    "DenialAudit",
    "audit_path_for",
    "denial_audit_log",
    "open_audit_log",
    "plain_log_path",
    "run_audit_log",
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
    (``trusted``) that turns ``logging.security_audit`` on names its file as the guide shows.
    Otherwise (no config, a config without an audit log, or a config a caller supplied, which
    cannot choose where its own denial is written) the lines go to ``apilink_audit.log`` in the
    worker's state folder (``APILINK_STATE_DIR``, else ``~/.apilink/state``): never a path that
    depends on the current directory, and never the config's plain log file.
    """
    env = os.environ if env is None else env
    if path := env.get(AUDIT_FILE_ENV):
        return Path(path)
    if config is not None and trusted and config.logging.security_audit:
        return audit_path_for(config.logging)
    return default_state_dir(None, env) / DEFAULT_AUDIT_FILE


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


def run_audit_log(
    config: SyncConfig,
    *,
    trusted: bool,
    env: Mapping[str, str] | None = None,
    run_id: str | None = None,
) -> AuditLog | None:
    """A run's audit log, or ``None`` when the config does not audit: a config from the worker's
    disk (``trusted``) names its file as the guide shows; a config a caller supplied writes to the
    operator's file (a caller does not choose where the worker writes)."""
    if not config.logging.security_audit:
        return None
    if trusted:
        return open_audit_log(config, env=env, run_id=run_id)
    return denial_audit_log(config, trusted=False, env=env, run_id=run_id)


class DenialAudit:
    """The audit sink of a permission check: every event to the config's own audit log (when it
    asks for one), and every denial, always, to :func:`denial_audit_log` as well (opened on the
    first denial, so a granted call writes no file). A denial is written once per file: when both
    name the same path it is one line. ``full`` names the log of every event instead of the
    config's (``apilink users --audit-file``).

    Trusted: the worker's operator (``APILINK_AUDIT_FILE``, the audit key). Not trusted: the
    caller, who cannot keep a denial out of the operator's file, whatever the config says.
    """

    def __init__(
        self,
        config: SyncConfig | None = None,
        *,
        trusted: bool = True,
        env: Mapping[str, str] | None = None,
        run_id: str | None = None,
        full: AuditLog | None = None,
    ) -> None:
        self._config = config
        self._trusted = trusted
        self._env = env
        self._run_id = run_id
        if full is None and config is not None and trusted:
            full = open_audit_log(config, env=env, run_id=run_id)
        self.full = full
        self._denials: AuditLog | None = None
        self._last: AuditLog | None = None
        self.redactor = (
            self.full.redactor
            if self.full is not None
            else Redactor(secret_values(config) if config is not None else set())
        )

    def __repr__(self) -> str:
        return f"DenialAudit(full={self.full!r})"

    @property
    def denial_path(self) -> Path:
        """Where denials go (the operator's file)."""
        return worker_audit_path(self._config, trusted=self._trusted, env=self._env)

    def _logs(self, to_operator: bool) -> list[AuditLog]:
        logs = [self.full] if self.full is not None else []
        if to_operator and (
            self.full is None or self.full.path.resolve() != self.denial_path.resolve()
        ):
            if self._denials is None:
                self._denials = denial_audit_log(
                    self._config, trusted=self._trusted, env=self._env, run_id=self._run_id
                )
            logs.append(self._denials)
        return logs

    def record(
        self,
        action: str,
        *,
        actor: str,
        target: str = "",
        outcome: str = "ok",
        run_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        always: bool = False,
    ) -> dict[str, Any]:
        """Write the event where it belongs; returns the line written last (or the event).

        A denial, or any event recorded with ``always`` (showing sealed values), reaches the
        operator's file as well as the config's log.
        """
        line: dict[str, Any] = {
            "action": action,
            "actor": actor,
            "target": target,
            "outcome": outcome,
            "run_id": run_id,
            "details": self.redactor.data(dict(details or {})),
        }
        for log in self._logs(always or outcome == "denied"):
            line = log.record(
                action,
                actor=actor,
                target=target,
                outcome=outcome,
                run_id=run_id,
                details=details,
            )
            self._last = log
        return line

    def anchor(self, line: Mapping[str, Any]) -> Anchor | None:
        """The Prefect anchor of the line written last (the operator's file for a denial)."""
        return self._last.anchor(line) if self._last is not None else None
