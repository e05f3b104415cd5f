"""``oauth_authorize``: PKCE or device-flow login for people who work in the Prefect UI.

Device flow: the verification URL and user code appear as a markdown artifact; the flow polls
until the person approves. PKCE: the authorization URL appears as a markdown artifact; the
flow pauses for the redirect URL (or the code) as flow-run input. Tokens go to the credential
store under the section's ``storage_key``; they never reach a log, an artifact or a result.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput

from apilink.core.auth import AuthManager, OAuth2DeviceFlow, OAuth2PKCE
from apilink.credentials.base import CredentialStore

__all__ = ["AuthorizationCodeInput", "oauth_authorize", "open_token_store"]

_sleep = time.sleep  # tests replace both
_clock = time.time


class AuthorizationCodeInput(RunInput):
    """What the person pastes after authorizing: the redirect URL (preferred) or the code."""

    redirect_url: str


def open_token_store(store_file: str | None) -> CredentialStore:
    """The encrypted credential file (password from ``APILINK_MASTER_PASSWORD``)."""
    from apilink import credentials

    store_class = getattr(credentials, "EncryptedFileStore", None)
    password = os.environ.get("APILINK_MASTER_PASSWORD")
    if store_class is None or not store_file or not password:
        raise ValueError(
            "oauth_authorize needs store_file, APILINK_MASTER_PASSWORD and EncryptedFileStore"
        )
    store: CredentialStore = store_class(store_file, password)
    return store


@flow(name="oauth_authorize", persist_result=False, log_prints=False)
def oauth_authorize(
    auth: dict[str, Any], store_file: str | None = None, timeout_seconds: int = 900
) -> str:
    """Log in with an ``oauth2_pkce`` or ``oauth2_device_flow`` section; returns the storage key.

    Args:
        auth: the auth section, as in the sync config (must have a ``storage_key``).
        store_file: the encrypted credential file the tokens go to.
        timeout_seconds: how long to wait for the person.
    """
    logger = get_run_logger()
    manager = AuthManager(token_store=open_token_store(store_file), clock=_clock, sleep=_sleep)
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
        answer = pause_flow_run(wait_for_input=AuthorizationCodeInput, timeout=timeout_seconds)
        manager.complete_pkce_flow(login, answer.redirect_url)
    logger.info("Tokens stored under '%s'", key)
    return key
