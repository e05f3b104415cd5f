"""Where the credential file's master password comes from, in order of precedence."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import SecretStr

from apilink.config.models import SecurityConfig
from apilink.errors import CredentialError

__all__ = ["MASTER_PASSWORD_ENV", "resolve_master_password"]

MASTER_PASSWORD_ENV = "APILINK_MASTER_PASSWORD"


def resolve_master_password(
    explicit: str | SecretStr | None = None,
    security: SecurityConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> SecretStr:
    """The master password: ``explicit``, else ``security.master_password``, else the
    ``APILINK_MASTER_PASSWORD`` environment variable.

    Raises:
        CredentialError: none of the three holds a non-empty password.
    """
    env = os.environ if environ is None else environ
    candidates: list[str | SecretStr | None] = [
        explicit,
        security.master_password if security is not None else None,
        env.get(MASTER_PASSWORD_ENV),
    ]
    for candidate in candidates:
        value = candidate.get_secret_value() if isinstance(candidate, SecretStr) else candidate
        if value:
            return SecretStr(value)
    raise CredentialError(
        "no master password for the credential file: pass one, set "
        f"`security.master_password`, or set the {MASTER_PASSWORD_ENV} environment variable"
    )
