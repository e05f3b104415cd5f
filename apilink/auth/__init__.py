"""Auth strategies as ``httpx.Auth`` flows, built from a config's ``auth`` section.

``build_auth`` picks the strategy by the section's ``type``:

```
api_key                              ApiKeyAuth        header or query parameter
bearer                               BearerAuth
basic                                BasicAuth
oauth2, oauth2_client_credentials    ClientCredentialsAuth
oauth2_pkce, oauth2_device_flow      StoredTokenAuth   tokens put in the store by a login
```
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from apilink.auth.oauth import ClientCredentialsAuth, OAuth2TokenAuth, StoredTokenAuth
from apilink.auth.static import ApiKeyAuth, BasicAuth, BearerAuth
from apilink.auth.token import OAuthToken
from apilink.config.auth import (
    ApiKeyAuthConfig,
    AuthConfig,
    BasicAuthConfig,
    BearerAuthConfig,
    OAuth2ClientCredentialsConfig,
    OAuth2DeviceFlowConfig,
    OAuth2PKCEConfig,
)
from apilink.credentials.base import CredentialStore
from apilink.errors import TokenEndpointError

__all__ = [
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "ClientCredentialsAuth",
    "OAuth2TokenAuth",
    "OAuthToken",
    "StoredTokenAuth",
    "TokenEndpointError",
    "build_auth",
]


def build_auth(
    config: AuthConfig | None,
    *,
    token_store: CredentialStore | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Auth | None:
    """The ``httpx.Auth`` that applies ``config`` to each request (``None`` for no auth).

    Args:
        config: a validated ``auth`` section.
        token_store: where OAuth tokens live under ``storage_key``; PKCE and device-flow
            tokens are read from it, and every new or rotated token is written back.
        clock: Unix seconds now, for token expiry.
        sleep: how to wait while another process stores a token it rotated.
    """
    if config is None:
        return None
    if isinstance(config, ApiKeyAuthConfig):
        return ApiKeyAuth(config)
    if isinstance(config, BearerAuthConfig):
        return BearerAuth(config)
    if isinstance(config, BasicAuthConfig):
        return BasicAuth(config)
    if isinstance(config, OAuth2ClientCredentialsConfig):
        return ClientCredentialsAuth(config, token_store=token_store, clock=clock, sleep=sleep)
    if isinstance(config, OAuth2PKCEConfig | OAuth2DeviceFlowConfig):
        return StoredTokenAuth(config, token_store=token_store, clock=clock, sleep=sleep)
    raise NotImplementedError(f"auth type {config.type!r} is not supported")
