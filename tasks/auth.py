"""Build the auth of each side of a sync, fetching an OAuth token up front so a bad credential
fails the run before any record moves."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from apilink.auth import OAuth2TokenAuth, build_auth
from apilink.auth.oauth import run_token_flow
from apilink.auth.token import OAuthToken
from apilink.config.models import ConnectionConfig, TimeoutConfig
from apilink.credentials import CredentialStore
from apilink.http.clients import send_token_request, token_client_for

__all__ = ["acquire_token"]


@task(
    name="acquire_token",
    task_run_name="acquire_token {side}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def acquire_token(
    connection: ConnectionConfig,
    side: str,
    token_store: CredentialStore | None = None,
    on_token: Callable[[OAuthToken], None] | None = None,
    timeout: TimeoutConfig | None = None,
) -> httpx.Auth | None:
    """The ``httpx.Auth`` for one side of the sync (``None`` when it needs none).

    OAuth tokens are fetched (or read from ``token_store`` and refreshed when due) here, once;
    later requests reuse them and refresh them when they expire. ``on_token`` hears of every
    token before it is used (the run's redactor, so no token value reaches a log).

    The token endpoint is asked through :func:`apilink.http.clients.token_client_for`: https (or
    loopback) only, its own origin only, no redirect followed, the answer capped at the
    connection's ``max_response_bytes`` after decompression and bounded by ``timeout`` (the
    connection's phases and deadline).
    """
    auth = build_auth(connection.auth, token_store=token_store)
    kind = connection.auth.type if connection.auth is not None else "none"
    if isinstance(auth, OAuth2TokenAuth):
        if on_token is not None:
            auth.token_listeners.append(on_token)
        with token_client_for(connection, timeout, side=side) as client:
            run_token_flow(auth.acquire(), lambda request: send_token_request(client, request))
        get_run_logger().info("%s auth ready (%s): token acquired", side, kind)
    else:
        get_run_logger().info("%s auth ready (%s)", side, kind)
    return auth
