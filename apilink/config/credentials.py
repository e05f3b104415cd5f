"""Where ``secret://name#field`` references are read from: an encrypted file, Vault/OpenBao,
AWS Secrets Manager, or a Prefect block that holds the file or Vault settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from apilink.http.origin import insecure_url_problem, normalize_url

__all__ = [
    "AwsSecretsManagerConfig",
    "BlockStoreConfig",
    "CredentialStoreConfig",
    "FileStoreConfig",
    "PrefectSecretConfig",
    "VaultAppRoleAuth",
    "VaultStoreConfig",
    "VaultTokenAuth",
]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileStoreConfig(_Base):
    """An AES-256-GCM credential file.

    The password usually comes from ``${APILINK_MASTER_PASSWORD}``; unset, the ``security``
    section's ``master_password`` and then that environment variable are read.
    """

    type: Literal["file"]
    path: str
    master_password: SecretStr | None = None
    kdf: Literal["scrypt", "argon2id"] = "scrypt"


class VaultTokenAuth(_Base):
    """A Vault token given as is (``${VAULT_TOKEN}``)."""

    method: Literal["token"]
    token: SecretStr


class VaultAppRoleAuth(_Base):
    """AppRole login: a role id and a secret id buy a token."""

    method: Literal["approle"]
    role_id: str
    secret_id: SecretStr
    mount_point: str = "approle"


class VaultStoreConfig(_Base):
    """HashiCorp Vault or OpenBao, KV v2 (or v1)."""

    type: Literal["vault"]
    url: str
    auth: Annotated[VaultTokenAuth | VaultAppRoleAuth, Field(discriminator="method")]
    mount_point: str = "secret"
    kv_version: Literal[1, 2] = 2
    path_prefix: str = ""
    namespace: str | None = None
    verify: bool | str = Field(True, description="TLS verification; a path names a CA bundle.")
    timeout: float = Field(10.0, gt=0)
    renew_threshold: float = Field(
        300.0, ge=0, description="Renew the token when fewer seconds than this are left."
    )
    renew_increment: int | None = Field(
        None, ge=1, description="Seconds asked for on renewal; the server's default if unset."
    )
    max_attempts: int = Field(
        3, ge=1, le=10, description="Tries for connection errors and 5xx answers."
    )
    allow_insecure_http: bool = Field(
        False, description="Allow plain http:// to a host that is not loopback (warned)."
    )
    max_response_bytes: int = Field(
        1024 * 1024, ge=1, description="Larger answers (decoded) are refused, not buffered."
    )
    deadline: float = Field(30.0, gt=0, description="Overall seconds for one answer's body.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return normalize_url(value).rstrip("/")

    @model_validator(mode="after")
    def _https(self) -> VaultStoreConfig:
        problem = insecure_url_problem(self.url, self.allow_insecure_http)
        if problem is not None:
            raise ValueError(problem)
        return self


class AwsSecretsManagerConfig(_Base):
    """AWS Secrets Manager: ``secret://name#field`` reads a field of the secret's JSON
    ``SecretString``, ``secret://name`` a plain-string secret whole.

    Credentials come from boto3's usual chain (environment, shared files, instance or task
    role); nothing of them goes in the config.
    """

    type: Literal["aws_secrets_manager"]
    region: str | None = Field(None, description="AWS region; boto3's default when unset.")
    endpoint_url: str | None = Field(
        None, description="Another endpoint (a VPC endpoint, LocalStack); AWS's own when unset."
    )
    version_stage: str | None = Field(
        None, description="Read this staging label (AWSCURRENT when neither is set)."
    )
    version_id: str | None = Field(None, description="Read this exact version.")
    timeout: float = Field(10.0, gt=0, description="Seconds to connect and to read an answer.")
    max_attempts: int = Field(
        5, ge=1, le=20, description="Tries for throttling, 5xx and connection errors."
    )
    allow_insecure_http: bool = Field(
        False, description="Allow a plain http:// endpoint_url that is not loopback (warned)."
    )

    @field_validator("endpoint_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return normalize_url(value).rstrip("/") if value is not None else None

    @model_validator(mode="after")
    def _https(self) -> AwsSecretsManagerConfig:
        if self.version_stage is not None and self.version_id is not None:
            raise ValueError("give version_stage or version_id, not both")
        if self.endpoint_url is not None:
            problem = insecure_url_problem(self.endpoint_url, self.allow_insecure_http)
            if problem is not None:
                raise ValueError(problem)
        return self


class PrefectSecretConfig(_Base):
    """Prefect ``Secret`` blocks: ``secret://block-name#field`` reads a field of a Secret whose
    value is JSON, ``secret://block-name`` a plain value whole. Only a flow run (or
    ``apilink sync``) can read them: the engine never talks to Prefect itself."""

    type: Literal["prefect_secret"]


class BlockStoreConfig(_Base):
    """A saved Prefect block (``VaultCredentials`` or ``EncryptedFileCredentials``) by name."""

    type: Literal["block"]
    block: str


CredentialStoreConfig = Annotated[
    FileStoreConfig
    | VaultStoreConfig
    | AwsSecretsManagerConfig
    | PrefectSecretConfig
    | BlockStoreConfig,
    Field(discriminator="type"),
]
