"""Auth sections of a sync config: one model per ``type``, as the upstream guide writes them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from apilink.http.origin import normalize_url

__all__ = [
    "ApiKeyAuthConfig",
    "AuthConfig",
    "BasicAuthConfig",
    "BearerAuthConfig",
    "OAuth2ClientCredentialsConfig",
    "OAuth2DeviceFlowConfig",
    "OAuth2PKCEConfig",
]


class _AuthBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiKeyAuthConfig(_AuthBase):
    """A static key in a header (default ``X-API-Key``) or a query parameter."""

    type: Literal["api_key"]
    key: SecretStr
    header: str = "X-API-Key"
    in_: Literal["header", "query"] = Field("header", alias="in")
    param_name: str = "api_key"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class BearerAuthConfig(_AuthBase):
    """``Authorization: Bearer <token>``."""

    type: Literal["bearer"]
    token: SecretStr


class BasicAuthConfig(_AuthBase):
    """HTTP Basic; use it only over HTTPS."""

    type: Literal["basic"]
    username: str
    password: SecretStr


class _OAuth2Base(_AuthBase):
    client_id: str
    token_url: str
    scope: str | None = None
    audience: str | None = None
    storage_key: str | None = Field(
        None, description="Name under which tokens are kept in the credential store."
    )
    extra_token_params: dict[str, str] = Field(default_factory=dict)
    refresh_leeway: float = Field(60.0, ge=0, description="Refresh this many seconds early.")
    token_endpoint_auth_method: Literal["client_secret_post", "client_secret_basic"] = Field(
        "client_secret_post",
        description="How a client secret reaches the token endpoint (unused without a secret).",
    )

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, value: str) -> str:
        return normalize_url(value)


class OAuth2ClientCredentialsConfig(_OAuth2Base):
    """RFC 6749 client credentials; ``type: oauth2`` is the guide's spelling of the same."""

    type: Literal["oauth2", "oauth2_client_credentials"]
    client_secret: SecretStr


class OAuth2PKCEConfig(_OAuth2Base):
    """RFC 7636 authorization code with PKCE, for public clients."""

    type: Literal["oauth2_pkce"]
    redirect_uri: str
    authorization_url: str
    client_secret: SecretStr | None = None

    @field_validator("authorization_url", "redirect_uri")
    @classmethod
    def _urls(cls, value: str) -> str:
        return normalize_url(value)


class OAuth2DeviceFlowConfig(_OAuth2Base):
    """RFC 8628 device authorization grant."""

    type: Literal["oauth2_device_flow"]
    device_authorization_url: str
    client_secret: SecretStr | None = None

    @field_validator("device_authorization_url")
    @classmethod
    def _device_url(cls, value: str) -> str:
        return normalize_url(value)


AuthConfig = Annotated[
    ApiKeyAuthConfig
    | BearerAuthConfig
    | BasicAuthConfig
    | OAuth2ClientCredentialsConfig
    | OAuth2PKCEConfig
    | OAuth2DeviceFlowConfig,
    Field(discriminator="type"),
]
