"""Resolve every credential reference of a run, once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from apilink.config.credentials import CredentialStoreConfig
from apilink.config.models import SecurityConfig, SyncConfig
from apilink.credentials import CredentialStore, open_store, parse_reference, resolve_references
from apilink.redaction import secret_values
from blocks.credentials import load_store_config
from blocks.secrets import PrefectSecretStore

__all__ = ["ResolvedCredentials", "open_configured_store", "resolve_credentials"]


def open_configured_store(
    credentials: CredentialStoreConfig | None,
    security: SecurityConfig,
    environ: Mapping[str, str] | None = None,
) -> CredentialStore | None:
    """The store a config's ``credentials:`` names, Prefect-backed kinds included (a saved
    credential block, Prefect Secret blocks): what a run, ``apilink credentials`` and
    ``apilink dlq replay`` all open."""
    return open_store(
        credentials,
        security,
        load_block=load_store_config,
        secret_blocks=PrefectSecretStore,
        environ=environ,
    )


@dataclass(frozen=True)
class ResolvedCredentials:
    """The config with its ``secret://`` references read, and the store they came from.

    The store stays open for the run: OAuth logins keep their tokens there (``storage_key``).
    """

    config: SyncConfig
    store: CredentialStore | None

    def __repr__(self) -> str:
        return (
            f"ResolvedCredentials(config={self.config.name!r}, store={type(self.store).__name__})"
        )


@task(name="resolve_credentials", cache_policy=NO_CACHE, persist_result=False, retries=0)
def resolve_credentials(config: SyncConfig) -> ResolvedCredentials:
    """Open the configured credential store and replace every ``secret://`` reference.

    ``${VAR}`` references were read from the environment when the config was loaded. Values
    stay ``SecretStr``; nothing here is cached or persisted.
    """
    store = open_configured_store(config.credentials, config.security)
    resolved = resolve_references(config, store)
    referenced = _count_references(config)
    get_run_logger().info(
        "credentials resolved for %s: %d secret value(s), %d from %s",
        config.name,
        len(secret_values(resolved)),
        referenced,
        type(store).__name__ if store is not None else "the environment",
    )
    return ResolvedCredentials(resolved, store)


def _count_references(config: SyncConfig) -> int:
    count = 0

    def visit(value: object) -> None:
        nonlocal count
        if isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)
        elif parse_reference(value) is not None:
            count += 1

    visit(config.model_dump(include={"source", "target"}))
    return count
