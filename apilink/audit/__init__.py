"""The tamper-evident audit log: chained HMAC lines, a signed head, and their verification."""

from __future__ import annotations

from apilink.audit.key import AUDIT_KEY_ENV, key_path_for, load_audit_key
from apilink.audit.log import GENESIS, AuditLog, AuditSink, head_path_for, read_events, verify
from apilink.audit.settings import (
    DEFAULT_AUDIT_FILE,
    audit_path_for,
    open_audit_log,
    plain_log_path,
)
from apilink.errors import AuditKeyError

__all__ = [
    "AUDIT_KEY_ENV",
    "DEFAULT_AUDIT_FILE",
    "GENESIS",
    "AuditKeyError",
    "AuditLog",
    "AuditSink",
    "audit_path_for",
    "head_path_for",
    "key_path_for",
    "load_audit_key",
    "open_audit_log",
    "plain_log_path",
    "read_events",
    "verify",
]
