"""JWE and detached JWS on endpoint bodies (apilink.http.protection), with joserfc keys."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc import jwe
from joserfc.jwk import ECKey, RSAKey
from pydantic import SecretStr, ValidationError

from apilink.config.models import SyncConfig
from apilink.errors import ConfigError, MessageRejected
from apilink.http.protection import JOSE_CONTENT_TYPE, RequestProtection, ResponseProtection
from apilink.http.protection_config import (
    JWEDecryptConfig,
    JWEEncryptConfig,
    JWSDetachedSignConfig,
    JWSDetachedVerifyConfig,
)

RSA = RSAKey.generate_key(2048, private=True)
EC = ECKey.generate_key("P-256", private=True)
PRIVATE = json.dumps(RSA.as_dict(private=True))
PUBLIC = json.dumps(RSA.as_dict(private=False))
EC_PRIVATE = json.dumps(EC.as_dict(private=True))
EC_PUBLIC = json.dumps(EC.as_dict(private=False))
BODY = b'{"id":1,"email":"a.b@example.com"}'


def pair(alg: str = "PS256", b64: bool = False) -> tuple[RequestProtection, ResponseProtection]:
    private, public = (EC_PRIVATE, EC_PUBLIC) if alg.startswith("ES") else (PRIVATE, PUBLIC)
    out = RequestProtection.of(
        "target.endpoints.put",
        JWEEncryptConfig(type="jwe", key=PUBLIC),
        JWSDetachedSignConfig(type="jws_detached", key=private, alg=alg, b64=b64),  # type: ignore[arg-type]
    )
    back = ResponseProtection.of(
        "source.endpoints.get",
        JWSDetachedVerifyConfig(type="jws_detached", key=public, algorithms=[alg]),  # type: ignore[list-item]
        JWEDecryptConfig(type="jwe", key=PRIVATE),
    )
    assert out is not None and back is not None
    return out, back


@pytest.mark.parametrize(("alg", "b64"), [("PS256", False), ("PS256", True), ("ES256", False)])
def test_what_is_signed_and_encrypted_opens_again(alg: str, b64: bool) -> None:
    out, back = pair(alg, b64)
    headers = {"content-type": "application/json"}
    sent = out.apply(BODY, headers)

    assert headers["Content-Type"] == JOSE_CONTENT_TYPE and "content-type" not in headers
    assert sent.count(b".") == 4 and BODY not in sent
    signature = headers["x-jws-signature"]
    assert signature.split(".")[1] == ""  # detached
    assert back.open(sent, {"x-jws-signature": signature}) == BODY


@pytest.mark.parametrize("change", ["body", "signature", "missing"])
def test_a_tampered_or_unsigned_body_is_rejected(change: str) -> None:
    out, back = pair()
    headers: dict[str, str] = {}
    sent = out.apply(BODY, headers)
    signature = headers["x-jws-signature"]
    if change == "body":
        sent = sent[:-3] + (b"AAA" if sent[-3:] != b"AAA" else b"BBB")
    elif change == "signature":
        signature = signature[:-3] + ("AAA" if signature[-3:] != "AAA" else "BBB")
    with pytest.raises(MessageRejected) as caught:
        back.open(sent, {"x-jws-signature": signature} if change != "missing" else {})

    assert caught.value.check == "verify" and caught.value.where == "source.endpoints.get"
    assert PRIVATE not in str(caught.value) and "a.b@example.com" not in str(caught.value)


def test_a_jwe_that_does_not_decrypt_is_rejected_without_detail() -> None:
    back = ResponseProtection.of(
        "source.endpoints.get", None, JWEDecryptConfig(type="jwe", key=PRIVATE)
    )
    other = RSAKey.generate_key(2048, private=True)
    token = jwe.encrypt_compact(
        {"alg": "RSA-OAEP-256", "enc": "A256GCM"},
        BODY,
        other,
        algorithms=["RSA-OAEP-256", "A256GCM"],
    )
    assert back is not None
    for body in (token.encode(), BODY):
        with pytest.raises(MessageRejected, match=r"decrypt`: the body is not a JWE that decrypts"):
            back.open(body, {})


def test_a_compressed_jwe_is_refused_unread() -> None:
    back = ResponseProtection.of(
        "source.endpoints.get", None, JWEDecryptConfig(type="jwe", key=PRIVATE)
    )
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM", "zip": "DEF"}).encode()
    ).rstrip(b"=")
    assert back is not None
    with pytest.raises(MessageRejected, match="zip"):
        back.open(header + b".a.b.c.d", {})


def test_a_public_key_cannot_sign_and_the_error_names_the_field() -> None:
    with pytest.raises(
        ConfigError, match=r"`target.endpoints.put.sign.key`: a public key"
    ) as caught:
        RequestProtection.of(
            "target.endpoints.put", None, JWSDetachedSignConfig(type="jws_detached", key=PUBLIC)
        )
    assert PUBLIC not in str(caught.value)


def test_a_key_that_is_not_a_jwk_is_refused_without_echo() -> None:
    with pytest.raises(ValidationError) as caught:
        JWEEncryptConfig(type="jwe", key=SecretStr("not-a-jwk-canary"))
    assert "must be a JWK" in str(caught.value) and "not-a-jwk-canary" not in str(caught.value)


@pytest.mark.parametrize(
    ("side", "key", "valid"),
    [("source", "encrypt", "decrypt, verify"), ("target", "verify", "encrypt, sign")],
)
def test_protection_on_the_wrong_side_names_the_key_and_what_is_valid(
    side: str, key: str, valid: str
) -> None:
    section = (
        {"type": "jwe", "key": "secret://x#jwk"}
        if key == "encrypt"
        else {"type": "jws_detached", "key": "secret://x#jwk"}
    )
    endpoints = {"source": {"e": {"path": "/e"}}, "target": {"t": {"path": "/t", "method": "POST"}}}
    name = "e" if side == "source" else "t"
    endpoints[side][name][key] = section  # type: ignore[assignment]
    raw = {
        "source": {"base_url": "https://s.example", "endpoints": endpoints["source"]},
        "target": {"base_url": "https://t.example", "endpoints": endpoints["target"]},
        "mapping": [{"source": "e", "target": "t"}],
    }
    with pytest.raises(ValidationError) as caught:
        SyncConfig.model_validate(raw)
    assert f"`{side}.endpoints.{name}.{key}`" in str(caught.value) and valid in str(caught.value)
