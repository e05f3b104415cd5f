"""A tamper-evident audit log: one JSON line per security event, chained by HMAC-SHA256.

Each line holds ``seq``, ``ts`` (ISO 8601, UTC), ``actor``, ``action``, ``target``, ``outcome``,
``run_id``, ``details`` and ``mac``, where::

    mac = HMAC-SHA256(key, prev_mac || canonical_json(line without mac))

and the first line chains from :data:`GENESIS`. Editing a line breaks its own MAC; deleting or
moving a line breaks the MAC of the line that now follows. Cutting lines off the end leaves a
valid chain, so every append also rewrites ``<log>.head`` with the line count and last MAC,
itself HMAC'd: :func:`verify` refuses a log shorter than its head, a head whose MAC does not
verify, or a missing head beside a non-empty log. A head one line behind the log (a crash between
the append and the head write) is accepted: the extra lines carry valid MACs, which only the key
holder can make.

What the file alone cannot show: someone holding the key, or someone who restores an *older*
log together with its matching older head, or wipes both and starts again. For those, the
events that go to Prefect (see ``tasks/audit.py``) carry each line's ``seq`` and MAC, out of the
writer's reach, and ``apilink audit verify --prefect`` holds the log against them (see
:mod:`apilink.audit.anchor`). Writers append under ``<log>.lock``, so concurrent processes keep one
chain. Details are redacted before they are written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from apilink.audit.anchor import Anchor, anchor_for, chain_id
from apilink.audit.key import load_audit_key
from apilink.errors import AuditTampered, DuplicateKey
from apilink.redaction import Redactor
from apilink.storage.private_files import (
    PrivateLock,
    open_private_fd,
    write_atomically,
)

__all__ = [
    "GENESIS",
    "AuditLog",
    "AuditSink",
    "chain_macs",
    "head_path_for",
    "read_events",
    "verify",
]

GENESIS = "0" * 64
"""The MAC the first line chains from."""


class AuditSink(Protocol):
    """Anything that records security events (an :class:`AuditLog`, or one that also emits
    Prefect events)."""

    def record(
        self,
        action: str,
        *,
        actor: str,
        target: str = "",
        outcome: str = "ok",
        run_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]: ...


def head_path_for(log_path: str | os.PathLike[str]) -> Path:
    """The head file of ``log_path`` (``<log>.head``)."""
    return Path(str(log_path) + ".head")


def _canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _line_mac(key: bytes, prev_mac: str, body: Mapping[str, Any]) -> str:
    return hmac.new(key, prev_mac.encode("ascii") + _canonical(body), hashlib.sha256).hexdigest()


def _head_mac(key: bytes, count: int, mac: str) -> str:
    message = f"apilink-audit-head\x00{count}\x00{mac}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKey(key)
        found[key] = value
    return found


def _parse(raw: str | bytes) -> Any:
    """A JSON line, refusing an object that names a key twice: parsers disagree on which one
    counts (Python keeps the last, others the first), so such a line could verify while a reader
    sees another actor."""
    return json.loads(raw, object_pairs_hook=_unique_keys)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """Appends chained audit lines to ``path`` (created 0600, with ``.head`` and ``.lock``).

    Args:
        path: the log file.
        key: the HMAC key (see :mod:`apilink.audit.key`; :meth:`open` loads it).
        clock: the current time; tests pin it.
        redactor: masks secrets in ``details``; by default the standard filter fields.
        run_id: the run id written when :meth:`record` is not given one.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: bytes,
        *,
        clock: Callable[[], datetime] = _utcnow,
        redactor: Redactor | None = None,
        run_id: str | None = None,
    ) -> None:
        if len(key) < 16:
            raise ValueError("the audit key must be at least 16 bytes")
        self.path = Path(path)
        self._key = key
        self._clock = clock
        self._lock = PrivateLock(str(self.path) + ".lock")
        self.redactor = redactor or Redactor(set())
        self.run_id = run_id

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    @property
    def chain(self) -> str:
        """The name of this log's chain in its Prefect anchors."""
        return chain_id(self._key, self.path)

    def anchor(self, line: Mapping[str, Any]) -> Anchor | None:
        """The Prefect anchor of a ``line`` this log wrote (see :mod:`apilink.audit.anchor`)."""
        return anchor_for(self._key, self.chain, line)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        env: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        filter_fields: Iterable[str] = (),
        **kwargs: Any,
    ) -> AuditLog:
        """The log at ``path`` with its key from ``APILINK_AUDIT_KEY`` or ``<log>.key``."""
        key = load_audit_key(path, env=env, create=True)
        redactor = Redactor(set(secrets), tuple(filter_fields))
        return cls(path, key, redactor=redactor, **kwargs)

    def record(
        self,
        action: str,
        *,
        actor: str,
        target: str = "",
        outcome: str = "ok",
        run_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one event and return the line as written (``mac`` included).

        Raises:
            AuditTampered: the log no longer matches its head (truncated or replaced); the
                event is not written, so the break stays visible.
        """
        body: dict[str, Any] = {
            "ts": self._clock().astimezone(UTC).isoformat(),
            "actor": self.redactor.text(actor),
            "action": action,
            "target": self.redactor.text(target),
            "outcome": outcome,
            "run_id": run_id if run_id is not None else self.run_id,
            "details": self.redactor.data(dict(details or {})),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            count, prev_mac = self._tail()
            body["seq"] = count + 1
            line = {**body, "mac": _line_mac(self._key, prev_mac, body)}
            data = (json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n").encode()
            fd = open_private_fd(self.path, "a")
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._write_head(count + 1, line["mac"])
        return line

    def _tail(self) -> tuple[int, str]:
        """(count, last mac) of the log, checked against the head."""
        last = _last_line(self.path)
        if last is None:
            count, mac = 0, GENESIS
        else:
            try:
                entry = _parse(last)
                count, mac = int(entry["seq"]), str(entry["mac"])
            except (ValueError, KeyError, TypeError):
                raise AuditTampered(
                    f"{self.path}: the last line is not an audit record", line=0
                ) from None
        head = _read_head(self.path, self._key)
        if head is not None and (head[0] > count or (head[0] == count and head[1] != mac)):
            raise AuditTampered(
                f"{self.path}: the log does not end where its head says (line {head[0]})",
                line=min(head[0], count + 1),
            )
        return count, mac

    def _write_head(self, count: int, mac: str) -> None:
        head = head_path_for(self.path)
        payload = {"count": count, "mac": mac, "head_mac": _head_mac(self._key, count, mac)}
        write_atomically(head, json.dumps(payload).encode("ascii"))


def _last_line(path: Path) -> str | None:
    """The last non-empty line of ``path`` (read from the end), or ``None``."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        buffer = b""
        position = end
        while position > 0:
            step = min(4096, position)
            position -= step
            handle.seek(position)
            buffer = handle.read(step) + buffer
            stripped = buffer.rstrip(b"\n")
            if b"\n" in stripped:
                return stripped.rsplit(b"\n", 1)[1].decode("utf-8", "replace")
        stripped = buffer.rstrip(b"\n")
        return stripped.decode("utf-8", "replace") if stripped else None


def _read_head(log_path: Path, key: bytes) -> tuple[int, str] | None:
    try:
        data = _parse(head_path_for(log_path).read_text(encoding="ascii"))
        count, mac, head_mac = int(data["count"]), str(data["mac"]), str(data["head_mac"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        raise AuditTampered(f"{head_path_for(log_path)}: not an audit head", line=0) from None
    if not hmac.compare_digest(head_mac, _head_mac(key, count, mac)):
        raise AuditTampered(f"{head_path_for(log_path)}: the head MAC does not verify", line=0)
    return count, mac


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        yield from enumerate(handle, start=1)


def verify(path: str | os.PathLike[str], key: bytes) -> int:
    """Check the whole chain of the log at ``path``; returns the number of lines.

    Raises:
        AuditTampered: ``line`` is the first line that does not verify; the message starts
            with ``line K:`` and says what is wrong.
        FileNotFoundError: neither the log nor its head exists.
    """
    return len(chain_macs(path, key))


def chain_macs(path: str | os.PathLike[str], key: bytes) -> list[str]:
    """Check the whole chain of the log at ``path``; returns each line's MAC, in order.

    Raises:
        AuditTampered: ``line`` is the first line that does not verify; the message starts
            with ``line K:`` and says what is wrong.
        FileNotFoundError: neither the log nor its head exists.
    """
    log = Path(path)
    if not log.exists() and not head_path_for(log).exists():
        raise FileNotFoundError(str(log))
    macs: list[str] = []
    prev = GENESIS
    if log.exists():
        for number, raw in _lines(log):
            try:
                entry = _parse(raw)
            except DuplicateKey as exc:
                raise AuditTampered(
                    f"line {number}: the key {str(exc)!r} appears twice (a reader could see "
                    "another value than the one the MAC covers)",
                    line=number,
                ) from None
            except ValueError:
                raise AuditTampered(f"line {number}: not an audit record", line=number) from None
            try:
                mac = entry.pop("mac")
            except (ValueError, KeyError, TypeError, AttributeError):
                raise AuditTampered(f"line {number}: not an audit record", line=number) from None
            if not isinstance(mac, str) or not hmac.compare_digest(
                mac, _line_mac(key, prev, entry)
            ):
                raise AuditTampered(
                    f"line {number}: MAC does not verify (this line was edited, or a line "
                    "before it was deleted or moved)",
                    line=number,
                )
            if entry.get("seq") != number:
                raise AuditTampered(f"line {number}: out of sequence", line=number)
            macs.append(mac)
            prev = mac
    count = len(macs)
    head = _read_head(log, key)
    if head is None:
        if count:
            raise AuditTampered(
                f"line {count}: the head file is missing, so lines cut from the end would go "
                "unseen",
                line=count,
            )
        return macs
    head_count, head_mac = head
    if head_count > count:
        raise AuditTampered(
            f"line {count + 1}: missing; the head records {head_count} lines and the log ends "
            f"after {count} (truncated)",
            line=count + 1,
        )
    if head_count and not hmac.compare_digest(macs[head_count - 1], head_mac):
        raise AuditTampered(f"line {head_count}: does not match the head", line=head_count)
    return macs


def read_events(path: str | os.PathLike[str], *, tail: int | None = None) -> list[dict[str, Any]]:
    """The events in the log (the last ``tail`` of them when given), unverified.

    Raises:
        ValueError: a line that is not JSON, or names a key twice.
    """
    events = [_parse(raw) for _, raw in _lines(Path(path)) if raw.strip()]
    return events[-tail:] if tail is not None and tail >= 0 else events
