"""The message-protection sections of an endpoint: ``encrypt`` and ``sign`` on a target
endpoint (request bodies), ``decrypt`` and ``verify`` on a source endpoint (response bodies).
See :mod:`apilink.http.protection` for what they do.

```yaml
target:
  endpoints:
    payments:
      path: /payments
      method: POST
      encrypt: {type: jwe, key: "secret://partner#jwk", alg: RSA-OAEP-256, enc: A256GCM}
      sign: {type: jws_detached, key: "secret://me#jwk", alg: PS256, header: x-jws-signature}
source:
  endpoints:
    statements:
      path: /statements
      verify: {type: jws_detached, key: "secret://partner#jwk", header: x-jws-signature}
      decrypt: {type: jwe, key: "secret://me#jwk"}
```

Keys are JWKs (JSON text), given as ``secret://name#field`` or ``${VAR}``. It imports no config
model, so :mod:`apilink.config.models` can compose it without a cycle.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = [
    "JWEDecryptConfig",
    "JWEEncryptConfig",
    "JWSDetachedSignConfig",
    "JWSDetachedVerifyConfig",
]

KeyAlg = Literal["RSA-OAEP-256", "RSA-OAEP", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"]
ContentEnc = Literal["A256GCM", "A192GCM", "A128GCM"]
SignAlg = Literal["PS256", "PS384", "PS512", "ES256", "ES384", "RS256", "RS384", "RS512", "EdDSA"]


class _Protection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: SecretStr = Field(
        description="The JWK (JSON text) as `secret://name#field` or `${VAR}`, never literally."
    )

    @field_validator("key")
    @classmethod
    def _jwk(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value().strip()
        if text.startswith("secret://"):
            return value
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or "kty" not in parsed:
            raise ValueError(
                "must be a JWK, a JSON object with `kty` (RSA, EC or OKP), or a "
                "secret://name#field reference to one"
            )
        return value


class JWEEncryptConfig(_Protection):
    """Request bodies sent as a compact JWE (``Content-Type: application/jose``)."""

    type: Literal["jwe"]
    alg: KeyAlg = Field("RSA-OAEP-256", description="Key management algorithm.")
    enc: ContentEnc = Field("A256GCM", description="Content encryption algorithm.")
    kid: str | None = Field(None, description="`kid` header; the JWK's own `kid` by default.")


class JWEDecryptConfig(_Protection):
    """Response bodies that are a compact JWE, decrypted before records are read."""

    type: Literal["jwe"]
    algorithms: list[KeyAlg] = Field(
        default_factory=lambda: list[KeyAlg](["RSA-OAEP-256"]),
        min_length=1,
        description="Accepted `alg`s.",
    )
    encryptions: list[ContentEnc] = Field(
        default_factory=lambda: list[ContentEnc](["A256GCM"]),
        min_length=1,
        description="Accepted `enc`s.",
    )


class JWSDetachedSignConfig(_Protection):
    """A detached JWS of each request body, in a header (RFC 7515 appendix F; with
    ``b64: false``, RFC 7797 as open-banking APIs use it)."""

    type: Literal["jws_detached"]
    alg: SignAlg = Field("PS256", description="Signature algorithm.")
    header: str = Field(
        "x-jws-signature",
        pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
        description="Request header that carries the detached JWS.",
    )
    b64: bool = Field(False, description="false: the body is signed as is (RFC 7797).")
    kid: str | None = Field(None, description="`kid` header; the JWK's own `kid` by default.")


class JWSDetachedVerifyConfig(_Protection):
    """A detached JWS of each response body, in a header, checked before records are read."""

    type: Literal["jws_detached"]
    header: str = Field(
        "x-jws-signature",
        pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
        description="Response header that carries the detached JWS.",
    )
    algorithms: list[SignAlg] = Field(
        default_factory=lambda: list[SignAlg](["PS256", "ES256"]),
        min_length=1,
        description="Accepted `alg`s.",
    )
