"""Every error apilink raises, as one hierarchy.

```
ApilinkError
├── ConfigError                 a sync config that cannot be used (names key path and file)
├── CredentialError             a credential that cannot be read or written
│   ├── CredentialNotFound
│   ├── CredentialExpired
│   ├── DecryptionError         wrong password or a changed byte: one opaque error
│   ├── CredentialFileError     a credential file that is not ours, or a refused header
│   └── VaultError              HashiCorp Vault / OpenBao
│       ├── VaultSealed
│       ├── VaultForbidden
│       ├── VaultPathNotFound
│       └── VaultUnreachable
├── AuthError                   a token that cannot be acquired or applied
│   ├── TokenResponseError      a token endpoint answered with something that is not a token
│   ├── ReauthorizationRequired a refresh token was refused: a person must log in again
│   └── CredentialsRefused      the target answered 401 after a token refresh, or 403: run stops
├── AccessDenied                RBAC refused a permission
│   ├── PolicyRefused           a caller's config tried to change the worker's access policy
│   └── ProofRejected           a ticket, child proof or block approval that does not verify
├── TransportError              an HTTP exchange that failed for good
│   ├── InsecureTransport       http:// to a host that is not loopback, or another origin
│   ├── ResponseTooLarge        a body (decoded) over `max_response_bytes`
│   ├── DeadlineExceeded        no whole answer within the request's deadline
│   ├── HTTPStatusError         a status that retries did not cure
│   ├── PaginationError         a paginator that would loop or read nonsense
│   └── TargetUnavailable       the target failed transiently for a whole deadline: run stops
├── PrivateFileError            a file apilink writes is a symlink, not a regular file, or locked
├── ValidationFailed            more invalid rows than `max_invalid_ratio` allows
├── RunDeadlinePassed           the run's `max_duration` passed before the source was read
├── AuditAnchorUnavailable      `apilink audit verify --prefect` could not read the anchors
├── PrefectUnreachable          the Prefect API at PREFECT_API_URL does not answer
└── AuditTampered               `apilink audit verify` found an edited, deleted or moved line
```

Messages never contain a secret value: they name the key, the endpoint or the store path.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "ApilinkError",
    "AuditAnchorUnavailable",
    "AuditTampered",
    "AuthError",
    "ConfigError",
    "CredentialError",
    "CredentialExpired",
    "CredentialFileError",
    "CredentialNotFound",
    "CredentialsRefused",
    "DeadlineExceeded",
    "DecryptionError",
    "HTTPStatusError",
    "InsecureTransport",
    "PaginationError",
    "PolicyRefused",
    "PrefectUnreachable",
    "PrivateFileError",
    "ProofRejected",
    "ReauthorizationRequired",
    "ResponseTooLarge",
    "RunDeadlinePassed",
    "TargetUnavailable",
    "TokenResponseError",
    "TransportError",
    "ValidationFailed",
    "VaultError",
    "VaultForbidden",
    "VaultPathNotFound",
    "VaultSealed",
    "VaultUnreachable",
]


class ApilinkError(Exception):
    """Base class of every error apilink raises on purpose."""


class ConfigError(ApilinkError):
    """A sync config that cannot be used.

    Attributes:
        source: the file (or ``"<string>"``) the config came from.
        problems: one line per problem, each naming the key path.
    """

    def __init__(
        self, message: str, *, source: str = "<config>", problems: list[str] | None = None
    ) -> None:
        self.source = source
        self.problems = problems or []
        super().__init__(message)


class CredentialError(ApilinkError):
    """A credential that cannot be read or written."""


class CredentialNotFound(CredentialError):
    """No credential is stored under the name asked for."""


class CredentialExpired(CredentialError):
    """The credential's ``expires_at`` is in the past."""


class DecryptionError(CredentialError):
    """The credential file could not be decrypted: wrong password, or the file was changed."""


class CredentialFileError(CredentialError):
    """The file is not an apilink credential file, or its header is refused."""


class VaultError(CredentialError):
    """HashiCorp Vault or OpenBao refused or failed a request."""


class VaultSealed(VaultError):
    """The server is sealed (HTTP 503); unseal it, then run again."""


class VaultForbidden(VaultError):
    """The token's policies do not allow the path (HTTP 403)."""


class VaultPathNotFound(VaultError):
    """Nothing is stored at the path (HTTP 404)."""


class VaultUnreachable(VaultError):
    """The server could not be reached."""


class AuthError(ApilinkError):
    """A token could not be acquired or applied."""


class TokenResponseError(AuthError):
    """The token endpoint answered with something that is not a usable token.

    The body is never included: it may hold a partial secret.
    """


class ReauthorizationRequired(AuthError):
    """The refresh token was refused (``invalid_grant``); authorize again."""


class CredentialsRefused(AuthError):
    """The target refused the run's credentials: a 401 that a token refresh did not cure, a
    403, or a token that could not be had. Every further record would fail the same way, so
    the run stops at once; records not yet acknowledged are sent by a rerun, none is
    dead-lettered for it.

    Attributes:
        endpoint: the target endpoint's name in the config.
        status: the HTTP status (``None`` when no token could be had).
    """

    def __init__(self, message: str, *, endpoint: str, status: int | None) -> None:
        self.endpoint = endpoint
        self.status = status
        super().__init__(message)


class AccessDenied(ApilinkError):
    """The caller's role lacks the permission asked for."""

    def __init__(self, message: str, *, principal: str | None = None, permission: str = ""):
        self.principal = principal
        self.permission = permission
        super().__init__(message)


class PolicyRefused(AccessDenied):
    """A config the caller supplied (a ``config`` parameter or a SyncConfig block) tried to switch
    access control off or to declare users: only the worker's operator decides either."""


class ProofRejected(AccessDenied):
    """A run ticket, a child partition's proof or a block's approval that does not verify
    (forged, expired, already used, bound to another run or config)."""


class TransportError(ApilinkError):
    """An HTTP exchange that failed for good (after any retries)."""


class InsecureTransport(TransportError):
    """Plain ``http://`` to a host that is not loopback, without ``allow_insecure_http``; or a
    request to an origin its client was not configured for."""


class ResponseTooLarge(TransportError):
    """A response body exceeded the connection's ``max_response_bytes``; it was not kept."""


class DeadlineExceeded(TransportError):
    """The request's overall deadline passed before an answer came."""


class HTTPStatusError(TransportError):
    """A response status that retries did not cure.

    Attributes:
        status_code: the last status received.
        url: the request URL with secret query parameters masked.
    """

    def __init__(self, message: str, *, status_code: int, url: str):
        self.status_code = status_code
        self.url = url
        super().__init__(message)


class PaginationError(TransportError):
    """A paginator that would loop (a repeated cursor or URL) or cannot read the page."""


class TargetUnavailable(TransportError):
    """The target answered 429/502/503/504 or could not be reached for a request's whole
    ``timeout.deadline`` (no ``max_attempts`` set): every further record would wait as long, so
    the run stops, as for :class:`CredentialsRefused`; a rerun sends what was not acknowledged.

    Attributes:
        endpoint: the target endpoint's name in the config.
        status: the last HTTP status (``None`` when no answer came).
    """

    def __init__(self, message: str, *, endpoint: str, status: int | None) -> None:
        self.endpoint = endpoint
        self.status = status
        super().__init__(message)


class RunDeadlinePassed(ApilinkError):
    """The config's ``max_duration`` passed; no further page is read.

    What was loaded stays loaded and checkpointed, so a rerun goes on from there.
    """


class PrefectUnreachable(ApilinkError):
    """The Prefect API at ``PREFECT_API_URL`` does not answer (before or during a run)."""


class ValidationFailed(ApilinkError):
    """More rows failed validation than ``max_invalid_ratio`` allows."""


class AuditAnchorUnavailable(ApilinkError):
    """The Prefect server that holds the audit anchors could not be read (verification fails
    closed: no answer is never taken for "nothing anchored")."""


class AuditTampered(ApilinkError):
    """The audit chain is broken (also: a log rolled back or replaced behind its Prefect
    anchors, see :mod:`apilink.audit.anchor`).

    Attributes:
        line: the 1-based number of the first line that does not verify.
    """

    def __init__(self, message: str, *, line: int):
        self.line = line
        super().__init__(message)


class PrivateFileError(ApilinkError, OSError):
    """A file apilink writes (log, audit, quarantine, dead letters, state, users, credentials
    or a lock file) is a symlink or not a regular file, or its lock was not had in time; the
    message names the path. An ``OSError`` too, for callers that handle file errors."""
