"""AWS Secrets Manager as a credential store.

```yaml
credentials:
  type: aws_secrets_manager
  region: eu-west-1
source:
  auth: {type: bearer, token: "secret://crm/api#token"}   # a field of a JSON secret
target:
  headers: {X-Api-Key: "secret://partner-key"}             # a plain-string secret, whole
```

An entry is a secret's ``SecretString``: a JSON object gives its fields, any other string is one
field, ``value``, so ``secret://name`` reads it whole. ``put`` writes a new version (a login's
token, for instance); ``delete`` schedules the secret for deletion after
AWS's shortest recovery window, 7 days, so a mistaken delete can be undone.

``compare_and_set`` (how a rotated OAuth refresh token is written back when several workers
share it) uses what AWS makes atomic, since ``PutSecretValue`` itself has no condition: the new
version is put with only the label ``apilink-pending`` (so it is not current yet), then
``UpdateSecretVersionStage`` moves ``AWSCURRENT`` (or the configured ``version_stage``) to it
*from the version that was read*. AWS refuses that move when the label no longer sits on that
version, so of two writers that read the same version only one moves it; the other's version
stays a pending orphan (its label moves on with the next write) and the writer reads again.
A ``ClientRequestToken`` of our own names the new version, so botocore's retries of the put
make one version, not two. Creating a missing secret is the same race, settled by
``CreateSecret`` refusing a name that exists.

boto3 signs and sends every request itself: its own HTTP stack, not apilink's client builder
(``apilink.http.clients``), so the rules are applied here, once, before a client exists: the
endpoint is ``https://`` unless it is loopback or ``allow_insecure_http`` says so (the config
model refuses it otherwise), TLS is verified, and botocore's ``standard`` retry mode retries
throttling, 5xx and connection errors up to ``max_attempts`` times with backoff.

Trusted: the worker's operator (the AWS identity and the config). Not trusted: the answers,
whose failures are mapped to one clear error each (missing, denied, throttled, unreachable),
naming the secret and the region, never a value.
"""

from __future__ import annotations

import builtins
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from apilink.config.credentials import AwsSecretsManagerConfig
from apilink.credentials.base import (
    Versioned,
    check_name,
    check_unexpired,
    entry_of,
    plain_value,
)
from apilink.credentials.file_store import check_entry
from apilink.errors import (
    AwsSecretConflict,
    AwsSecretDenied,
    AwsSecretNotFound,
    AwsSecretsManagerError,
    AwsSecretThrottled,
)

__all__ = ["PENDING_STAGE", "AwsSecretsManagerStore"]

_NOT_FOUND = {"ResourceNotFoundException"}
_DENIED = {
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}
_THROTTLED = {"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
_CONFLICT = {"ResourceExistsException"}
_DELETE_RECOVERY_DAYS = 7  # AWS's shortest recovery window
PENDING_STAGE = "apilink-pending"
"""The label of a version written by ``compare_and_set`` before it is made current."""


class AwsSecretsManagerStore:
    """Secrets in AWS Secrets Manager, read and written through boto3.

    Args:
        config: region, endpoint, version and limits (see
            :class:`~apilink.config.credentials.AwsSecretsManagerConfig`).
        now: clock for ``expires_at``, Unix seconds.
        client: a boto3 ``secretsmanager`` client to use instead of one built from ``config``.
    """

    def __init__(
        self,
        config: AwsSecretsManagerConfig,
        *,
        now: Callable[[], float] = time.time,
        client: Any = None,
    ) -> None:
        self._config = config
        self._now = now
        self._client = client or boto3.session.Session().client(
            "secretsmanager",
            region_name=config.region,
            endpoint_url=config.endpoint_url,
            verify=True,
            config=Config(
                connect_timeout=config.timeout,
                read_timeout=config.timeout,
                retries={"mode": "standard", "total_max_attempts": config.max_attempts},
            ),
        )

    def __repr__(self) -> str:
        c = self._config
        return f"AwsSecretsManagerStore(region={self._region()!r}, endpoint_url={c.endpoint_url!r})"

    # -- CredentialStore -------------------------------------------------------------------

    def get(self, name: str) -> dict[str, Any]:
        """The fields of secret ``name``: its JSON object, or ``{"value": <the string>}``.

        Raises:
            AwsSecretNotFound: no such secret or version (also a ``CredentialNotFound``).
            CredentialExpired: the entry's ``expires_at`` is not in the future.
            AwsSecretDenied, AwsSecretThrottled, AwsSecretsManagerError: as AWS answers.
        """
        return self._read(name)[0]

    def get_versioned(self, name: str) -> Versioned:
        """``get``, with the version for ``compare_and_set`` (the ``VersionId`` read)."""
        entry, version = self._read(name)
        return Versioned(entry, version)

    def compare_and_set(self, name: str, entry: Mapping[str, Any], expected: str | None) -> str:
        """Make ``entry`` the current version of ``name`` only while ``expected`` is (``None``:
        only if the secret does not exist); returns the new ``VersionId``.

        Raises:
            AwsSecretConflict: another version is current (or the secret exists); the new
                version, if one was put, is left pending and never current.
            AwsSecretsManagerError: as AWS answers; ``version_id`` pinned in the config.
        """
        clean = check_entry(name, entry)
        if self._config.version_id is not None:
            raise AwsSecretsManagerError(
                f"secret {name!r} in {self._where()}: the config pins version_id, so nothing "
                "can be written back; name a version_stage (or none) instead"
            )
        text = plain_value(clean) or json.dumps(clean, separators=(",", ":"))
        new_version = str(uuid.uuid4())
        if expected is None:
            self._call(
                "create",
                name,
                lambda: self._client.create_secret(
                    Name=name, SecretString=text, ClientRequestToken=new_version
                ),
            )
            return new_version
        stage = self._config.version_stage or "AWSCURRENT"
        self._call(
            "write",
            name,
            lambda: self._client.put_secret_value(
                SecretId=name,
                SecretString=text,
                ClientRequestToken=new_version,
                VersionStages=[PENDING_STAGE],
            ),
        )
        try:
            self._call(
                "write",
                name,
                lambda: self._client.update_secret_version_stage(
                    SecretId=name,
                    VersionStage=stage,
                    RemoveFromVersionId=expected,
                    MoveToVersionId=new_version,
                ),
                conflict_codes={"InvalidParameterException"},
            )
        except AwsSecretConflict:
            raise AwsSecretConflict(
                f"secret {name!r} in {self._where()} changed since it was read: {stage} is on "
                "another version now; not written"
            ) from None
        return new_version

    def _read(self, name: str) -> tuple[dict[str, Any], str]:
        asked: dict[str, str] = {"SecretId": check_name(name)}
        if self._config.version_stage is not None:
            asked["VersionStage"] = self._config.version_stage
        if self._config.version_id is not None:
            asked["VersionId"] = self._config.version_id
        else:
            # AWS's own default, said aloud: some implementations (moto) track "current" apart
            # from the label that compare_and_set moves.
            asked.setdefault("VersionStage", "AWSCURRENT")
        answer = self._call("read", name, lambda: self._client.get_secret_value(**asked))
        text = answer.get("SecretString")
        if not isinstance(text, str):
            raise AwsSecretsManagerError(
                f"secret {name!r} in {self._where()} holds binary data, not a SecretString"
            )
        entry = entry_of(text)
        check_unexpired(name, entry, self._now(), self._where())
        return entry, str(answer.get("VersionId", ""))

    def put(self, name: str, entry: Mapping[str, Any]) -> None:
        """Store ``entry`` as a new version of secret ``name`` (created when missing)."""
        clean = check_entry(name, entry)
        text = plain_value(clean) or json.dumps(clean, separators=(",", ":"))
        try:
            self._call(
                "write",
                name,
                lambda: self._client.put_secret_value(SecretId=name, SecretString=text),
            )
        except AwsSecretNotFound:
            self._call(
                "create", name, lambda: self._client.create_secret(Name=name, SecretString=text)
            )

    def delete(self, name: str) -> None:
        """Schedule secret ``name`` for deletion (restorable for 7 days)."""
        self._call(
            "delete",
            check_name(name),
            lambda: self._client.delete_secret(
                SecretId=name, RecoveryWindowInDays=_DELETE_RECOVERY_DAYS
            ),
        )

    def list(self) -> builtins.list[str]:
        """The names of the secrets this identity can list, sorted."""
        names: builtins.list[str] = []
        pages = self._client.get_paginator("list_secrets").paginate()
        self._call(
            "list", "*", lambda: names.extend(s["Name"] for p in pages for s in p["SecretList"])
        )
        return sorted(names)

    # -- answers ---------------------------------------------------------------------------

    def _region(self) -> str | None:
        return self._config.region or getattr(self._client.meta, "region_name", None)

    def _where(self) -> str:
        where = f"AWS Secrets Manager ({self._region() or 'no region'})"
        return f"{where} at {self._config.endpoint_url}" if self._config.endpoint_url else where

    def _call(
        self,
        action: str,
        name: str,
        request: Callable[[], Any],
        *,
        conflict_codes: frozenset[str] | set[str] = frozenset(),
    ) -> Any:
        try:
            return request()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in conflict_codes:
                raise AwsSecretConflict(f"secret {name!r} in {self._where()}: {code}") from None
            raise self._mapped(action, name, code) from None
        except EndpointConnectionError:
            raise AwsSecretsManagerError(
                f"cannot {action} secret {name!r}: {self._where()} does not answer"
            ) from None
        except BotoCoreError as exc:  # no credentials, a bad region, a broken answer ...
            raise AwsSecretsManagerError(
                f"cannot {action} secret {name!r} in {self._where()}: {type(exc).__name__}"
            ) from None

    def _mapped(self, action: str, name: str, code: str) -> AwsSecretsManagerError:
        where = self._where()
        if code in _NOT_FOUND:
            return AwsSecretNotFound(f"no secret named {name!r} in {where}")
        if code in _CONFLICT:
            return AwsSecretConflict(
                f"cannot {action} secret {name!r} in {where}: it exists already ({code})"
            )
        if code in _DENIED:
            return AwsSecretDenied(
                f"cannot {action} secret {name!r} in {where}: access denied ({code}); check the "
                "AWS identity the worker runs as and its policy"
            )
        if code in _THROTTLED:
            return AwsSecretThrottled(
                f"cannot {action} secret {name!r} in {where}: still throttled ({code}) after "
                f"{self._config.max_attempts} attempts"
            )
        return AwsSecretsManagerError(f"cannot {action} secret {name!r} in {where}: {code}")
