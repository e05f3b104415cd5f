"""Message protection: JWE and detached JWS on the bodies of one endpoint, with joserfc, and
RFC 9421 HTTP Message Signatures on its requests (:mod:`apilink.http.message_signature`).

TLS protects a connection between two machines; message protection protects a body end to end,
past TLS terminators, gateways and queues, and leaves a signature that can be kept as proof.
:class:`RequestProtection` (a target endpoint's ``sign`` and ``encrypt``) turns a request body
into what is sent; :class:`ResponseProtection` (a source endpoint's ``verify`` and ``decrypt``)
turns a response body back into the JSON the records are read from.

Order: a request is encrypted first, then the body as sent is signed (the receiver checks who
sent it before it decrypts anything); a response is checked the same way round (signature over
the body as received, then decryption).

Failures: a response that does not verify or decrypt is :class:`~apilink.errors.MessageRejected`,
one opaque reason (which check failed, never why in cryptographic detail), and its page is not
used. A key that cannot be used (not a JWK, a public key where a private one is needed, a key
of the wrong type for the algorithm) is a :class:`~apilink.errors.ConfigError` naming the field,
raised when the session is built, before any request. Keys are ``SecretStr`` to the last moment;
plaintext and keys never reach an error or a log line.

Trusted: the config author (who names the keys). Not trusted: the API and everything between.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key
from pydantic import SecretStr

from apilink.errors import ConfigError, MessageRejected
from apilink.http.message_signature import MessageSigner
from apilink.http.protection_config import (
    HTTPMessageSignatureConfig,
    JWEDecryptConfig,
    JWEEncryptConfig,
    JWSDetachedSignConfig,
    JWSDetachedVerifyConfig,
)

__all__ = ["JOSE_CONTENT_TYPE", "RequestProtection", "ResponseProtection", "import_jwk"]

JOSE_CONTENT_TYPE = "application/jose"


def import_jwk(value: SecretStr, where: str, *, private: bool) -> Key:
    """The JWK ``value`` holds, checked to be private when it must sign or decrypt.

    Raises:
        ConfigError: not a JWK joserfc can use, or a public key where a private one is needed;
            the message names ``where``, never the key.
    """
    try:
        data = json.loads(value.get_secret_value())
        key = JWKRegistry.import_key(data)
    except (ValueError, TypeError, KeyError, JoseError):
        raise ConfigError(
            f"`{where}`: not a usable JWK (a JSON object with `kty` RSA, EC or OKP and its "
            "parameters)"
        ) from None
    if private and not key.is_private:
        raise ConfigError(f"`{where}`: a public key; this needs the private JWK (with `d`)")
    return key


def _protected_header(token: bytes) -> dict[str, Any]:
    """The protected header of a compact JOSE value (``{}`` when it has none readable)."""
    first = token.strip().split(b".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(first + b"=" * (-len(first) % 4)))
    except ValueError:
        return {}
    return header if isinstance(header, dict) else {}


def _kid(key: Key, configured: str | None) -> dict[str, str]:
    kid = configured or key.kid
    return {"kid": kid} if kid else {}


@dataclass(frozen=True, repr=False)
class RequestProtection:
    """What a target endpoint does to a body before it is sent.

    Build with :meth:`of`; call :meth:`apply` on each body.
    """

    where: str
    encrypt: JWEEncryptConfig | None = None
    sign: JWSDetachedSignConfig | HTTPMessageSignatureConfig | None = None
    _keys: dict[str, Key] = field(default_factory=dict)
    _signer: MessageSigner | None = None

    def __repr__(self) -> str:
        parts = [n for n, v in (("encrypt", self.encrypt), ("sign", self.sign)) if v is not None]
        return f"RequestProtection({self.where}: {', '.join(parts) or 'none'})"

    @classmethod
    def of(
        cls,
        where: str,
        encrypt: JWEEncryptConfig | None,
        sign: JWSDetachedSignConfig | HTTPMessageSignatureConfig | None,
        *,
        headers: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> RequestProtection | None:
        """The protection of endpoint ``where``, or ``None`` when it has none.

        Args:
            headers: the endpoint's configured request header names (an HTTP Message
                Signature may cover them).
            clock: seconds since the epoch, for an HTTP Message Signature's ``created``.

        Raises:
            ConfigError: a key that cannot be used (see :func:`import_jwk`), or an HTTP
                Message Signature covering a header the request does not have.
        """
        if encrypt is None and sign is None:
            return None
        keys: dict[str, Key] = {}
        signer = None
        if encrypt is not None:
            keys["encrypt"] = import_jwk(encrypt.key, f"{where}.encrypt.key", private=False)
        if sign is not None:
            keys["sign"] = import_jwk(sign.key, f"{where}.sign.key", private=True)
        if isinstance(sign, HTTPMessageSignatureConfig):
            signer = MessageSigner.of(
                f"{where}.sign", sign, keys.pop("sign"), headers=headers, clock=clock
            )
        return cls(where, encrypt, sign, keys, signer)

    def apply(
        self,
        body: bytes,
        headers: dict[str, str],
        *,
        method: str = "POST",
        url: str | httpx.URL | None = None,
    ) -> bytes:
        """The body to send for ``body``; sets ``Content-Type`` and the signature headers in
        ``headers``.

        ``method`` and the absolute ``url`` the request goes to are what an HTTP Message
        Signature covers (``@method``, ``@target-uri``); it needs ``url``.
        """
        if self.encrypt is not None:
            key = self._keys["encrypt"]
            named = [k for k in headers if k.lower() == "content-type"]
            inner = headers.pop(named[0]) if named else "application/json"
            for other in named[1:]:
                del headers[other]
            protected = {
                "alg": self.encrypt.alg,
                "enc": self.encrypt.enc,
                "cty": inner,
                **_kid(key, self.encrypt.kid),
            }
            algorithms = [self.encrypt.alg, self.encrypt.enc]
            body = jwe.encrypt_compact(protected, body, key, algorithms=algorithms).encode()
            headers["Content-Type"] = JOSE_CONTENT_TYPE
        if self._signer is not None:
            if url is None:
                raise ValueError(f"{self.where}: an HTTP Message Signature needs the request URL")
            self._signer.sign(method, url, body, headers)
        elif isinstance(self.sign, JWSDetachedSignConfig):
            key = self._keys["sign"]
            header: dict[str, Any] = {"alg": self.sign.alg, **_kid(key, self.sign.kid)}
            if not self.sign.b64:
                header |= {"b64": False, "crit": ["b64"]}
            signed = jws.serialize_compact(header, body, key, algorithms=[self.sign.alg])
            headers[self.sign.header] = jws.detach_content(signed)
        return body


@dataclass(frozen=True, repr=False)
class ResponseProtection:
    """What a source endpoint checks and undoes on a body before its records are read.

    Build with :meth:`of`; call :meth:`open` on each body.
    """

    where: str
    verify: JWSDetachedVerifyConfig | None = None
    decrypt: JWEDecryptConfig | None = None
    _keys: dict[str, Key] = field(default_factory=dict)

    def __repr__(self) -> str:
        parts = [n for n, v in (("verify", self.verify), ("decrypt", self.decrypt)) if v]
        return f"ResponseProtection({self.where}: {', '.join(parts) or 'none'})"

    @classmethod
    def of(
        cls,
        where: str,
        verify: JWSDetachedVerifyConfig | None,
        decrypt: JWEDecryptConfig | None,
    ) -> ResponseProtection | None:
        """The protection of endpoint ``where``, or ``None`` when it has none.

        Raises:
            ConfigError: a key that cannot be used (see :func:`import_jwk`).
        """
        if verify is None and decrypt is None:
            return None
        keys: dict[str, Key] = {}
        if verify is not None:
            keys["verify"] = import_jwk(verify.key, f"{where}.verify.key", private=False)
        if decrypt is not None:
            keys["decrypt"] = import_jwk(decrypt.key, f"{where}.decrypt.key", private=True)
        return cls(where, verify, decrypt, keys)

    def open(self, body: bytes, headers: Any) -> bytes:
        """The plaintext of a response ``body`` whose ``headers`` (a mapping, case-insensitive
        as httpx's) may hold its signature.

        Raises:
            MessageRejected: the signature is missing or does not verify, or the body is not a
                JWE that decrypts with the key; it says which check failed, nothing more.
        """
        if self.verify is not None:
            signature = headers.get(self.verify.header)
            if not signature:
                raise self._rejected("verify", f"no `{self.verify.header}` signature header")
            try:
                jws.deserialize_compact(
                    signature,
                    self._keys["verify"],
                    payload=body,
                    algorithms=list(self.verify.algorithms),
                )
            except (JoseError, ValueError, TypeError):
                raise self._rejected("verify", "the signature does not verify") from None
        if self.decrypt is not None:
            algorithms = [*self.decrypt.algorithms, *self.decrypt.encryptions]
            if "zip" in _protected_header(body):
                # A compressed JWE inflates past the response cap: refused unread.
                raise self._rejected("decrypt", "a compressed (`zip`) JWE is not accepted")
            try:
                plaintext = jwe.decrypt_compact(
                    body.strip(), self._keys["decrypt"], algorithms=algorithms
                ).plaintext
            except (JoseError, ValueError, TypeError):
                raise self._rejected("decrypt", "the body is not a JWE that decrypts") from None
            body = plaintext or b""
        return body

    def _rejected(self, check: str, why: str) -> MessageRejected:
        return MessageRejected(
            f"`{self.where}.{check}`: {why}; the page is not used", check=check, where=self.where
        )
