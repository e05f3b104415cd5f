"""``oauth_authorize``: PKCE or device-flow login for people who work in the Prefect UI.

Device flow: the verification URL and user code appear as a markdown artifact; the flow polls
until the person approves. PKCE: the authorization URL appears as a markdown artifact; the
flow pauses for the redirect URL (or the code) as flow-run input. Tokens go to the credential
store under the section's ``storage_key``; they never reach a log, an artifact or a result.

The credential store is either a saved credential block (``credentials_block``: an
``encrypted-file-credentials`` or ``vault-credentials`` block, the same the sync reads) or an
encrypted file opened with ``APILINK_MASTER_PASSWORD`` (``store_file``): exactly one of the two.
"""

from __future__ import annotations

import os
import time
from typing import Any, Literal
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.exceptions import FlowPauseTimeout, PrefectHTTPStatusError
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput, keyset_from_paused_state
from prefect.runtime import flow_run

from apilink.compat.auth_manager import AuthManager, OAuth2DeviceFlow, OAuth2PKCE
from apilink.config import BlockStoreConfig, SecurityConfig, load_config
from apilink.credentials import EncryptedFileStore, open_store
from apilink.credentials.base import CredentialStore
from apilink.credentials.master_password import MASTER_PASSWORD_ENV
from apilink.errors import AuthError, ConfigError, CredentialError
from blocks.credentials import load_store_config
from tasks.credentials import resolve_credentials

__all__ = ["AuthorizationCodeInput", "oauth_authorize", "open_token_store"]

_sleep = time.sleep  # tests replace these three
_clock = time.time
_pause_poll_seconds = 5
"""How often the paused flow asks Prefect whether it was resumed."""

_STORE_CHOICES = (
    "credentials_block (the name of a saved encrypted-file-credentials or vault-credentials "
    "block) or "
    f"store_file (an encrypted credential file opened with {MASTER_PASSWORD_ENV})"
)


class AuthorizationCodeInput(RunInput):
    """What the person pastes after authorizing: the redirect URL (preferred) or the code."""

    redirect_url: str


def open_token_store(
    store_file: str | None = None, credentials_block: str | None = None
) -> CredentialStore:
    """The credential store the tokens go to.

    Args:
        store_file: an encrypted credential file; the password is ``APILINK_MASTER_PASSWORD``.
        credentials_block: the name of a saved credential block, bare or as
            ``"encrypted-file-credentials/NAME"`` / ``"vault-credentials/NAME"``.

    Raises:
        ConfigError: neither or both of them were given.
        CredentialError: ``store_file`` without ``APILINK_MASTER_PASSWORD``, no such block, or
            a block of another type.
    """
    store_file = store_file or None  # the UI may send empty strings for unset parameters
    credentials_block = credentials_block or None
    if store_file is not None and credentials_block is not None:
        raise ConfigError(
            f"oauth_authorize got both credentials_block and store_file; give only one: "
            f"{_STORE_CHOICES}"
        )
    if credentials_block is not None:
        store = open_store(
            BlockStoreConfig(type="block", block=credentials_block),
            SecurityConfig(),
            load_block=load_store_config,
        )
        assert store is not None  # a block always names a store
        return store
    if store_file is None:
        raise ConfigError(f"oauth_authorize needs a credential store: give {_STORE_CHOICES}")
    if not os.environ.get(MASTER_PASSWORD_ENV):
        raise CredentialError(
            f"store_file needs the master password in {MASTER_PASSWORD_ENV} on the worker; "
            f"or give credentials_block instead"
        )
    return EncryptedFileStore(store_file)


@flow(name="oauth_authorize", persist_result=False, log_prints=False)
def oauth_authorize(
    auth: dict[str, Any] | None = None,
    store_file: str | None = None,
    timeout_seconds: int = 900,
    credentials_block: str | None = None,
    config_path: str | None = None,
    side: Literal["source", "target"] = "source",
) -> str:
    """Log in with an ``oauth2_pkce`` or ``oauth2_device_flow`` section; returns the storage key.

    Either name the sync (``config_path``, and ``side`` when the target is the OAuth side): its
    auth section is used and the tokens go to the sync's own credential store, where its runs
    read them. Or give the ``auth`` section and a store (``credentials_block`` or
    ``store_file``).

    Args:
        auth: the auth section, as in the sync config (must have a ``storage_key``).
        store_file: the encrypted credential file the tokens go to (its password is read
            from ``APILINK_MASTER_PASSWORD``); or give ``credentials_block`` instead.
        timeout_seconds: how long to wait for the person.
        credentials_block: the name of a saved credential block (encrypted file or Vault) the
            tokens go to; or give ``store_file`` instead.
        config_path: a sync config whose ``side`` logs in with PKCE or device flow.
        side: which side of ``config_path`` (``source`` or ``target``).
    """
    logger = get_run_logger()
    if (auth is None) == (config_path is None):
        raise ConfigError(
            "oauth_authorize needs exactly one of `config_path` (a sync config; its auth "
            "section and credential store are used) and `auth` (an auth section)"
        )
    if config_path is not None:
        auth, config_store = _from_sync_config(config_path, side)
        given = bool(store_file or credentials_block)
        token_store = open_token_store(store_file, credentials_block) if given else config_store
    else:
        assert auth is not None
        token_store = open_token_store(store_file, credentials_block)
    manager = AuthManager(token_store=token_store, clock=_clock, sleep=_sleep)
    login = manager.configure_auth(auth)
    if not isinstance(login, OAuth2PKCE | OAuth2DeviceFlow) or not login.config.storage_key:
        raise ValueError(
            "oauth_authorize needs an oauth2_pkce or oauth2_device_flow section with a storage_key"
        )
    key = login.config.storage_key
    if isinstance(login, OAuth2DeviceFlow):
        manager.start_device_flow(login)
        create_markdown_artifact(
            key="oauth-device-code",
            markdown=(
                f"## Authorize `{key}`\n\nVisit **{login.verification_uri}** and enter the code "
                f"**`{login.user_code}`**.\n\nThis code expires; the flow waits for you."
            ),
            description="Device flow: where to go and what to type",
        )
        logger.info("Waiting for the device code to be approved at %s", login.verification_uri)
        manager.wait_for_device_flow(login)
    else:
        url = manager.get_pkce_authorization_url(login)
        create_markdown_artifact(
            key="oauth-authorization-url",
            markdown=(
                f"## Authorize `{key}`\n\n[Open the authorization page]({url})\n\n"
                "Then resume this flow run with the URL your browser was redirected to."
            ),
            description="PKCE: the authorization URL",
        )
        logger.info(
            "Open the authorization page of the 'oauth-authorization-url' artifact, then resume "
            "this run with the redirect URL (within %d seconds)",
            timeout_seconds,
        )
        try:
            answer = pause_flow_run(
                wait_for_input=AuthorizationCodeInput,
                timeout=timeout_seconds,
                poll_interval=_pause_poll_seconds,
            )
        except FlowPauseTimeout:
            raise AuthError(
                f"the run was not resumed with the redirect URL within {timeout_seconds} "
                "seconds; no token was requested. Run oauth_authorize again for a new "
                "authorization URL"
            ) from None
        try:
            manager.complete_pkce_flow(login, answer.redirect_url.strip())
        finally:
            _forget_pasted_input()
    logger.info("Tokens stored under '%s'", key)
    return key


def _forget_pasted_input() -> None:
    """Delete the pasted redirect URL (it holds the authorization code) from the run's input.

    The code is single-use and worthless without the verifier, which never left this process;
    still, nothing of a login should stay in Prefect's database. Best effort: a failure is
    logged (without the value) and the login stands.
    """
    run_id = flow_run.get_id()
    if run_id is None:
        return
    try:
        with get_client(sync_client=True) as client:
            for state in client.read_flow_run_states(UUID(run_id)):
                if state.is_paused():
                    key = keyset_from_paused_state(state)["response"]
                    try:
                        client.delete_flow_run_input(UUID(run_id), key)
                    except PrefectHTTPStatusError as exc:
                        if exc.response.status_code != 404:  # 404: nothing was pasted there
                            raise
    except Exception as exc:  # pragma: no cover - the server went away after the login
        get_run_logger().warning(
            "could not delete the pasted redirect URL from the run input (%s)", type(exc).__name__
        )


def _from_sync_config(path: str, side: str) -> tuple[dict[str, Any], CredentialStore]:
    """The auth section of one side of a sync, and the sync's credential store."""
    config = load_config(path)
    written = getattr(config, side).auth
    if written is None or written.type not in _LOGIN_TYPES:
        raise ConfigError(
            f"{path}: the {side} does not log in with {' or '.join(_LOGIN_TYPES)}; "
            "nothing to authorize"
        )
    credentials = resolve_credentials(config)
    connection = getattr(credentials.config, side)
    if credentials.store is None:
        raise ConfigError(
            f"{path} names no credential store for the tokens; add a `credentials:` section, "
            f"or give {_STORE_CHOICES}"
        )
    section: dict[str, Any] = connection.auth.model_dump()
    return section, credentials.store


_LOGIN_TYPES = ("oauth2_pkce", "oauth2_device_flow")
