"""RFC 9421 HTTP Message Signatures on target requests, with an RFC 9530 ``Content-Digest``.

A target endpoint's ``sign: {type: http_message_signature, ...}`` signs each request: the
covered components (``@method``, ``@target-uri``, ``content-digest`` by default) and the
signature parameters ``created``, ``keyid`` and ``alg`` make the signature base (RFC 9421
section 2.5), whose signature goes in ``Signature`` and whose parameters in
``Signature-Input``, under one label (``sig1``). With ``content-digest`` covered, the sha-256
of the body as sent (after JWE encryption, when the endpoint also encrypts) is added first.

The signature base, the structured fields and the algorithms are pyauth's
``http-message-signatures`` (over ``cryptography`` keys imported from the JWK by joserfc);
nothing here builds a signature base or touches a primitive.

Trusted: the config author (who names the key and the components). Not trusted: everything
between apilink and the target, which the signature lets the target detect.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPSignatureAlgorithm,
    MappingKeyResolver,
    algorithms,
)
from joserfc.jwk import Key

from apilink.errors import ConfigError
from apilink.http.protection_config import HTTPMessageSignatureConfig

__all__ = ["SIGNED_BY_APILINK", "MessageSigner", "signature_algorithm"]

#: Request headers apilink sets before it signs; other covered headers must be the endpoint's
#: own ``headers`` (``Authorization`` is added later, by the auth flow, and cannot be covered).
SIGNED_BY_APILINK = ("content-digest", "content-type", "idempotency-key")


def signature_algorithm(key: Key, where: str) -> type[HTTPSignatureAlgorithm]:
    """The RFC 9421 algorithm a JWK signs with (section 3.3).

    Raises:
        ConfigError: a key type or curve RFC 9421 has no algorithm for, naming ``where``.
    """
    kty, crv = key.key_type, key.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        return algorithms.ED25519
    if kty == "EC" and crv == "P-256":
        return algorithms.ECDSA_P256_SHA256
    if kty == "EC" and crv == "P-384":
        return algorithms.ECDSA_P384_SHA384
    if kty == "RSA":
        # rsa-pss-sha512 unless the JWK itself says PKCS#1 v1.5.
        return (
            algorithms.RSA_V1_5_SHA256 if key.get("alg") == "RS256" else algorithms.RSA_PSS_SHA512
        )
    raise ConfigError(
        f"`{where}`: a {kty} {crv or ''} key has no RFC 9421 algorithm; valid keys: OKP Ed25519 "
        "(ed25519), EC P-256 (ecdsa-p256-sha256), EC P-384 (ecdsa-p384-sha384), RSA "
        "(rsa-pss-sha512, or rsa-v1_5-sha256 with `alg: RS256`)"
    )


@dataclass
class _Request:
    """The request as the library reads it: ``method``, an absolute ``url`` and the
    ``headers`` mapping it adds ``Content-Digest``, ``Signature-Input`` and ``Signature`` to.

    The library's own integrations sign a ``requests``/HTTPX2/aiohttp request object, but
    apilink signs before one exists (a target request leaves through aiohttp's fast lane or
    httpx, from the same headers dict), so this adapter over the dict that will be sent is
    what both lanes share.
    """

    method: str
    url: str
    headers: dict[str, str]


@dataclass(frozen=True, repr=False)
class MessageSigner:
    """Signs a target endpoint's requests. Build with :meth:`of`; call :meth:`sign` on each.

    ``clock`` (seconds since the epoch) gives ``created``; tests pin it.
    """

    where: str
    config: HTTPMessageSignatureConfig
    _signer: HTTPMessageSigner
    clock: Callable[[], float] = time.time

    def __repr__(self) -> str:
        return f"MessageSigner({self.where}: {self.config.key_id}, {self.algorithm})"

    @property
    def algorithm(self) -> str:
        """The RFC 9421 ``alg`` of the signatures (``ed25519``, ``ecdsa-p256-sha256`` ...)."""
        return self._signer.signature_algorithm.algorithm_id

    @property
    def digests(self) -> bool:
        """Whether a ``Content-Digest`` of the body is added and signed."""
        return "content-digest" in self.config.components

    @classmethod
    def of(
        cls,
        where: str,
        config: HTTPMessageSignatureConfig,
        key: Key,
        *,
        headers: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> MessageSigner:
        """The signer of endpoint ``where`` (its ``sign`` section), with the private ``key``.

        Args:
            headers: the names of the endpoint's configured request headers, which may be
                covered besides :data:`SIGNED_BY_APILINK`.

        Raises:
            ConfigError: a covered header apilink does not send before signing, or a key
                with no RFC 9421 algorithm; the message names the field.
        """
        sent = {*SIGNED_BY_APILINK, *(name.lower() for name in headers)}
        for component in config.components:
            if not component.startswith("@") and component not in sent:
                raise ConfigError(
                    f"`{where}.components`: `{component}` is not a header of this request "
                    f"when it is signed; valid headers: {', '.join(sorted(sent))} (set others in "
                    "the endpoint's `headers`)"
                )
        algorithm = signature_algorithm(key, f"{where}.key")
        private = key.private_key
        if not isinstance(
            private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        ):  # signature_algorithm() admitted only these; a public JWK was refused before
            raise ConfigError(f"`{where}.key`: this needs the private JWK (with `d`)")
        resolver = MappingKeyResolver(public_keys={}, private_keys={config.key_id: private})
        signer = HTTPMessageSigner(signature_algorithm=algorithm, key_resolver=resolver)
        return cls(where, config, signer, clock)

    def sign(self, method: str, url: str | httpx.URL, body: bytes, headers: dict[str, str]) -> None:
        """Add ``Signature-Input`` and ``Signature`` (and ``Content-Digest`` when covered) to
        the ``headers`` of a request sending ``body`` to the absolute ``url``.

        Headers of those names already there are replaced: the body as sent is what counts.

        Raises:
            ConfigError: a covered value the library refuses (a header with a control
                character, a URL it cannot parse), naming the field.
        """
        for name in [n for n in headers if n.lower() in _REPLACED]:
            del headers[name]
        created = datetime.datetime.fromtimestamp(self.clock(), tz=datetime.UTC)
        try:
            self._signer.sign(
                _Request(method.upper(), str(url), headers),
                key_id=self.config.key_id,
                created=created,
                label=self.config.label,
                covered_component_ids=self.config.components,
                body=body if self.digests else None,
            )
        except HTTPMessageSignaturesException as exc:
            raise ConfigError(f"`{self.where}`: cannot sign this request: {exc}") from None


_REPLACED = frozenset({"signature", "signature-input", "content-digest"})
