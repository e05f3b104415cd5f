"""Sync configs: YAML in, validated models out."""

from __future__ import annotations

from apilink.config.auth import (
    ApiKeyAuthConfig,
    AuthConfig,
    BasicAuthConfig,
    BearerAuthConfig,
    OAuth2ClientCredentialsConfig,
    OAuth2DeviceFlowConfig,
    OAuth2PKCEConfig,
)
from apilink.config.credentials import (
    BlockStoreConfig,
    CredentialStoreConfig,
    FileStoreConfig,
    VaultStoreConfig,
)
from apilink.config.loader import build_config, expand_env, load_config, parse_config
from apilink.config.models import (
    ConnectionConfig,
    EndpointConfig,
    IncrementalConfig,
    LoggingConfig,
    MappingConfig,
    RetryConfig,
    SecurityConfig,
    SyncConfig,
    TimeoutConfig,
    UserConfig,
)
from apilink.mapping.field_config import FieldMapping
from apilink.validation.rules_config import ValidationRules

__all__ = [
    "ApiKeyAuthConfig",
    "AuthConfig",
    "BasicAuthConfig",
    "BearerAuthConfig",
    "BlockStoreConfig",
    "ConnectionConfig",
    "CredentialStoreConfig",
    "EndpointConfig",
    "FieldMapping",
    "FileStoreConfig",
    "IncrementalConfig",
    "LoggingConfig",
    "MappingConfig",
    "OAuth2ClientCredentialsConfig",
    "OAuth2DeviceFlowConfig",
    "OAuth2PKCEConfig",
    "RetryConfig",
    "SecurityConfig",
    "SyncConfig",
    "TimeoutConfig",
    "UserConfig",
    "ValidationRules",
    "VaultStoreConfig",
    "build_config",
    "expand_env",
    "load_config",
    "parse_config",
]
