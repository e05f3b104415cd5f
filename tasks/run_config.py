"""Where a flow's sync config comes from: a file on the worker, a mapping parameter, or a
``SyncConfig`` block saved in Prefect (so a config edited in the UI runs as it was saved).

Trusted: a file on the worker's disk (the operator put it there). Not trusted: a ``config``
mapping and a SyncConfig block, which anyone with Prefect API access can write; :class:`RunConfig`
carries the origin so the guard (tasks/rbac_guard.py) treats them as the caller's own authoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apilink.config import SyncConfig, build_config
from apilink.config.bounds import safe_load_bounded
from apilink.errors import ConfigError
from apilink.rbac.approval import config_digest
from apilink.rbac.policy import ConfigOrigin

__all__ = ["RunConfig", "load_raw_config", "load_run_config", "load_sync_config"]


@dataclass(frozen=True)
class RunConfig:
    """A run's config as written (``raw``), validated (``config``), and where it came from.

    ``approval`` is a SyncConfig block's seal (:mod:`apilink.rbac.approval`), checked by the
    guard; ``block`` is the block's name.
    """

    config: SyncConfig
    raw: dict[str, Any]
    origin: ConfigOrigin
    source: str
    block: str | None = None
    approval: str | None = None

    @property
    def trusted(self) -> bool:
        """Whether the config is the worker operator's own (a file on the worker's disk)."""
        return self.origin.trusted

    @property
    def digest(self) -> str:
        """SHA-256 of the config as written."""
        return config_digest(self.raw)


async def _load(
    config_path: str | None, config: dict[str, Any] | None, config_block: str | None
) -> tuple[dict[str, Any], str, ConfigOrigin, str | None]:
    given = [s for s in (config_path, config, config_block) if s is not None]
    if len(given) != 1:
        raise ConfigError(
            "give exactly one of `config_path` (a YAML file), `config` (a mapping) and "
            f"`config_block` (a saved SyncConfig block); got {len(given)}"
        )
    if config is not None:
        return dict(config), "<flow parameter `config`>", ConfigOrigin.PARAMETER, None
    if config_block is not None:
        raw, approval = await _block_config(config_block)
        return raw, f"<block {config_block}>", ConfigOrigin.BLOCK, approval
    assert config_path is not None
    try:
        raw = safe_load_bounded(Path(config_path).read_text(encoding="utf-8"), source=config_path)
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: no such config file", source=config_path) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: a sync config is a mapping", source=config_path)
    return raw, config_path, ConfigOrigin.WORKER_FILE, None


async def load_raw_config(
    config_path: str | None, config: dict[str, Any] | None, config_block: str | None
) -> tuple[dict[str, Any], str]:
    """The config as written (``${VAR}`` and ``secret://`` unexpanded) and where it came from.

    Raises:
        ConfigError: unless exactly one source is given and it holds a mapping.
    """
    raw, source, _, _ = await _load(config_path, config, config_block)
    return raw, source


async def load_run_config(
    config_path: str | None, config: dict[str, Any] | None, config_block: str | None
) -> RunConfig:
    """The run's config, validated (``${VAR}`` expanded into memory only), with its origin."""
    raw, source, origin, approval = await _load(config_path, config, config_block)
    return RunConfig(
        config=build_config(raw, source=source),
        raw=raw,
        origin=origin,
        source=source,
        block=config_block,
        approval=approval,
    )


async def load_sync_config(
    config_path: str | None, config: dict[str, Any] | None, config_block: str | None
) -> SyncConfig:
    """The validated config from whichever source was given (``${VAR}`` expanded)."""
    return (await load_run_config(config_path, config, config_block)).config


async def _block_config(name: str) -> tuple[dict[str, Any], str | None]:
    from blocks.sync_config import SyncConfig as SyncConfigBlock

    try:
        block: SyncConfigBlock = await SyncConfigBlock.aload(name)
    except ValueError as exc:
        raise ConfigError(
            f"no SyncConfig block named {name!r} ({exc}); save one in the UI or with "
            "`SyncConfig(config_yaml=...).save(name)`"
        ) from None
    return block.raw(), block.approval
