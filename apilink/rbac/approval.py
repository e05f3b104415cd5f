"""Sealed claims made with the worker key: block approvals, child partition proofs, run tickets.

Who is trusted: the worker's operator (holds the worker key, :mod:`apilink.rbac.worker_key`).
Who is not: anyone with Prefect API access, who can read and write block documents and flow-run
parameters. Such a person can copy a sealed value but cannot make or change one: every seal is an
HMAC-SHA256 over its claims with the worker key, and each is bound to what it allows:

* a **block approval** to the config's digest (an edit in the Prefect UI breaks it);
* a **child proof** to the parent flow run, the partition and the config digest, for minutes;
* a **run ticket** to the deployment and the digest of the run's parameters, for minutes, once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apilink.errors import ProofRejected

__all__ = [
    "APPROVAL",
    "CHILD_PROOF",
    "RUN_TICKET",
    "approve_config",
    "config_digest",
    "consume_ticket",
    "issue_child_proof",
    "issue_ticket",
    "open_seal",
    "parameters_digest",
    "seal",
    "verify_approval",
    "verify_child_proof",
    "verify_ticket",
]

APPROVAL = "block-approval"
CHILD_PROOF = "child-proof"
RUN_TICKET = "run-ticket"
_PREFIX = "apl1"
CHILD_PROOF_SECONDS = 900
TICKET_SECONDS = 600
# Parameters a ticket does not bind: the ticket itself, and how often a parent polls.
_UNBOUND = {"ticket", "api_key", "poll_interval"}


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()


def config_digest(raw: Mapping[str, Any]) -> str:
    """SHA-256 of the config as written (``${VAR}`` unexpanded), independent of key order."""
    return hashlib.sha256(_canonical(dict(raw))).hexdigest()


def parameters_digest(parameters: Mapping[str, Any]) -> str:
    """SHA-256 of a run's parameters, leaving out unset ones and those a ticket does not bind."""
    bound = {
        k: v
        for k, v in parameters.items()
        if k not in _UNBOUND and v is not None and v is not False
    }
    return hashlib.sha256(_canonical(bound)).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: bytes) -> bytes:
    return hmac.new(key, purpose.encode() + b"\0" + body, hashlib.sha256).digest()


def seal(key: bytes, purpose: str, claims: Mapping[str, Any]) -> str:
    """``claims`` sealed for ``purpose`` with the worker key (readable, not forgeable)."""
    body = _canonical(dict(claims))
    return f"{_PREFIX}.{_b64(body)}.{_b64(_mac(key, purpose, body))}"


def open_seal(key: bytes, purpose: str, token: str, *, now: float | None = None) -> dict[str, Any]:
    """The claims of a sealed ``token``; checks the MAC and, when there is one, ``exp``.

    Raises:
        ProofRejected: a malformed, forged or expired token (the message names which).
    """
    what = purpose.replace("-", " ")
    try:
        prefix, body_text, mac_text = token.split(".")
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (ValueError, binascii.Error):
        raise ProofRejected(f"{what}: not an apilink seal", permission=purpose) from None
    if prefix != _PREFIX or not hmac.compare_digest(mac, _mac(key, purpose, body)):
        raise ProofRejected(f"{what}: does not verify with this worker's key", permission=purpose)
    claims: dict[str, Any] = json.loads(body)
    expires = claims.get("exp")
    if expires is not None and (time.time() if now is None else now) >= float(expires):
        raise ProofRejected(f"{what}: expired", permission=purpose)
    return claims


# -- block approvals ---------------------------------------------------------------------------


def approve_config(key: bytes, raw: Mapping[str, Any], approver: str) -> str:
    """The approval a SyncConfig block carries after ``approver`` (with edit_config) saved it."""
    return seal(key, APPROVAL, {"digest": config_digest(raw), "by": approver, "at": time.time()})


def verify_approval(key: bytes, raw: Mapping[str, Any], approval: str, *, block: str) -> str:
    """Who approved ``raw``; :class:`ProofRejected` when the block was changed since."""
    try:
        claims = open_seal(key, APPROVAL, approval)
    except ProofRejected:
        claims = {}
    if claims.get("digest") != config_digest(raw):
        raise ProofRejected(
            f"SyncConfig block {block!r} was edited outside apilink: re-approve it "
            "(`SyncConfig.save_checked(...)` with an edit_config key)",
            permission=APPROVAL,
        )
    return str(claims["by"])


# -- child partition proofs --------------------------------------------------------------------


def issue_child_proof(
    key: bytes,
    *,
    parent_run: str,
    partition: str,
    digest: str,
    principal: str,
    trusted: bool,
    ttl: float = CHILD_PROOF_SECONDS,
) -> str:
    """What a child partition run shows for its parent's authorization."""
    claims = {
        "parent": parent_run,
        "partition": partition,
        "digest": digest,
        "principal": principal,
        "trusted": trusted,
        "exp": time.time() + ttl,
    }
    return seal(key, CHILD_PROOF, claims)


def verify_child_proof(
    key: bytes, proof: str, *, parent_run: str | None, partition: str | None, digest: str
) -> dict[str, Any]:
    """The parent's claims, if ``proof`` was made for this very parent, partition and config."""
    claims = open_seal(key, CHILD_PROOF, proof)
    for name, actual in (("parent", parent_run), ("partition", partition), ("digest", digest)):
        if claims.get(name) != actual:
            shown = {"parent": "parent flow run", "digest": "config"}.get(name, name)
            raise ProofRejected(
                f"child proof: made for another {shown}; a child run is started only by "
                "partitioned_sync",
                permission=CHILD_PROOF,
            )
    return claims


# -- run tickets -------------------------------------------------------------------------------


def issue_ticket(
    key: bytes,
    *,
    deployment: str,
    parameters: Mapping[str, Any],
    principal: str,
    ttl: float = TICKET_SECONDS,
) -> str:
    """A single-use ticket for one run of ``deployment`` with exactly ``parameters``."""
    claims = {
        "deployment": deployment,
        "params": parameters_digest(parameters),
        "principal": principal,
        "nonce": secrets.token_hex(16),
        "exp": time.time() + ttl,
    }
    return seal(key, RUN_TICKET, claims)


def verify_ticket(
    key: bytes, ticket: str, *, deployment: str | None, parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """The ticket's claims, if it was made for this deployment and these parameters."""
    claims = open_seal(key, RUN_TICKET, ticket)
    if claims.get("deployment") != deployment:
        raise ProofRejected(
            f"run ticket: made for deployment {claims.get('deployment')!r}, not {deployment!r}",
            permission=RUN_TICKET,
        )
    if claims.get("params") != parameters_digest(parameters):
        raise ProofRejected(
            "run ticket: made for other parameters; make one for these with `apilink ticket`",
            permission=RUN_TICKET,
        )
    return claims


def consume_ticket(claims: Mapping[str, Any], folder: Path) -> None:
    """Mark the ticket used (one file per nonce); :class:`ProofRejected` when it already was."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    nonce = str(claims.get("nonce", ""))
    if not nonce.isalnum():
        raise ProofRejected("run ticket: no nonce", permission=RUN_TICKET)
    try:
        fd = os.open(folder / nonce, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ProofRejected(
            "run ticket: already used; make a new one with `apilink ticket`",
            permission=RUN_TICKET,
        ) from None
    os.close(fd)
