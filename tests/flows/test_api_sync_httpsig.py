"""RFC 9421 HTTP Message Signatures on the route a caller uses, ``api_sync(...)``, against a
partner API that verifies them with dhensby's ``http-message-signatures`` under node
(tests/fixtures/httpsig_peer.py), once per algorithm: ed25519, ecdsa-p256-sha256 and
rsa-pss-sha512.

The target accepts a request only when its signature (``@method``, ``@target-uri``,
``content-digest``, ``created``, ``keyid``, ``alg``) verifies and the ``Content-Digest`` is the
sha-256 of the body as received, here a JWE apilink encrypted to the peer. The signing key comes
from the encrypted credential store.

Trusted: the config author (who names the key). Not trusted: the network to the partner.
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
from apilink.http.protection import RequestProtection
from apilink.http.protection_config import HTTPMessageSignatureConfig
from flows.api_sync import api_sync
from tests.fixtures.httpsig_peer import HttpsigPeer

MASTER_PASSWORD = "master-password-httpsig-51c3"


def signed_config(
    peer: HttpsigPeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
        "name": "httpsig-interop",
        "state_dir": str(tmp_path / "state"),
        "chunk_size": 5,
        "credentials": {"type": "file", "path": str(store)},
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
                }
            },
        },
        "target": {
            "base_url": peer.url,
            "endpoints": {
                "put": {
                    "path": "/put",
                    "method": "POST",
                    "encrypt": {"type": "jwe", "key": "secret://partner#jwk"},
                    "sign": {
                        "type": "http_message_signature",
                        "key_id": peer.key_id,
                        "key": "secret://me#jwk",
                        "components": ["@method", "@target-uri", "content-digest"],
                    },
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


def test_a_sync_sends_requests_an_rfc_9421_peer_verifies(
    prefect_harness: str,
    httpsig_peer: HttpsigPeer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = signed_config(httpsig_peer, tmp_path, monkeypatch)

    summary = asyncio.run(api_sync(config=config))

    assert summary["extracted"] == summary["loaded"] == 12
    seen = httpsig_peer.received()
    assert seen["rejected"] == []
    assert sorted(r["body"]["id"] for r in seen["received"]) == list(range(1, 13))
    assert {r["contentType"] for r in seen["received"]} == {"application/jose"}
    for record in seen["received"]:
        assert record["signatureInput"].startswith(
            'sig1=("@method" "@target-uri" "content-digest");created='
        )
        assert f'keyid="{httpsig_peer.key_id}"' in record["signatureInput"]
        assert f'alg="{httpsig_peer.alg}"' in record["signatureInput"]
    assert json.loads(httpsig_peer.apilink_private)["d"] not in caplog.text


def test_the_peer_rejects_a_body_or_target_changed_after_apilink_signed_it(
    httpsig_peer: HttpsigPeer,
) -> None:
    protection = RequestProtection.of(
        "target.endpoints.put",
        None,
        HTTPMessageSignatureConfig(
            type="http_message_signature",
            key=httpsig_peer.apilink_private,  # type: ignore[arg-type]
            key_id=httpsig_peer.key_id,
        ),
    )
    assert protection is not None
    url = httpsig_peer.url + "/put"
    headers = {"Content-Type": "application/json"}
    body = protection.apply(b'{"id": 1}', headers, method="POST", url=url)

    good = httpx.post(url, content=body, headers=headers)
    tampered_body = httpx.post(url, content=b'{"id": 2}', headers=headers)
    digest_too = httpx.post(
        url,
        content=b'{"id": 2}',
        headers={**headers, "Content-Digest": "sha-256=:" + "A" * 43 + "=:"},
    )
    elsewhere = httpx.post(url + "?copy=1", content=body, headers=headers)

    assert good.status_code == 201
    assert tampered_body.status_code == digest_too.status_code == elsewhere.status_code == 400
    assert httpsig_peer.received()["rejected"] == [
        "digest: does not match the body",
        "signature: does not verify",
        "signature: does not verify",
    ]
    assert [r["body"] for r in httpsig_peer.received()["received"]] == [{"id": 1}]
