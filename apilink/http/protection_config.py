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
    orders:
      path: /orders
      method: POST
      sign:                          # RFC 9421 HTTP Message Signatures instead of a JWS
        type: http_message_signature
        key_id: my-key
        key: "secret://me#jwk"
        components: ["@method", "@target-uri", "content-digest"]
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
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = [
    "REQUEST_DERIVED_COMPONENTS",
    "HTTPMessageSignatureConfig",
    "JWEDecryptConfig",
    "JWEEncryptConfig",
    "JWSDetachedSignConfig",
    "JWSDetachedVerifyConfig",
]

KeyAlg = Literal["RSA-OAEP-256", "RSA-OAEP", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"]
ContentEnc = Literal["A256GCM", "A192GCM", "A128GCM"]
#: RFC 9421 section 2.2 derived components a request has (``@status`` is a response's; the
#: parameterised ``@query-param`` is not offered).
REQUEST_DERIVED_COMPONENTS = (
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@request-target",
    "@path",
    "@query",
)
_FIELD_NAME = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+$")
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


class HTTPMessageSignatureConfig(_Protection):
    """An RFC 9421 HTTP Message Signature of each request, in ``Signature-Input`` and
    ``Signature``; with ``content-digest`` among the components, an RFC 9530
    ``Content-Digest`` (sha-256) of the body as sent is added and signed.

    The algorithm follows from the JWK: ``ed25519`` (OKP Ed25519), ``ecdsa-p256-sha256`` (EC
    P-256), ``ecdsa-p384-sha384`` (EC P-384), ``rsa-pss-sha512`` (RSA; ``rsa-v1_5-sha256`` when
    the JWK says ``alg: RS256``).
    """

    type: Literal["http_message_signature"]
    key_id: str = Field(
        min_length=1,
        max_length=256,
        pattern=r"^[\x20-\x7e]+$",
        description="`keyid` signature parameter: the name the verifier knows the key by.",
    )
    label: str = Field(
        "sig1",
        pattern=r"^[a-z*][a-z0-9_.*-]{0,63}$",
        description="Signature label in `Signature-Input` and `Signature`.",
    )
    components: list[str] = Field(
        default_factory=lambda: ["@method", "@target-uri", "content-digest"],
        min_length=1,
        description="Covered components, in order: derived ones (`@method`, `@target-uri`, "
        "`@authority`, `@scheme`, `@request-target`, `@path`, `@query`) and lowercase request "
        "header names (`content-digest`, `content-type`, `idempotency-key`, the endpoint's "
        "`headers`).",
    )

    @model_validator(mode="before")
    @classmethod
    def _key_id_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("key_id") in (None, ""):
            raise ValueError(
                "`key_id` is required: the `keyid` the verifier looks the public key up by "
                "(e.g. key_id: my-key)"
            )
        return data

    @field_validator("components")
    @classmethod
    def _known_components(cls, value: list[str]) -> list[str]:
        for component in value:
            if component.startswith("@"):
                if component not in REQUEST_DERIVED_COMPONENTS:
                    raise ValueError(
                        f"unknown component `{component}`; valid derived components of a "
                        f"request: {', '.join(REQUEST_DERIVED_COMPONENTS)}, or a lowercase "
                        "header name such as content-digest"
                    )
            elif not _FIELD_NAME.match(component):
                raise ValueError(
                    f"unknown component `{component}`; a header is named in lowercase without "
                    "parameters (content-digest, content-type), a derived component starts "
                    f"with @ ({', '.join(REQUEST_DERIVED_COMPONENTS)})"
                )
            elif component in ("signature", "signature-input"):
                raise ValueError(f"`{component}` carries the signature and cannot be signed")
        if len(set(value)) != len(value):
            raise ValueError("each component may be named once")
        return value
