"""The ``tls`` section of a connection: the client certificate of mutual TLS (see
:mod:`apilink.http.tls` for the SSL context built from it and the errors a refusal becomes).

```yaml
source:
  base_url: https://api.partner.example
  verify: /etc/ssl/partner-ca.pem          # whom apilink trusts (unchanged)
  tls:
    client_cert: secret://me#cert_pem      # who apilink is: PEM text, from the store or ${VAR}
    client_key: secret://me#key_pem
    client_key_password: secret://me#key_password   # only for an encrypted key
```

The values are PEM text, never file paths: the key stays in the credential store (or the
worker's environment) and apilink never writes it to disk in clear. It imports no config
model, so :mod:`apilink.config.models` can compose it without a cycle.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["TLSConfig"]

_REFERENCE = "secret://"
_CERT_BEGIN = "-----BEGIN CERTIFICATE-----"


def _text(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


class TLSConfig(BaseModel):
    """A client certificate and its private key, presented to servers that ask for one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_cert: str = Field(
        description="The client certificate chain as PEM text (leaf first): "
        "`secret://name#field` or `${VAR}`."
    )
    client_key: SecretStr = Field(
        description="The private key of `client_cert` as PEM text (PKCS#8, PKCS#1 or SEC1): "
        "`secret://name#field` or `${VAR}`, never written in the config."
    )
    client_key_password: SecretStr | None = Field(
        None, description="The password of an encrypted `client_key`."
    )

    @field_validator("client_cert")
    @classmethod
    def _cert(cls, value: str) -> str:
        text = value.strip()
        if text.startswith(_REFERENCE) or _CERT_BEGIN in text:
            return value
        raise ValueError(
            f"must be a PEM certificate (text starting {_CERT_BEGIN}) or a secret://name#field "
            "reference to one; a file path is not read"
        )

    @field_validator("client_key")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        text = _text(value).strip()
        if text.startswith(_REFERENCE) or ("-----BEGIN " in text and "PRIVATE KEY-----" in text):
            return value
        raise ValueError(
            "must be a PEM private key (text starting -----BEGIN PRIVATE KEY-----, or an RSA or "
            "EC one) or a secret://name#field reference to one; a file path is not read"
        )
