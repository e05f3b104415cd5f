"""RFC 9421 HTTP Message Signatures on target requests (apilink.http.message_signature):
the signature base as the RFC writes it, a verifier from the same library, tampering, and the
config errors a partner's key or component list can cause."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pytest
from http_message_signatures import (
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from apilink.config.loader import build_config
from apilink.errors import ConfigError
from apilink.http.protection import RequestProtection
from apilink.http.protection_config import HTTPMessageSignatureConfig, JWEEncryptConfig

ED25519 = OKPKey.generate_key("Ed25519", private=True)
P256 = ECKey.generate_key("P-256", private=True)
RSA = RSAKey.generate_key(2048, private=True)
KEYS: dict[str, Key] = {"ed25519": ED25519, "ecdsa-p256-sha256": P256, "rsa-pss-sha512": RSA}
ALGORITHMS = {
    "ed25519": algorithms.ED25519,
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
}
URL = "https://t.example/put?tenant=7"
BODY = b'{"id":1,"email":"a.b@example.com"}'
NOW = 1_700_000_000.0


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]


def jwk(key: Key, private: bool = True) -> str:
    return json.dumps(key.as_dict(private=private))


def signer(
    key: Key = ED25519, components: list[str] | None = None, **extra: Any
) -> RequestProtection:
    config = HTTPMessageSignatureConfig(
        type="http_message_signature",
        key=jwk(key),  # type: ignore[arg-type]
        key_id="my-key",
        **({"components": components} if components else {}),
    )
    protection = RequestProtection.of(
        "target.endpoints.put", extra.pop("encrypt", None), config, clock=lambda: NOW, **extra
    )
    assert protection is not None
    return protection


def signed(protection: RequestProtection, body: bytes = BODY) -> tuple[bytes, dict[str, str]]:
    headers = {"Content-Type": "application/json", "Idempotency-Key": "k-1"}
    sent = protection.apply(body, headers, method="POST", url=URL)
    return sent, headers


def verify(alg: str, request: Request, body: bytes) -> list[Any]:
    public = KEYS[alg].public_key
    verifier = HTTPMessageVerifier(
        signature_algorithm=ALGORITHMS[alg],
        key_resolver=MappingKeyResolver(public_keys={"my-key": public}, private_keys={}),
    )
    return verifier.verify(
        request,
        max_age=None,
        require_components=["@method", "@target-uri", "content-digest"],
        body=body,
    )


def test_the_signature_base_is_the_one_rfc_9421_builds() -> None:
    # Ed25519 is deterministic: the signature over the base written out here by RFC 9421
    # section 2.5 (one line per component, then @signature-params) must be the one sent.
    sent, headers = signed(signer(components=["@method", "@target-uri", "content-digest"]))

    digest = base64.b64encode(hashlib.sha256(sent).digest()).decode()
    assert headers["Content-Digest"] == f"sha-256=:{digest}:"  # RFC 9530 section 2
    params = (
        '("@method" "@target-uri" "content-digest");created=1700000000;keyid="my-key";alg="ed25519"'
    )
    assert headers["Signature-Input"] == f"sig1={params}"
    base = (
        '"@method": POST\n'
        f'"@target-uri": {URL}\n'
        f'"content-digest": sha-256=:{digest}:\n'
        f'"@signature-params": {params}'
    )
    expected = base64.b64encode(ED25519.private_key.sign(base.encode())).decode()  # type: ignore[union-attr]
    assert headers["Signature"] == f"sig1=:{expected}:"


@pytest.mark.parametrize("alg", sorted(KEYS))
def test_a_verifier_from_the_same_library_accepts_every_algorithm(alg: str) -> None:
    sent, headers = signed(signer(KEYS[alg]))

    results = verify(alg, Request("POST", URL, headers), sent)

    assert [r.label for r in results] == ["sig1"]
    assert results[0].parameters["alg"] == alg
    assert results[0].parameters["keyid"] == "my-key"
    assert results[0].parameters["created"] == int(NOW)
    assert results[0].body == sent


@pytest.mark.parametrize("change", ["body", "method", "url", "content-digest", "signature"])
def test_a_tampered_body_or_header_does_not_verify(change: str) -> None:
    sent, headers = signed(signer(components=["@method", "@target-uri", "content-digest"]))
    request = Request("POST", URL, dict(headers))
    if change == "body":
        sent = sent.replace(b"a.b@", b"x.b@")
    elif change == "method":
        request.method = "PUT"
    elif change == "url":
        request.url = URL.replace("tenant=7", "tenant=8")
    elif change == "content-digest":
        request.headers["Content-Digest"] = (
            "sha-256=:" + base64.b64encode(b"\0" * 32).decode() + ":"
        )
    else:
        value = headers["Signature"]
        request.headers["Signature"] = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]

    with pytest.raises(InvalidSignature):
        verify("ed25519", request, sent)


def test_a_covered_header_is_signed_and_its_change_detected() -> None:
    components = ["@method", "@target-uri", "content-type", "idempotency-key", "content-digest"]
    sent, headers = signed(signer(components=components))
    assert verify("ed25519", Request("POST", URL, headers), sent)

    with pytest.raises(InvalidSignature):
        verify("ed25519", Request("POST", URL, {**headers, "Idempotency-Key": "k-2"}), sent)


def test_the_digest_is_of_the_body_as_sent_after_encryption() -> None:
    encrypt = JWEEncryptConfig(type="jwe", key=jwk(RSA, private=False))  # type: ignore[arg-type]
    sent, headers = signed(signer(encrypt=encrypt))

    assert sent != BODY and sent.count(b".") == 4
    digest = base64.b64encode(hashlib.sha256(sent).digest()).decode()
    assert headers["Content-Digest"] == f"sha-256=:{digest}:"
    assert headers["Content-Type"] == "application/jose"
    assert verify("ed25519", Request("POST", URL, headers), sent)


def test_without_content_digest_no_digest_is_sent() -> None:
    _, headers = signed(signer(components=["@method", "@target-uri"]))

    assert "Content-Digest" not in headers
    assert headers["Signature-Input"].startswith('sig1=("@method" "@target-uri");created=')


def test_keys_stay_out_of_reprs() -> None:
    protection = signer()
    d = ED25519.as_dict(private=True)["d"]

    assert d not in repr(protection) and d not in repr(protection._signer)
    assert "my-key" in repr(protection._signer) and "ed25519" in repr(protection._signer)
    config = HTTPMessageSignatureConfig(
        type="http_message_signature",
        key=jwk(ED25519),  # type: ignore[arg-type]
        key_id="my-key",
    )
    assert d not in repr(config) and d not in str(config.model_dump())


def config_with(sign: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": {"base_url": "https://s.example", "endpoints": {"e": {"path": "/e"}}},
        "target": {
            "base_url": "https://t.example",
            "endpoints": {"put": {"path": "/put", "method": "POST", "sign": sign}},
        },
        "mapping": [{"source": "e", "target": "put"}],
    }


@pytest.mark.parametrize(
    ("sign", "words"),
    [
        (
            {"key_id": "k", "components": ["@method", "@status"]},
            [
                "sign.http_message_signature.components",
                "unknown component `@status`",
                "@target-uri",
            ],
        ),
        (
            {"key_id": "k", "components": ["Content-Type"]},
            ["unknown component `Content-Type`", "lowercase"],
        ),
        ({}, ["`key_id` is required"]),
        ({"key_id": "k", "type": "http_signature"}, ["http_message_signature", "jws_detached"]),
    ],
)
def test_config_errors_name_the_field_and_what_is_valid(
    sign: dict[str, Any], words: list[str]
) -> None:
    sign = {"type": "http_message_signature", "key": jwk(ED25519), **sign}
    with pytest.raises(ConfigError) as caught:
        build_config(config_with(sign))

    message = str(caught.value)
    for word in words:
        assert word in message
    assert ED25519.as_dict(private=True)["d"] not in message


def test_a_public_key_cannot_sign() -> None:
    config = HTTPMessageSignatureConfig(
        type="http_message_signature",
        key=jwk(ED25519, private=False),  # type: ignore[arg-type]
        key_id="my-key",
    )
    with pytest.raises(ConfigError) as caught:
        RequestProtection.of("target.endpoints.put", None, config)

    assert "`target.endpoints.put.sign.key`: a public key" in str(caught.value)


def test_a_covered_header_the_request_does_not_have_is_refused_before_sending() -> None:
    config = HTTPMessageSignatureConfig(
        type="http_message_signature",
        key=jwk(ED25519),  # type: ignore[arg-type]
        key_id="my-key",
        components=["@method", "authorization"],
    )
    with pytest.raises(ConfigError) as caught:
        RequestProtection.of("target.endpoints.put", None, config, headers=["X-Tenant"])

    message = str(caught.value)
    assert "`target.endpoints.put.sign.components`: `authorization` is not a header" in message
    assert "content-digest, content-type, idempotency-key, x-tenant" in message
    # A configured header may be covered.
    covered = config.model_copy(update={"components": ["@method", "x-tenant"]})
    assert RequestProtection.of("target.endpoints.put", None, covered, headers=["X-Tenant"])


def test_a_key_with_no_rfc_9421_algorithm_is_refused() -> None:
    config = HTTPMessageSignatureConfig(
        type="http_message_signature",
        key=jwk(ECKey.generate_key("secp256k1", private=True)),  # type: ignore[arg-type]
        key_id="my-key",
    )
    with pytest.raises(ConfigError) as caught:
        RequestProtection.of("target.endpoints.put", None, config)

    assert "`target.endpoints.put.sign.key`" in str(caught.value)
    assert "ed25519" in str(caught.value)
