"""OAuth strategies against the real test authorization server (tests/servers/oauth)."""

from __future__ import annotations

import asyncio
import logging
import threading

import httpx
import pytest

from apilink.auth import ClientCredentialsAuth, StoredTokenAuth, build_auth
from apilink.auth.token import OAuthToken
from apilink.compat.auth_manager import AuthManager
from apilink.config.auth import (
    OAuth2ClientCredentialsConfig,
    OAuth2DeviceFlowConfig,
    OAuth2PKCEConfig,
)
from apilink.errors import AuthError, ReauthorizationRequired
from tests.fixtures.oauth_server import FakeClock, MemoryStore, OAuthServer, browser_login
from tests.servers.oauth.models import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    DEVICE_CLIENT,
    PUBLIC_CLIENT,
    REDIRECT_URI,
)


def cc_config(server: OAuthServer, **extra: object) -> OAuth2ClientCredentialsConfig:
    return OAuth2ClientCredentialsConfig.model_validate(
        {
            "type": "oauth2_client_credentials",
            "client_id": CONFIDENTIAL_CLIENT,
            "client_secret": CONFIDENTIAL_SECRET,
            "token_url": server.token_url,
            **extra,
        }
    )


def pkce_config(server: OAuthServer, **extra: object) -> OAuth2PKCEConfig:
    return OAuth2PKCEConfig.model_validate(
        {
            "type": "oauth2_pkce",
            "client_id": PUBLIC_CLIENT,
            "redirect_uri": REDIRECT_URI,
            "authorization_url": server.authorize_url,
            "token_url": server.token_url,
            "scope": "read",
            "storage_key": "pkce_creds",
            **extra,
        }
    )


def pkce_login(server: OAuthServer, store: MemoryStore, clock: FakeClock) -> OAuth2PKCEConfig:
    manager = AuthManager(token_store=store, clock=clock, sleep=clock.sleep)
    login = manager.configure_auth(
        pkce_config(server).model_dump(by_alias=True) | {"client_secret": None}
    )
    redirect = browser_login(manager.get_pkce_authorization_url(login))  # type: ignore[arg-type]
    manager.complete_pkce_flow(login, redirect)  # type: ignore[arg-type]
    return pkce_config(server)


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_client_credentials_sends_secret_scope_audience_and_extras(
    oauth_server: OAuthServer, fake_clock: FakeClock, method: str
) -> None:
    config = cc_config(
        oauth_server,
        scope="read write",
        audience="https://api.example",
        extra_token_params={"resource": "items"},
        token_endpoint_auth_method=method,
    )
    auth = build_auth(config, clock=fake_clock)
    assert isinstance(auth, ClientCredentialsAuth)
    with httpx.Client(auth=auth) as client:
        for _ in range(5):
            assert client.get(oauth_server.resource_url).status_code == 200
    assert oauth_server.state.token_requests == {"client_credentials": 1}
    form = oauth_server.state.token_forms[0]
    assert form["scope"] == "read write"
    assert form["audience"] == "https://api.example"
    assert form["resource"] == "items"
    assert ("client_secret" in form) == (method == "client_secret_post")


def test_wrong_client_secret_is_an_auth_error_without_the_secret(
    oauth_server: OAuthServer,
) -> None:
    canary = "wrong-secret-CANARY-51aa"
    config = cc_config(oauth_server, client_secret=canary)
    with (
        httpx.Client(auth=build_auth(config)) as client,
        pytest.raises(AuthError) as caught,
    ):
        client.get(oauth_server.resource_url)
    assert "invalid_client" in str(caught.value)
    assert canary not in str(caught.value)


def test_token_expiring_mid_stream_is_refreshed_exactly_once(
    oauth_server: OAuthServer, fake_clock: FakeClock
) -> None:
    oauth_server.state.access_token_lifetime = 120
    auth = build_auth(cc_config(oauth_server, refresh_leeway=30), clock=fake_clock)
    with httpx.Client(auth=auth) as client:
        for _ in range(10):
            assert client.get(oauth_server.resource_url).status_code == 200
        fake_clock.advance(95)  # inside the 30 s leeway of a 120 s token
        for _ in range(10):
            assert client.get(oauth_server.resource_url).status_code == 200
    assert oauth_server.state.token_requests == {"client_credentials": 2}


def test_ten_concurrent_async_callers_cause_one_token_request(
    oauth_server: OAuthServer, fake_clock: FakeClock
) -> None:
    oauth_server.state.access_token_lifetime = 60
    auth = build_auth(cc_config(oauth_server), clock=fake_clock)

    async def run() -> list[int]:
        async with httpx.AsyncClient(auth=auth) as client:
            first = await asyncio.gather(
                *(client.get(oauth_server.resource_url) for _ in range(10))
            )
            fake_clock.advance(3600)
            second = await asyncio.gather(
                *(client.get(oauth_server.resource_url) for _ in range(10))
            )
        return [r.status_code for r in [*first, *second]]

    assert asyncio.run(run()) == [200] * 20
    assert oauth_server.state.token_requests == {"client_credentials": 2}


def test_ten_threads_share_one_refresh(oauth_server: OAuthServer, fake_clock: FakeClock) -> None:
    auth = build_auth(cc_config(oauth_server), clock=fake_clock)
    codes: list[int] = []
    barrier = threading.Barrier(10)
    with httpx.Client(auth=auth) as client:

        def call() -> None:
            barrier.wait()
            codes.append(client.get(oauth_server.resource_url).status_code)

        threads = [threading.Thread(target=call) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert codes == [200] * 10
    assert oauth_server.state.token_requests == {"client_credentials": 1}


def test_401_renews_once_and_retries(oauth_server: OAuthServer, fake_clock: FakeClock) -> None:
    auth = build_auth(cc_config(oauth_server), clock=fake_clock)
    with httpx.Client(auth=auth) as client:
        assert client.get(oauth_server.resource_url).status_code == 200
        oauth_server.state.revoke_access_tokens()
        assert client.get(oauth_server.resource_url).status_code == 200
    assert oauth_server.state.token_requests == {"client_credentials": 2}
    assert oauth_server.state.resource_requests == 3


@pytest.mark.parametrize("use_async", [False, True])
def test_second_401_is_an_auth_error_not_a_loop(
    oauth_server: OAuthServer, fake_clock: FakeClock, use_async: bool
) -> None:
    oauth_server.state.reject_resource = True
    auth = build_auth(cc_config(oauth_server), clock=fake_clock)
    with pytest.raises(AuthError, match="401 again"):
        if use_async:

            async def run() -> None:
                async with httpx.AsyncClient(auth=auth) as client:
                    await client.get(oauth_server.resource_url)

            asyncio.run(run())
        else:
            with httpx.Client(auth=auth) as client:
                client.get(oauth_server.resource_url)
    assert oauth_server.state.token_requests == {"client_credentials": 2}
    assert oauth_server.state.resource_requests == 2


@pytest.mark.parametrize("section", ["pkce", "device"])
def test_stored_token_missing_names_the_login_command(
    oauth_server: OAuthServer, memory_store: MemoryStore, section: str
) -> None:
    config: OAuth2PKCEConfig | OAuth2DeviceFlowConfig
    if section == "pkce":
        config = pkce_config(oauth_server)
    else:
        config = OAuth2DeviceFlowConfig(
            type="oauth2_device_flow",
            client_id=DEVICE_CLIENT,
            token_url=oauth_server.token_url,
            device_authorization_url=oauth_server.device_url,
            storage_key="dev_creds",
        )
    auth = build_auth(config, token_store=memory_store)
    assert isinstance(auth, StoredTokenAuth)
    with httpx.Client(auth=auth) as client, pytest.raises(ReauthorizationRequired) as caught:
        client.get(oauth_server.resource_url)
    assert f"apilink auth login {config.storage_key}" in str(caught.value)
    assert oauth_server.state.resource_requests == 0


def test_pkce_token_from_store_refreshes_and_rotation_is_saved(
    oauth_server: OAuthServer, fake_clock: FakeClock, memory_store: MemoryStore
) -> None:
    oauth_server.state.access_token_lifetime = 300
    config = pkce_login(oauth_server, memory_store, fake_clock)
    first = memory_store.get("pkce_creds")
    auth = build_auth(config, token_store=memory_store, clock=fake_clock)
    with httpx.Client(auth=auth) as client:
        assert client.get(oauth_server.resource_url).status_code == 200
        fake_clock.advance(290)
        assert client.get(oauth_server.resource_url).status_code == 200
        assert client.get(oauth_server.resource_url).status_code == 200
    rotated = memory_store.get("pkce_creds")
    assert oauth_server.state.token_requests == {"authorization_code": 1, "refresh_token": 1}
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    # the old refresh token is dead at the server: rotation really happened
    assert oauth_server.state.find_refresh(first["refresh_token"]).refresh_revoked  # type: ignore[union-attr]


def test_refused_refresh_asks_for_login_and_leaves_the_store_alone(
    oauth_server: OAuthServer, fake_clock: FakeClock, memory_store: MemoryStore
) -> None:
    config = pkce_login(oauth_server, memory_store, fake_clock)
    entry = memory_store.get("pkce_creds")
    oauth_server.state.find_refresh(entry["refresh_token"]).refresh_revoked = True  # type: ignore[union-attr]
    fake_clock.advance(7200)
    auth = build_auth(config, token_store=memory_store, clock=fake_clock, sleep=fake_clock.sleep)
    with httpx.Client(auth=auth) as client, pytest.raises(ReauthorizationRequired) as caught:
        client.get(oauth_server.resource_url)
    assert "apilink auth login pkce_creds" in str(caught.value)
    assert entry["refresh_token"] not in str(caught.value)
    # It waited for another process to store a rotated token, then gave up; the entry is
    # not deleted, since a process may have written a good token there just then.
    assert sum(fake_clock.sleeps) == pytest.approx(10.0)
    assert memory_store.get("pkce_creds") == entry


def test_no_secret_in_repr_errors_or_logs(
    oauth_server: OAuthServer,
    fake_clock: FakeClock,
    memory_store: MemoryStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = pkce_login(oauth_server, memory_store, fake_clock)
    auth = build_auth(config, token_store=memory_store, clock=fake_clock)
    with httpx.Client(auth=auth) as client:
        client.get(oauth_server.resource_url)
    entry = memory_store.get("pkce_creds")
    cc = build_auth(cc_config(oauth_server), clock=fake_clock)
    with httpx.Client(auth=cc) as client:
        client.get(oauth_server.resource_url)
    token = OAuthToken.from_entry(entry)
    # Client side only: the test server's authlib logs are not ours.
    client_logs = [r.getMessage() for r in caplog.records if not r.name.startswith("authlib")]
    shown = " ".join([repr(auth), repr(cc), repr(token), str(token), repr(config), *client_logs])
    assert "HTTP Request" in " ".join(client_logs)  # the client side did log
    for secret in (entry["access_token"], entry["refresh_token"], CONFIDENTIAL_SECRET):
        assert secret not in shown
    for form in oauth_server.state.token_forms:
        if "code_verifier" in form:
            assert form["code_verifier"] not in shown
