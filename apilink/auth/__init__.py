"""Auth strategies as ``httpx.Auth`` flows, built from a config's ``auth`` section."""

from __future__ import annotations

import httpx

from apilink.auth.static import ApiKeyAuth, BasicAuth, BearerAuth
from apilink.config.auth import (
    ApiKeyAuthConfig,
    AuthConfig,
    BasicAuthConfig,
    BearerAuthConfig,
)

__all__ = ["ApiKeyAuth", "BasicAuth", "BearerAuth", "build_auth"]


def build_auth(config: AuthConfig | None) -> httpx.Auth | None:
    """The ``httpx.Auth`` that applies ``config`` to each request (``None`` for no auth)."""
    if config is None:
        return None
    if isinstance(config, ApiKeyAuthConfig):
        return ApiKeyAuth(config)
    if isinstance(config, BearerAuthConfig):
        return BearerAuth(config)
    if isinstance(config, BasicAuthConfig):
        return BasicAuth(config)
    raise NotImplementedError(f"auth type {config.type!r} is not supported yet")
