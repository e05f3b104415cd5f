"""The worker's access policy: whether access control is on and where users come from.

Trusted: the worker's operator, through the worker's environment (or Prefect profile):

* ``APILINK_ACCESS_CONTROL=on|off``: ``on`` checks every run; ``off`` leaves it to a config file
  on the worker's disk (the guide's ``security:`` section) and lets caller configs run unchecked;
  unset, a config file on the worker's disk decides and every config a caller supplies is checked
  (fail closed).
* ``APILINK_ACCESS_CONTROL_BLOCK``: the name of a saved AccessControl block holding the users, or
  ``APILINK_USERS_FILE``: a users file on the worker. Without either, only a config file on the
  worker's disk can name users.

Not trusted: run callers and anyone with Prefect API access. What they supply (a ``config``
mapping parameter, a SyncConfig block) may neither switch access control off nor declare users
or a users file: :func:`refuse_caller_security` refuses it, naming why and what is valid.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from apilink.config.models import SecurityConfig
from apilink.errors import ConfigError, PolicyRefused

__all__ = [
    "ACCESS_CONTROL_BLOCK_ENV",
    "ACCESS_CONTROL_ENV",
    "USERS_FILE_ENV",
    "ConfigOrigin",
    "WorkerPolicy",
    "refuse_caller_security",
]

ACCESS_CONTROL_ENV = "APILINK_ACCESS_CONTROL"
USERS_FILE_ENV = "APILINK_USERS_FILE"
ACCESS_CONTROL_BLOCK_ENV = "APILINK_ACCESS_CONTROL_BLOCK"
_ON = {"on", "true", "1", "yes"}
_OFF = {"off", "false", "0", "no"}


class ConfigOrigin(StrEnum):
    """Where a run's config came from, which decides how far it is trusted."""

    WORKER_FILE = "config file on the worker"
    PARAMETER = "`config` flow parameter"
    BLOCK = "SyncConfig block"

    @property
    def trusted(self) -> bool:
        """Only a file on the worker's disk is the operator's own."""
        return self is ConfigOrigin.WORKER_FILE


@dataclass(frozen=True)
class WorkerPolicy:
    """The operator's choices, read from the worker's environment."""

    access_control: bool | None = None
    users_file: str | None = None
    block: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerPolicy:
        """The policy of this worker.

        Raises:
            ConfigError: ``APILINK_ACCESS_CONTROL`` set to something other than on/off.
        """
        env = os.environ if env is None else env
        value = env.get(ACCESS_CONTROL_ENV, "").strip().lower()
        if value and value not in _ON | _OFF:
            raise ConfigError(
                f"{ACCESS_CONTROL_ENV}={value!r} is not valid; use `on` or `off`",
                source="worker environment",
            )
        return cls(
            access_control=(value in _ON) if value else None,
            users_file=env.get(USERS_FILE_ENV) or None,
            block=env.get(ACCESS_CONTROL_BLOCK_ENV) or None,
        )

    def enabled_for(self, security: SecurityConfig, origin: ConfigOrigin) -> bool:
        """Whether a run of a config from ``origin`` is checked."""
        if self.access_control:
            return True
        if origin.trusted:
            return security.enable_access_control
        return self.access_control is None

    def security_for(self, security: SecurityConfig, origin: ConfigOrigin) -> SecurityConfig:
        """The ``security`` section the engine is built from: the operator's users source wins;
        a caller's config contributes nothing."""
        enabled = self.enabled_for(security, origin)
        if self.users_file:
            return SecurityConfig(enable_access_control=enabled, users_file=self.users_file)
        if origin.trusted:
            return security.model_copy(update={"enable_access_control": enabled})
        return SecurityConfig(enable_access_control=enabled)

    def has_users_source(self, origin: ConfigOrigin, security: SecurityConfig) -> bool:
        """Whether any users can be known for a run of this origin."""
        if self.block or self.users_file:
            return True
        return origin.trusted and bool(security.users or security.users_file)


def refuse_caller_security(
    raw: Mapping[str, Any], origin: ConfigOrigin, source: str, *, enabled: bool
) -> None:
    """Refuse a caller's config whose ``security:`` tries to change the worker's policy.

    Raises:
        PolicyRefused: naming the keys at fault and what a caller's config may hold.
    """
    if origin.trusted:
        return
    section = raw.get("security")
    if not isinstance(section, Mapping):
        return
    problems = []
    if section.get("users"):
        problems.append("`security.users` declares users")
    if section.get("users_file"):
        problems.append("`security.users_file` names a users file")
    if enabled and section.get("enable_access_control") is False:
        problems.append("`security.enable_access_control: false` switches access control off")
    if problems:
        raise PolicyRefused(
            f"{source}: refused: {'; '.join(problems)}. A {origin.value} cannot change the "
            "worker's access policy: only the worker's operator sets it "
            f"({ACCESS_CONTROL_ENV}, {USERS_FILE_ENV} or {ACCESS_CONTROL_BLOCK_ENV}). Drop these "
            "keys, or put the config in a file on the worker and pass `config_path`.",
            permission="access_policy",
        )
