"""The sync config as validated models.

The keys of the upstream APILinker guide are accepted as written there; what apilink adds
(pagination styles, batch loads, credential stores, incremental state) are extra keys.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from apilink.config.auth import AuthConfig
from apilink.config.credentials import CredentialStoreConfig
from apilink.config.masking import SecretBearing
from apilink.http.origin import insecure_url_problem, normalize_url
from apilink.http.protection_config import (
    HTTPMessageSignatureConfig,
    JWEDecryptConfig,
    JWEEncryptConfig,
    JWSDetachedSignConfig,
    JWSDetachedVerifyConfig,
)
from apilink.http.rate_limit_config import RateLimitConfig
from apilink.http.tls_config import TLSConfig
from apilink.mapping.field_config import FieldMapping
from apilink.pagination import PaginatorOptions, parse_pagination
from apilink.run.partitions_config import PartitionsConfig
from apilink.validation.rules_config import ValidationRules

__all__ = [
    "ConnectionConfig",
    "EndpointConfig",
    "IncrementalConfig",
    "LoggingConfig",
    "MappingConfig",
    "RetryConfig",
    "SecurityConfig",
    "SyncConfig",
    "TimeoutConfig",
    "UserConfig",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryConfig(_Model):
    """How patiently a failed request is tried again (see :mod:`apilink.http.sending`).

    A transient failure (408, 429, 502, 503, 504, a connection error or timeout) is tried
    again until the request's ``timeout.deadline``; ``max_attempts``, when set, also caps the
    count. Another status in ``retry_on_status`` (a 500) is tried at most ``max_attempts``
    times, 3 when unset.
    """

    max_attempts: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="Cap on attempts per request; unset: transient failures are retried until "
        "the deadline.",
    )
    backoff_factor: float = Field(0.5, ge=0, le=60)
    max_backoff: float = Field(30.0, gt=0)
    retry_on_status: list[int] = Field(default_factory=lambda: [408, 429, 500, 502, 503, 504])
    max_retry_after: float = Field(60.0, ge=0, description="Cap on a server's Retry-After.")


class TimeoutConfig(_Model):
    """Seconds for each phase of a request; ``timeout: 30`` sets them all."""

    scalar_form: ClassVar[str] = "a number of seconds for connect, read, write and pool"

    connect: float = Field(10.0, gt=0)
    read: float = Field(30.0, gt=0)
    write: float = Field(30.0, gt=0)
    pool: float = Field(30.0, gt=0)
    deadline: float = Field(
        300.0, gt=0, description="Overall seconds for one request, its retries and waits included."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"connect": value, "read": value, "write": value, "pool": value}
        return value


class EndpointConfig(SecretBearing, _Model):
    """One path of an API, as a source (read) or a target (write)."""

    path: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    params: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    pagination: PaginatorOptions | None = None
    records_path: str | None = Field(
        None,
        validation_alias="response_path",
        description="Where the records sit in a response body (``data.items``); the body itself "
        "when it is a list.",
    )
    batch: bool = False
    batch_size: int = Field(100, ge=1, le=100_000)
    idempotency_key: str | None = Field(
        None, description="Record field whose value identifies it at the target."
    )
    encrypt: JWEEncryptConfig | None = Field(
        None, description="Target endpoints: send request bodies as a compact JWE."
    )
    sign: (
        Annotated[JWSDetachedSignConfig | HTTPMessageSignatureConfig, Field(discriminator="type")]
        | None
    ) = Field(
        None,
        description="Target endpoints: sign each request body (detached JWS header) or each "
        "request (RFC 9421 HTTP Message Signature).",
    )
    decrypt: JWEDecryptConfig | None = Field(
        None, description="Source endpoints: decrypt JWE response bodies before reading."
    )
    verify: JWSDetachedVerifyConfig | None = Field(
        None, description="Source endpoints: check each response's detached JWS signature."
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("pagination", mode="before")
    @classmethod
    def _pagination(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return parse_pagination(value)
        return value

    @property
    def data_path(self) -> str | None:
        """The records path, from the endpoint or its pagination section."""
        if self.records_path is not None:
            return self.records_path
        return self.pagination.data_path if self.pagination is not None else None


class ConnectionConfig(SecretBearing, _Model):
    """A source or target API."""

    type: Literal["rest"] = "rest"
    base_url: str
    auth: AuthConfig | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: TimeoutConfig | None = None
    retry: RetryConfig | None = None
    endpoints: dict[str, EndpointConfig] = Field(default_factory=dict)
    verify: bool | str = Field(True, description="TLS verification; a path names a CA bundle.")
    tls: TLSConfig | None = Field(
        None,
        description="The client certificate (mutual TLS) presented on every connection of "
        "this API, its token endpoint's included.",
    )
    allow_insecure_http: bool = False
    max_concurrency: int = Field(8, ge=1, le=256)
    rate_limit: RateLimitConfig | None = Field(
        None, description="Requests per second this API accepts, shared by every worker."
    )
    max_response_bytes: int = Field(
        64 * 1024 * 1024, ge=1, description="Larger response bodies are refused, not buffered."
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = normalize_url(value)
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// for loopback)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _https_only(self) -> ConnectionConfig:
        """Every URL this connection sends to, or has a person open, is https (or loopback
        http, or ``allow_insecure_http: true``): what the clients enforce, said before a run."""
        urls = {"base_url": self.base_url}
        for name in ("token_url", "device_authorization_url", "authorization_url"):
            if isinstance(getattr(self.auth, name, None), str):
                urls[f"auth.{name}"] = getattr(self.auth, name)
        for key, url in urls.items():
            problem = insecure_url_problem(url, self.allow_insecure_http)
            if problem is not None:
                raise ValueError(f"{key}: {problem}")
        return self


class MappingConfig(_Model):
    """Records of one source endpoint, reshaped for one target endpoint.

    ``mode`` says what a run sends (see :mod:`apilink.run.plan`): ``append`` sends every
    record to ``target``; ``upsert`` sends only records new to the target (to ``target``) and
    changed ones (to ``update``), identified by ``key``; ``mirror`` also deletes (through
    ``delete``) the records a complete read of the source no longer has.
    """

    source: str
    target: str
    fields: list[FieldMapping] = Field(default_factory=list)
    validation: ValidationRules = Field(default_factory=ValidationRules)
    mode: Literal["append", "upsert", "mirror"] = Field(
        "append",
        description="append: send every record; upsert: only new and changed ones; mirror: "
        "upsert, and delete what the source no longer has.",
    )
    key: str | None = Field(
        None,
        description="upsert/mirror: the mapped field that identifies a record at the target.",
    )
    update: str | None = Field(
        None,
        description="upsert/mirror: the target endpoint for changed records (e.g. PATCH "
        "/profiles/{external_id}).",
    )
    delete: str | None = Field(
        None,
        description="mirror: the target endpoint that deletes a record (e.g. DELETE "
        "/profiles/{external_id}); it is sent the key field alone, with no body.",
    )
    reconcile: str | None = Field(
        None,
        description="upsert/mirror: a target GET endpoint (paginated like a source) read first, "
        "to compare against what the target actually holds.",
    )
    max_delete_ratio: float = Field(
        0.1,
        ge=0,
        le=1,
        description="mirror: refuse a plan that deletes a larger share of what the target "
        "holds (--allow-mass-delete overrides).",
    )

    @model_validator(mode="after")
    def _mode_needs(self) -> MappingConfig:
        where = f"mapping {self.source} -> {self.target}"
        if self.mode == "append":
            given = [k for k in ("key", "update", "delete", "reconcile") if getattr(self, k)]
            if given:
                raise ValueError(
                    f"{where}: `{'`, `'.join(given)}` only apply with `mode: upsert` or "
                    "`mode: mirror` (valid modes: append, upsert, mirror)"
                )
            return self
        missing = [k for k in ("key", "update") if getattr(self, k) is None]
        if self.mode == "mirror" and self.delete is None:
            missing.append("delete")
        if missing:
            raise ValueError(
                f"{where}: `mode: {self.mode}` needs `{'`, `'.join(missing)}` (key: the mapped "
                "field that identifies a record; update: the target endpoint for changed "
                "records"
                + (
                    "; delete: the target endpoint that deletes one"
                    if self.mode == "mirror"
                    else ""
                )
                + ")"
            )
        if self.mode == "upsert" and self.delete is not None:
            raise ValueError(f"{where}: `delete` only applies with `mode: mirror`")
        return self

    @property
    def planned(self) -> bool:
        """Whether runs plan against what the target holds (upsert or mirror)."""
        return self.mode != "append"


class LoggingConfig(_Model):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    file: str | None = None
    security_audit: bool = False
    audit_file: str | None = Field(
        None, description="Where audit lines go; defaults to `file`, or apilink_audit.log."
    )
    # On top of apilink.redaction.SECRET_KEY_WORDS, which always applies.
    filter_fields: list[str] = Field(default_factory=list)

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class UserConfig(_Model):
    username: str
    role: str
    api_key: SecretStr | None = None


class SecurityConfig(_Model):
    """The guide's ``security`` / ``security_config`` section."""

    enable_access_control: bool = False
    users: list[UserConfig] = Field(default_factory=list)
    users_file: str | None = None
    master_password: SecretStr | None = None
    credential_storage_path: str | None = None


class IncrementalConfig(_Model):
    """Fetch only what changed since the last acknowledged record."""

    cursor_field: str
    param: str
    initial_value: Any = None
    lag: float = 0


class SyncConfig(SecretBearing, _Model):
    """A whole sync: where records come from, where they go, and how they are checked."""

    name: str = "sync"
    source: ConnectionConfig
    target: ConnectionConfig
    mapping: list[MappingConfig] = Field(min_length=1)
    timeout: TimeoutConfig | None = None
    retry: RetryConfig | None = None
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    credentials: CredentialStoreConfig | None = None
    incremental: IncrementalConfig | None = None
    chunk_size: int = Field(
        20_000,
        ge=1,
        le=1_000_000,
        description=(
            "Records per chunk: the unit of a Prefect task run, a checkpoint and a crash's "
            "re-send. Each chunk costs a task run and a checkpoint write whatever its size."
        ),
    )
    max_duration: float | None = Field(
        None,
        gt=0,
        description="Seconds a run may read the source: past them no page is asked for, the "
        "run fails naming the limit, and what was loaded stays loaded and checkpointed.",
    )
    partitions: PartitionsConfig | None = Field(
        None, description="Split the sync into child flow runs (see apilink.run.partitions)."
    )
    state_dir: str | None = Field(
        None,
        description="Folder of checkpoints and dead-letter files; default APILINK_STATE_DIR, "
        "else ~/.apilink/state.",
    )

    @model_validator(mode="after")
    def _protection_sides(self) -> SyncConfig:
        """Requests are protected on the way out, responses checked on the way in."""
        wrong = (
            ("source", ("encrypt", "sign"), "decrypt, verify"),
            ("target", ("decrypt", "verify"), "encrypt, sign"),
        )
        for side, keys, valid in wrong:
            for name, endpoint in getattr(self, side).endpoints.items():
                for key in keys:
                    if getattr(endpoint, key) is not None:
                        raise ValueError(
                            f"`{side}.endpoints.{name}.{key}`: a {side} endpoint "
                            f"{'reads responses' if side == 'source' else 'sends requests'}; "
                            f"valid here: {valid}"
                        )
        return self

    @model_validator(mode="after")
    def _endpoints_exist(self) -> SyncConfig:
        for side, names in (("source", self.source.endpoints), ("target", self.target.endpoints)):
            for rule in self.mapping:
                name = getattr(rule, side)
                if name not in names:
                    valid = ", ".join(sorted(names)) or "(none defined)"
                    raise ValueError(
                        f"mapping names {side} endpoint {name!r}, which `{side}.endpoints` "
                        f"does not define; defined: {valid}"
                    )
        targets = self.target.endpoints
        for rule in self.mapping:
            for role in ("update", "delete", "reconcile"):
                name = getattr(rule, role)
                if name is not None and name not in targets:
                    raise ValueError(
                        f"mapping {rule.source} -> {rule.target}: `{role}` names target "
                        f"endpoint {name!r}, which `target.endpoints` does not define; "
                        f"defined: {', '.join(sorted(targets))}"
                    )
            if rule.reconcile is not None and targets[rule.reconcile].method != "GET":
                raise ValueError(
                    f"mapping {rule.source} -> {rule.target}: `reconcile` endpoint "
                    f"{rule.reconcile!r} must be a GET (it is read like a source)"
                )
            if rule.mode == "mirror" and self.incremental is not None:
                raise ValueError(
                    f"mapping {rule.source} -> {rule.target}: `mode: mirror` deletes what a "
                    "complete read of the source no longer has, and `incremental:` reads only "
                    "what changed; use `mode: upsert` with `incremental:`"
                )
        return self

    def timeout_for(self, connection: ConnectionConfig) -> TimeoutConfig:
        return connection.timeout or self.timeout or TimeoutConfig()

    def retry_for(self, connection: ConnectionConfig) -> RetryConfig:
        return connection.retry or self.retry or RetryConfig()
