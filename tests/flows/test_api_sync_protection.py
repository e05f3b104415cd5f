"""Message protection on the route a caller uses, ``api_sync(...)``, against a partner API
that protects its messages with panva's ``jose`` under node (tests/fixtures/jose_peer.py).

The source answers compact JWEs with a detached JWS (b64=false) in ``x-jws-signature``; the
target accepts only bodies apilink signed and encrypted to it. Keys come from the encrypted
credential store. A tampered page fails the run, is not used, and is one audit line.

Trusted: the config author (who names the keys). Not trusted: the partner API and the network.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from apilink.credentials import EncryptedFileStore
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.errors import SyncIncomplete
from apilink.http.protection import RequestProtection
from apilink.http.protection_config import JWEEncryptConfig, JWSDetachedSignConfig
from flows.api_sync import api_sync
from tests.fixtures.jose_peer import JosePeer

MASTER_PASSWORD = "master-password-jose-2b7d"


def protected_config(
    peer: JosePeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    store = tmp_path / "credentials.enc"
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", MASTER_PASSWORD)
    EncryptedFileStore(store, MASTER_PASSWORD, kdf_params=SCRYPT_FLOOR).put(
        "me", {"jwk": peer.apilink_private}
    )
    EncryptedFileStore(store, MASTER_PASSWORD, kdf_params=SCRYPT_FLOOR).put(
        "partner", {"jwk": peer.peer_public}
    )
    return {
        "name": "jose-interop",
        "state_dir": str(tmp_path / "state"),
        "chunk_size": 5,
        "credentials": {"type": "file", "path": str(store)},
        "logging": {"security_audit": True},
        "source": {
            "base_url": peer.url,
            "retry": {"max_attempts": 1},
            "endpoints": {
                "records": {
                    "path": "/records",
                    "pagination": {
                        "type": "page_number",
                        "data_path": "data",
                        "has_more_path": "more",
                    },
                    "verify": {
                        "type": "jws_detached",
                        "key": "secret://partner#jwk",
                        "algorithms": ["PS256"],
                    },
                    "decrypt": {"type": "jwe", "key": "secret://me#jwk"},
                }
            },
        },
        "target": {
            "base_url": peer.url,
            "endpoints": {
                "put": {
                    "path": "/put",
                    "method": "POST",
                    "encrypt": {
                        "type": "jwe",
                        "key": "secret://partner#jwk",
                        "alg": "RSA-OAEP-256",
                        "enc": "A256GCM",
                    },
                    "sign": {"type": "jws_detached", "key": "secret://me#jwk", "alg": "PS256"},
                }
            },
        },
        "mapping": [
            {
                "source": "records",
                "target": "put",
                "fields": [
                    {"source": "id", "target": "id"},
                    {"source": "email", "target": "email"},
                ],
            }
        ],
    }


def test_a_sync_reads_and_sends_protected_messages_with_a_jose_peer(
    prefect_harness: str,
    jose_peer: JosePeer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = protected_config(jose_peer, tmp_path, monkeypatch)

    summary = asyncio.run(api_sync(config=config))

    assert summary["extracted"] == summary["loaded"] == 12
    seen = jose_peer.received()
    assert seen["rejected"] == []
    assert sorted(r["body"]["id"] for r in seen["received"]) == list(range(1, 13))
    assert {r["contentType"] for r in seen["received"]} == {"application/jose"}
    assert "p7@example.com" not in caplog.text  # plaintext stays out of the log
    assert json.loads(jose_peer.apilink_private)["d"] not in caplog.text


def test_a_tampered_page_fails_the_run_unused_and_audited(
    prefect_harness: str, jose_peer: JosePeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = protected_config(jose_peer, tmp_path, monkeypatch)
    config["source"]["endpoints"]["records"]["params"] = {"tamper": "1"}
    # A caller's config audits to the operator's file, whatever its own logging says.
    monkeypatch.setenv("APILINK_AUDIT_FILE", str(tmp_path / "audit.log"))

    with pytest.raises(SyncIncomplete) as caught:
        asyncio.run(api_sync(config=config))

    message = str(caught.value)
    assert "`source.endpoints.records.verify`: the signature does not verify" in message
    assert "page is not used" in message and "extracted 0" in message
    assert jose_peer.received()["received"] == []
    lines = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    rejected = [line for line in lines if line["action"] == "message.rejected"]
    assert len(rejected) == 1
    assert rejected[0]["target"] == "source.endpoints.records"
    assert rejected[0]["details"]["check"] == "verify"


def test_the_jose_peer_rejects_a_body_changed_after_apilink_signed_it(jose_peer: JosePeer) -> None:
    protection = RequestProtection.of(
        "target.endpoints.put",
        JWEEncryptConfig(type="jwe", key=jose_peer.peer_public),
        JWSDetachedSignConfig(type="jws_detached", key=jose_peer.apilink_private),
    )
    assert protection is not None
    headers = {"Content-Type": "application/json"}
    body = protection.apply(b'{"id": 1}', headers)
    good = httpx.post(jose_peer.url + "/put", content=body, headers=headers)
    assert good.status_code == 201
    tampered = body[:-5] + (b"A" if body[-5:-4] != b"A" else b"B") + body[-4:]
    bad = httpx.post(jose_peer.url + "/put", content=tampered, headers=headers)

    assert bad.status_code == 400
    assert jose_peer.received()["rejected"] == ["verify: ERR_JWS_SIGNATURE_VERIFICATION_FAILED"]
    assert [r["body"] for r in jose_peer.received()["received"]] == [{"id": 1}]
