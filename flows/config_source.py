"""Where a flow's sync config comes from: a file, a mapping parameter, or a ``SyncConfig``
block saved in Prefect (so a config edited in the UI runs as it was saved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from apilink.config import SyncConfig, build_config
from apilink.errors import ConfigError

__all__ = ["load_raw_config", "load_sync_config"]


async def load_raw_config(
    config_path: str | None, config: dict[str, Any] | None, config_block: str | None
) -> tuple[dict[str, Any], str]:
    """The config as written (``${VAR}`` and ``secret://`` unexpanded) and where it came from.

    Raises:
        ConfigError: unless exactly one source is given and it holds a mapping.
    """
    given = [s for s in (config_path, config, config_block) if s is not None]
    if len(given) != 1:
        raise ConfigError(
            "give exactly one of `config_path` (a YAML file), `config` (a mapping) and "
            f"`config_block` (a saved SyncConfig block); got {len(given)}"
        )
    if config is not None:
        return dict(config), "<flow parameter `config`>"
    if config_block is not None:
        return await _block_config(config_block), f"<block {config_block}>"
    assert config_path is not None
    try:
        raw = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: no such config file", source=config_path) from None
    except yaml.YAMLError:
        raise ConfigError(f"{config_path}: not valid YAML", source=config_path) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: a sync config is a mapping", source=config_path)
    return raw, config_path


async def load_sync_config(
    config_path: str | None, config: dict[str, Any] | None, config_block: str | None
) -> SyncConfig:
    """The validated config from whichever source was given (``${VAR}`` expanded)."""
    raw, source = await load_raw_config(config_path, config, config_block)
    return build_config(raw, source=source)


async def _block_config(name: str) -> dict[str, Any]:
    from blocks.sync_config import SyncConfig as SyncConfigBlock

    try:
        block: SyncConfigBlock = await SyncConfigBlock.aload(name)
    except ValueError as exc:
        raise ConfigError(
            f"no SyncConfig block named {name!r} ({exc}); save one in the UI or with "
            "`SyncConfig(config_yaml=...).save(name)`"
        ) from None
    return block.raw()
