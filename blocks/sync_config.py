"""``SyncConfig``: a sync config kept on the Prefect server, created and edited in the UI.

A deployment points at it by name (``config_block: orders-nightly``) instead of a file that must
exist on every worker. The block holds the config *as written*: ``${VAR}`` and ``secret://``
references stay references and are resolved on the worker that runs the sync, so the block never
holds a secret value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, model_validator

from apilink.config import SyncConfig as EngineSyncConfig
from apilink.config import build_config
from apilink.config.bounds import safe_load_bounded
from apilink.errors import ConfigError
from apilink.rbac import AccessControl
from apilink.rbac.approval import approve_config
from apilink.rbac.worker_key import require_worker_key

__all__ = ["EDIT_PERMISSION", "SyncConfig"]

_DOCS = "https://github.com/apilink/apilink/blob/main/README.md#5-keep-configs-in-the-ui"

EDIT_PERMISSION = "edit_config"


class SyncConfig(Block):
    """An apilink sync config (YAML text or a mapping), validated when it is used.

    Create one in the UI (Blocks -> apilink Sync Config) or in Python::

        SyncConfig(config_yaml=Path("orders.yaml").read_text()).save("orders", overwrite=True)

    and run ``api_sync`` / ``partitioned_sync`` with ``config_block="orders"``. Saving from
    Python or the CLI through :meth:`save_checked` requires the ``edit_config`` permission and
    seals the config with the worker key (``approval``): a run then needs only ``run_sync``. A
    block saved or edited any other way (the UI, the Prefect API) is the caller's own authoring:
    unsealed, its run needs ``edit_config`` and ``run_sync``; sealed but changed since, it is
    refused ("edited outside apilink: re-approve it").
    """

    _block_type_name = "apilink Sync Config"
    _block_type_slug = "apilink-sync-config"
    _documentation_url = _DOCS  # type: ignore[assignment]
    _description = (
        "An apilink sync config (source, target, mapping, validation), editable in the UI. "
        "Secrets stay ${VAR} or secret:// references, resolved on the worker."
    )

    config_yaml: str | None = Field(
        default=None,
        title="Config (YAML)",
        description="The sync config as YAML, exactly as in a deployments/*.yaml file. Use "
        "${VAR} or secret://name#field for every secret; never paste a secret value here.",
        json_schema_extra={"format": "textarea"},
    )
    config: dict[str, Any] | None = Field(
        default=None,
        title="Config (JSON)",
        description="The same config as a JSON object, instead of YAML. Set exactly one of the "
        "two.",
    )

    approval: str | None = Field(
        default=None,
        title="Approval (set by apilink)",
        description="Set by apilink when someone with edit_config saves the block; editing the "
        "config anywhere else invalidates it.",
    )

    @model_validator(mode="after")
    def _one_shape(self) -> SyncConfig:
        if (self.config_yaml is None) == (self.config is None):
            raise ValueError("set exactly one of `config_yaml` and `config`")
        try:
            self.raw()  # a mapping, or a clear error now rather than at run time
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    def raw(self) -> dict[str, Any]:
        """The config as written (references unexpanded), as a mapping.

        Raises:
            ConfigError: when the YAML does not parse into a mapping.
        """
        if self.config is not None:
            return dict(self.config)
        data = safe_load_bounded(self.config_yaml or "", source=self._source())
        if not isinstance(data, dict):
            raise ConfigError(f"{self._source()}: a sync config is a mapping of keys")
        return data

    def sync_config(self, env: Mapping[str, str] | None = None) -> EngineSyncConfig:
        """The validated engine config, ``${VAR}`` expanded from ``env`` (default: os.environ).

        Raises:
            ConfigError: naming the key paths at fault (never a value).
        """
        return build_config(self.raw(), source=self._source(), env=env)

    def save_checked(
        self,
        name: str,
        *,
        access: AccessControl,
        api_key: SecretStr | str | None,
        overwrite: bool = True,
    ) -> None:
        """Save as ``name`` if ``api_key`` holds ``edit_config``, sealed with the worker key.

        Raises:
            AccessDenied: without the permission; nothing is saved.
            ProofRejected: this machine has no worker key (``APILINK_WORKER_KEY``).
        """
        user = access.authorize(api_key, EDIT_PERMISSION)
        key = require_worker_key("approving a SyncConfig block")
        self.approval = approve_config(key, self.raw(), user.username)
        self.save(name, overwrite=overwrite)

    def _source(self) -> str:
        name = getattr(self, "_block_document_name", None)
        return f"<block {name}>" if name else "<block apilink-sync-config>"
