"""Every error apilink raises, as one hierarchy.

```
ApilinkError
├── ConfigError                 a sync config that cannot be used (names key path and file)
├── UsageProblem                a command line that cannot be run as given
├── CredentialError             a credential that cannot be read or written
│   ├── CredentialNotFound
│   │   ├── VaultCredentialNotFound   (also a VaultPathNotFound)
│   │   └── AwsSecretNotFound   (also an AwsSecretsManagerError)
│   ├── CredentialExpired
│   ├── CredentialConflict      a compare-and-set write found another version stored
│   │   └── AwsSecretConflict   (also an AwsSecretsManagerError)
│   ├── DecryptionError         wrong password or a changed byte: one opaque error
│   ├── CredentialFileError     a credential file that is not ours, or a refused header
│   └── VaultError              HashiCorp Vault / OpenBao (path, status)
│       ├── VaultSealed
│       ├── VaultForbidden
│       ├── VaultPathNotFound
│       │   └── VaultCredentialNotFound
│       └── VaultUnreachable
│   └── AwsSecretsManagerError  AWS Secrets Manager answered an error, or did not answer
│       ├── AwsSecretNotFound   (also a CredentialNotFound)
│       ├── AwsSecretConflict   (also a CredentialConflict)
│       ├── AwsSecretDenied     the AWS identity may not, or its credentials are not valid
│       └── AwsSecretThrottled  still throttled after every retry
├── AuthError                   a token that cannot be acquired or applied
│   ├── TokenResponseError      a token endpoint answered with something that is not a token
│   ├── TokenEndpointError      a token endpoint answered a standard OAuth error (error, status)
│   ├── StateMismatch           the PKCE redirect came back with another `state`
│   ├── DeviceFlowDenied        the person refused the device authorization
│   ├── DeviceFlowExpired       the device code expired before the person approved
│   ├── ReauthorizationRequired a refresh token was refused: a person must log in again
│   └── CredentialsRefused      the target answered 401 after a token refresh, or 403: run stops
├── AccessDenied                RBAC refused a permission
│   ├── PolicyRefused           a caller's config tried to change the worker's access policy
│   └── ProofRejected           a ticket, child proof or block approval that does not verify
├── RoleError (ValueError)      a role or permission name that is not a valid one
├── UserError (ValueError)      a user-management request that cannot be carried out
│   ├── UserNotFound
│   ├── UserExists
│   └── LastAdminError          the request would leave no admin
├── TransportError              an HTTP exchange that failed for good (endpoint, method, status)
│   ├── InsecureTransport       http:// to a host that is not loopback, or another origin
│   ├── MessageRejected         a response whose JWS did not verify or JWE did not decrypt
│   ├── TLSRefused              a TLS handshake refused: no or a rejected client certificate,
│   │                           or a server certificate not trusted (never retried)
│   ├── ResponseTooLarge        a body (decoded) over `max_response_bytes`
│   ├── DeadlineExceeded        no whole answer within the request's deadline
│   ├── HTTPStatusError         a status that retries did not cure
│   ├── PaginationError         a paginator that would loop or read nonsense
│   └── TargetUnavailable       the target failed transiently for a whole deadline: run stops
├── BodyOverLimit               a body read past its byte limit (the client makes it one of the
│                               errors above: ResponseTooLarge, VaultError, TokenResponseError)
├── SlowBody                    a body still arriving at its deadline (likewise: DeadlineExceeded)
├── MappingFailure (ValueError) a transformer refused a value: the record is quarantined
├── PathSyntaxError (ValueError)      a field path that is not `name(.name|[index])*`
├── TemplateSyntaxError (ValueError)  a template with an unclosed `{` or a stray `}`
├── ValidationEngineError       a rule the validation engine could not evaluate
├── ValidationFailed            more invalid rows than `max_invalid_ratio` allows
├── MassDeleteRefused           a mirror's plan deletes more than `max_delete_ratio` allows
├── StateError                  sync state that cannot be read or written
├── PrivateFileError (OSError)  a file apilink writes is a symlink, not a regular file, or locked
├── RunDeadlinePassed           the run's `max_duration` passed before the source was read
├── SyncIncomplete              a run ended with records the target did not accept (summary)
├── PartitionsFailed            child partition runs that did not complete (failed, summary)
├── DemoIncomplete              the demo's target did not receive every valid user
├── PrefectUnreachable          the Prefect API at PREFECT_API_URL does not answer
├── AuditKeyError (ValueError)  the audit key is missing or too short
├── AuditAnchorUnavailable      `apilink audit verify --prefect` could not read the anchors
├── AuditTampered               `apilink audit verify` found an edited, deleted or moved line
└── DuplicateKey (ValueError)   a JSON object read back names the same key twice
```

Messages never contain a secret value: they name the key, the endpoint or the store path. The
context an error has is kept on it as attributes (``endpoint``, ``method``, ``status``, ``path``)
so that a caller never has to parse the message; none of them holds a secret.

Where a class is also a built-in (``ValueError``, ``OSError``), callers that catch the built-in
(pydantic validators, file handling) keep working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apilink.run.summary import SyncSummary

__all__ = [
    "AccessDenied",
    "ApilinkError",
    "AuditAnchorUnavailable",
    "AuditKeyError",
    "AuditTampered",
    "AuthError",
    "AwsSecretConflict",
    "AwsSecretDenied",
    "AwsSecretNotFound",
    "AwsSecretThrottled",
    "AwsSecretsManagerError",
    "BodyOverLimit",
    "ConfigError",
    "CredentialConflict",
    "CredentialError",
    "CredentialExpired",
    "CredentialFileError",
    "CredentialNotFound",
    "CredentialsRefused",
    "DeadlineExceeded",
    "DecryptionError",
    "DemoIncomplete",
    "DeviceFlowDenied",
    "DeviceFlowExpired",
    "DuplicateKey",
    "HTTPStatusError",
    "InsecureTransport",
    "LastAdminError",
    "MappingFailure",
    "MassDeleteRefused",
    "MessageRejected",
    "PaginationError",
    "PartitionsFailed",
    "PathSyntaxError",
    "PolicyRefused",
    "PrefectUnreachable",
    "PrivateFileError",
    "ProofRejected",
    "ReauthorizationRequired",
    "ResponseTooLarge",
    "RoleError",
    "RunDeadlinePassed",
    "SlowBody",
    "StateError",
    "StateMismatch",
    "SyncIncomplete",
    "TLSRefused",
    "TargetUnavailable",
    "TemplateSyntaxError",
    "TokenEndpointError",
    "TokenResponseError",
    "TransportError",
    "UsageProblem",
    "UserError",
    "UserExists",
    "UserNotFound",
    "ValidationEngineError",
    "ValidationFailed",
    "VaultCredentialNotFound",
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


class UsageProblem(ApilinkError):
    """A command line that cannot be run as given (the CLI prints it as one line)."""


class CredentialError(ApilinkError):
    """A credential that cannot be read or written."""


class CredentialNotFound(CredentialError):
    """No credential is stored under the name asked for."""


class CredentialExpired(CredentialError):
    """The credential's ``expires_at`` is in the past."""


class CredentialConflict(CredentialError):
    """A compare-and-set write was refused: the entry changed since it was read (another
    process wrote it first). Nothing was written; read the entry again."""


class DecryptionError(CredentialError):
    """The credential file could not be decrypted: wrong password, or the file was changed."""


class CredentialFileError(CredentialError):
    """The file is not an apilink credential file, or its header is refused."""


class VaultError(CredentialError):
    """HashiCorp Vault or OpenBao refused or failed a request.

    Attributes:
        path: the KV path (mount and entry) the request was for, when there was one.
        status: the HTTP status Vault answered (``None`` when none came or none applies).
    """

    def __init__(self, message: str, *, path: str | None = None, status: int | None = None):
        self.path = path
        self.status = status
        super().__init__(message)


class VaultSealed(VaultError):
    """The server is sealed (HTTP 503); unseal it, then run again."""


class VaultForbidden(VaultError):
    """The token's policies do not allow the path (HTTP 403)."""


class VaultPathNotFound(VaultError):
    """Nothing is stored at the path (HTTP 404)."""


class VaultUnreachable(VaultError):
    """The server could not be reached."""


class VaultCredentialNotFound(VaultPathNotFound, CredentialNotFound):
    """Nothing at the entry's path: both a ``VaultPathNotFound`` and a ``CredentialNotFound``."""


class AwsSecretsManagerError(CredentialError):
    """AWS Secrets Manager answered with an error, or could not be reached."""


class AwsSecretNotFound(AwsSecretsManagerError, CredentialNotFound):
    """No secret (or no such version) under the name asked for."""


class AwsSecretConflict(AwsSecretsManagerError, CredentialConflict):
    """The secret's current version is not the one read (or it exists when it should not)."""


class AwsSecretDenied(AwsSecretsManagerError):
    """The AWS identity may not do this, or its credentials are not valid."""


class AwsSecretThrottled(AwsSecretsManagerError):
    """Still throttled after every retry botocore makes."""


class AuthError(ApilinkError):
    """A token could not be acquired or applied."""


class TokenResponseError(AuthError):
    """The token endpoint answered with something that is not a usable token.

    The body is never included: it may hold a partial secret.

    Attributes:
        status: the HTTP status of the answer (``None`` when not from an answer).
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class TokenEndpointError(AuthError):
    """The token endpoint answered with a standard OAuth error.

    Attributes:
        error: the error code (one of ``STANDARD_ERROR_CODES``, or ``"unknown"``).
        status_code: the HTTP status of the answer (``status`` is the same number).
    """

    def __init__(self, message: str, *, error: str, status_code: int) -> None:
        self.error = error
        self.status_code = status_code
        self.status = status_code
        super().__init__(message)


class StateMismatch(AuthError):
    """The ``state`` that came back with the code is not the one sent (RFC 6749 10.12)."""


class DeviceFlowDenied(AuthError):
    """The person refused the authorization (``access_denied``)."""


class DeviceFlowExpired(AuthError):
    """The device code expired before the person approved (``expired_token`` or deadline)."""


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


class RoleError(ApilinkError, ValueError):
    """A role or permission name that is not one of the valid ones (the message lists them)."""


class UserError(ApilinkError, ValueError):
    """A user-management request that cannot be carried out."""


class UserNotFound(UserError):
    """No user has that name."""


class UserExists(UserError):
    """A user with that name already exists."""


class LastAdminError(UserError):
    """The request would leave no admin."""


class TransportError(ApilinkError):
    """An HTTP exchange that failed for good (after any retries).

    Attributes:
        endpoint: the endpoint's name in the config, when the exchange was for one.
        method: the HTTP method, when known.
        status: the last HTTP status received (``None`` when no answer came).
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        method: str | None = None,
        status: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.method = method
        self.status = status
        super().__init__(message)


class InsecureTransport(TransportError):
    """Plain ``http://`` to a host that is not loopback, without ``allow_insecure_http``; or a
    request to an origin its client was not configured for."""


class MessageRejected(TransportError):
    """A response that failed its endpoint's ``verify`` or ``decrypt``: its page is not used.

    Attributes:
        check: ``"verify"`` or ``"decrypt"``.
        where: the endpoint's key path (``source.endpoints.statements``).
    """

    def __init__(self, message: str, *, check: str, where: str) -> None:
        self.check = check
        self.where = where
        super().__init__(message)


class TLSRefused(TransportError):
    """A TLS handshake that failed for a reason a retry cannot cure: the server requires a
    client certificate (``tls.client_cert``) and none was presented, it refused the one
    presented, or its own certificate is not trusted (``verify``)."""


class ResponseTooLarge(TransportError):
    """A response body exceeded the connection's ``max_response_bytes``; it was not kept."""


class DeadlineExceeded(TransportError):
    """The request's overall deadline passed before an answer came."""


class HTTPStatusError(TransportError):
    """A response status that retries did not cure.

    Attributes:
        status_code: the last status received (``status`` is the same number).
        url: the request URL with secret query parameters masked.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        url: str,
        endpoint: str | None = None,
        method: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.url = url
        super().__init__(message, endpoint=endpoint, method=method, status=status_code)


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
        super().__init__(message, endpoint=endpoint, status=status)


class BodyOverLimit(ApilinkError):
    """A response body passed the byte limit it was read under; the rest was not read.

    Raised while a body is read; the client that read it turns it into the error of its kind
    (:class:`ResponseTooLarge` for API pages).

    Attributes:
        detail: what gave it away: ``"declares N bytes"`` or ``"is longer"``.
        limit: the limit, in bytes.
    """

    def __init__(self, detail: str, limit: int) -> None:
        self.detail = detail
        self.limit = limit
        super().__init__(f"the response {detail} than {limit} bytes")


class SlowBody(ApilinkError):
    """A response body was still arriving when its deadline passed; the rest was not read."""


class MappingFailure(ApilinkError, ValueError):
    """A transformer refused a value; the record is set aside with this reason."""


class PathSyntaxError(ApilinkError, ValueError):
    """A path that is not ``name(.name|[index])*``."""


class TemplateSyntaxError(ApilinkError, ValueError):
    """A template with an unclosed ``{`` or a stray ``}``, or a bad path inside braces."""


class ValidationEngineError(ApilinkError):
    """The engine could not evaluate a rule (not: a record failed it).

    Records are never let through when a rule could not be evaluated.
    """


class ValidationFailed(ApilinkError):
    """More rows failed validation than ``max_invalid_ratio`` allows."""


class MassDeleteRefused(ApilinkError):
    """A mirror's plan would delete a larger share of what the target holds than its
    ``max_delete_ratio`` allows (nothing was deleted)."""


class StateError(ApilinkError):
    """Sync state that cannot be read or written (a damaged file, a refused write)."""


class PrivateFileError(ApilinkError, OSError):
    """A file apilink writes (log, audit, quarantine, dead letters, state, users, credentials
    or a lock file) is a symlink or not a regular file, or its lock was not had in time; the
    message names the path. An ``OSError`` too, for callers that handle file errors."""


class RunDeadlinePassed(ApilinkError):
    """The config's ``max_duration`` passed; no further page is read.

    What was loaded stays loaded and checkpointed, so a rerun goes on from there.
    """


class SyncIncomplete(ApilinkError):
    """Some records were not accepted by the target; the summary says how many.

    Attributes:
        summary: the run's counts (they add up: see :class:`~apilink.run.summary.SyncSummary`).
    """

    def __init__(self, summary: SyncSummary) -> None:
        self.summary = summary
        parts = []
        if summary.failed:
            parts.append(f"{summary.failed} of {summary.extracted} records were dead-lettered")
            if summary.dead_letter_file:
                parts[0] += f" (see `apilink dlq list`; file {summary.dead_letter_file})"
        parts += summary.errors
        super().__init__("; ".join(parts) + f" [{summary.balance()}]")


class PartitionsFailed(ApilinkError):
    """One or more child runs did not complete; ``summary`` holds what the others did.

    Attributes:
        failed: the names of the partitions whose runs did not complete.
        summary: the counts the completed partitions add up to.
    """

    def __init__(self, failed: list[str], summary: dict[str, Any]) -> None:
        self.failed = failed
        self.summary = summary
        super().__init__(f"{len(failed)} partition(s) did not complete: {', '.join(failed)}")


class DemoIncomplete(ApilinkError):
    """The demo's target did not receive every valid user (a run that should never happen)."""


class PrefectUnreachable(ApilinkError):
    """The Prefect API at ``PREFECT_API_URL`` does not answer (before or during a run)."""


class AuditKeyError(ApilinkError, ValueError):
    """The audit key is missing (when it may not be created) or too short."""


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


class DuplicateKey(ApilinkError, ValueError):
    """A JSON object read back (an audit line) names the same key twice."""
