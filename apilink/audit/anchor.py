"""The audit chain's head, anchored outside the file: in the Prefect events of the audit lines.

The head file (``<log>.head``) catches lines cut from the end, but whoever can write the log can
also write its head: restoring an *older* log with its older head (a rollback), or wiping both
and starting again, leaves a chain that verifies. So each audit event that goes to Prefect
(:class:`tasks.audit.PrefectAuditSink`) carries an :class:`Anchor`: the chain it belongs to, the
line's ``seq`` and chain ``mac``, and a ``tag`` made with the audit key. ``apilink audit verify
--prefect`` reads the anchors back from the Prefect server
(:func:`tasks.audit.read_anchors`) and
:func:`check_anchors` refuses

- a log that ends before a line Prefect holds an anchor for (rolled back, or wiped and
  restarted with fewer lines), and
- a line whose MAC is not the one anchored for it (wiped and restarted, or another copy).

Since every line's MAC chains all the lines before it, one anchored line vouches for the whole
log up to it; lines after the last anchor (for example CLI denials written after the last flow
run) are covered by the head file alone.

Trusted: the worker's operator, who holds the audit key (best ``APILINK_AUDIT_KEY``, which the
writer of the log cannot read) and runs the verification. Not trusted: anyone who can write the
log or its head, and anyone with Prefect API access, who can add events but cannot make a
``tag`` without the key: such anchors are counted and ignored, never trusted. Events Prefect has
deleted (its retention, ``PREFECT_EVENTS_RETENTION_PERIOD``) no longer anchor anything.

A chain is named by the key and the log's absolute path (:func:`chain_id`): verify the log at
the path it was written to. After an incident, start a new chain (a new key or a new file).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from apilink.errors import AuditTampered

__all__ = [
    "CHAIN_RESOURCE_PREFIX",
    "Anchor",
    "AnchorReport",
    "Anchored",
    "anchor_for",
    "chain_id",
    "chain_resource",
    "check_anchors",
    "parse_anchor",
]

CHAIN_RESOURCE_PREFIX = "apilink.audit-chain."
"""Prefect resource id prefix of an audit chain (a related resource of each anchored event)."""


@dataclass(frozen=True)
class Anchor:
    """One audit line as Prefect saw it: its chain, ``seq``, chain ``mac`` and key ``tag``."""

    chain: str
    seq: int
    mac: str
    tag: str

    def payload(self) -> dict[str, Any]:
        """What goes into the Prefect event's payload under ``audit``."""
        return {"chain": self.chain, "seq": self.seq, "mac": self.mac, "tag": self.tag}


@runtime_checkable
class Anchored(Protocol):
    """An audit sink that can anchor the line it wrote last (an ``AuditLog``)."""

    def anchor(self, line: Mapping[str, Any]) -> Anchor | None: ...


def chain_id(key: bytes, log_path: str | os.PathLike[str]) -> str:
    """The name of the chain kept in ``log_path`` under ``key``."""
    where = str(Path(log_path).resolve()).encode("utf-8")
    return hmac.new(key, b"apilink-audit-chain\x00" + where, hashlib.sha256).hexdigest()[:32]


def chain_resource(chain: str) -> dict[str, str]:
    """The related resource that ties an event to its chain."""
    return {
        "prefect.resource.id": CHAIN_RESOURCE_PREFIX + chain,
        "prefect.resource.role": "audit-chain",
    }


def _tag(key: bytes, chain: str, seq: int, mac: str) -> str:
    message = f"apilink-audit-anchor\x00{chain}\x00{seq}\x00{mac}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def anchor_for(key: bytes, chain: str, line: Mapping[str, Any]) -> Anchor | None:
    """The anchor of an audit ``line`` as written (``None`` if it holds no ``seq``/``mac``)."""
    seq, mac = line.get("seq"), line.get("mac")
    if not isinstance(seq, int) or not isinstance(mac, str):
        return None
    return Anchor(chain, seq, mac, _tag(key, chain, seq, mac))


def parse_anchor(payload: Mapping[str, Any] | None) -> Anchor | None:
    """The anchor in a Prefect event's payload, or ``None`` when it holds none (or a malformed
    one: anyone with Prefect API access can write events)."""
    data = (payload or {}).get("audit")
    if not isinstance(data, Mapping):
        return None
    chain, seq, mac, tag = (data.get(k) for k in ("chain", "seq", "mac", "tag"))
    if not (isinstance(chain, str) and isinstance(mac, str) and isinstance(tag, str)):
        return None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None
    return Anchor(chain, seq, mac, tag)


@dataclass(frozen=True)
class AnchorReport:
    """What :func:`check_anchors` found: ``anchored`` lines agreeing, the ``last`` of them
    (0 for none), and ``ignored`` anchors whose tag was not made with the key."""

    anchored: int
    last: int
    ignored: int

    def summary(self) -> str:
        """One line for the CLI."""
        text = f"{self.anchored} anchored in Prefect and matching"
        if self.anchored:
            text += f" (up to line {self.last})"
        if self.ignored:
            text += f"; {self.ignored} anchor(s) not made with this key ignored"
        return text


def check_anchors(
    macs: Sequence[str], anchors: Iterable[Anchor], *, key: bytes, chain: str
) -> AnchorReport:
    """Hold the verified chain ``macs`` (line K's MAC at K-1) against the Prefect ``anchors``.

    Raises:
        AuditTampered: the log was replaced (a line's MAC is not the anchored one) or rolled
            back (it ends before an anchored line); ``line`` is the first line in question.
    """
    genuine: dict[int, set[str]] = {}
    ignored = 0
    for anchor in anchors:
        if anchor.chain != chain:
            continue
        if not hmac.compare_digest(anchor.tag, _tag(key, chain, anchor.seq, anchor.mac)):
            ignored += 1
            continue
        genuine.setdefault(anchor.seq, set()).add(anchor.mac)
    count = len(macs)
    for seq in sorted(genuine):
        if seq > count:
            break
        if any(not hmac.compare_digest(macs[seq - 1], mac) for mac in genuine[seq]):
            raise AuditTampered(
                f"line {seq}: is not the line Prefect holds an anchor for (the log and its head "
                "were replaced: wiped and started again, or restored from another copy)",
                line=seq,
            )
    last = max(genuine, default=0)
    if last > count:
        raise AuditTampered(
            f"line {count + 1}: missing; Prefect holds an anchor for line {last} and the log "
            f"ends after {count} (rolled back, or wiped and started again, with its head)",
            line=count + 1,
        )
    return AnchorReport(anchored=len(genuine), last=last, ignored=ignored)
