"""The guide's AuthManager API, with its PKCE and device-flow snippets run as written."""

from __future__ import annotations

import time

import httpx
import pytest

from apilink.compat import AuthManager, OAuth2DeviceFlow, OAuth2PKCE
from apilink.errors import ReauthorizationRequired, StateMismatch
from tests.fixtures.oauth_server import FakeClock, MemoryStore, OAuthServer, browser_login
from tests.servers.oauth.models import DEVICE_CLIENT, PUBLIC_CLIENT, REDIRECT_URI


def pkce_section(server: OAuthServer) -> dict[str, str]:
    return {
        "type": "oauth2_pkce",
        "client_id": PUBLIC_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "authorization_url": server.authorize_url,
        "token_url": server.token_url,
        "scope": "read write",
        "storage_key": "my_oauth_pkce_creds",
    }


def test_guide_pkce_snippet(
    oauth_server: OAuthServer, memory_store: MemoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    auth_manager = AuthManager(token_store=memory_store)
    # -- the guide, with apilink for apilinker --
    from apilink.compat.auth_manager import OAuth2PKCE

    pkce_config = auth_manager.configure_auth(pkce_section(oauth_server))
    auth_url = auth_manager.get_pkce_authorization_url(pkce_config)
    print(f"Visit this URL to authorize: {auth_url}")
    # (the person's browser, then the code from the redirect)
    code = httpx.URL(browser_login(auth_url)).params["code"]
    auth_config = auth_manager.complete_pkce_flow(pkce_config, code)
    first = auth_config.access_token
    auth_config = auth_manager.refresh_pkce_token(auth_config)
    # -- end of the guide --
    assert isinstance(auth_config, OAuth2PKCE)
    assert auth_config.access_token and auth_config.access_token != first
    assert memory_store.get("my_oauth_pkce_creds")["access_token"] == auth_config.access_token
    assert oauth_server.state.token_requests == {"authorization_code": 1, "refresh_token": 1}
    assert auth_config.access_token not in capsys.readouterr().out + repr(auth_config)


def test_guide_device_snippet(
    oauth_server: OAuthServer,
    memory_store: MemoryStore,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(time, "sleep", fake_clock.sleep)  # the snippet's time.sleep
    oauth_server.state.auto_approve_after_polls = 2
    auth_manager = AuthManager(token_store=memory_store, clock=fake_clock, sleep=fake_clock.sleep)
    # -- the guide, with apilink for apilinker --
    from apilink.compat.auth_manager import OAuth2DeviceFlow

    device_config = auth_manager.configure_auth(
        {
            "type": "oauth2_device_flow",
            "client_id": DEVICE_CLIENT,
            "device_authorization_url": oauth_server.device_url,
            "token_url": oauth_server.token_url,
            "storage_key": "my_device_flow_creds",
        }
    )
    device_config = auth_manager.start_device_flow(device_config)
    print(
        f"Please visit {device_config.verification_uri} and enter code: {device_config.user_code}"
    )
    import time as time_module

    while True:
        completed, updated_config = auth_manager.poll_device_flow(device_config)
        if completed:
            print("Authorization complete!")
            device_config = updated_config
            break
        time_module.sleep(device_config.interval)
    # -- end of the guide --
    out = capsys.readouterr().out
    assert "Authorization complete!" in out and "/device and enter code: " in out
    assert isinstance(device_config, OAuth2DeviceFlow)
    assert memory_store.get("my_device_flow_creds")["access_token"] == device_config.access_token
    assert oauth_server.state.token_requests["urn:ietf:params:oauth:grant-type:device_code"] == 3
    # first poll waited the interval; the snippet slept between polls: nothing faster than 5 s
    assert fake_clock.sleeps == [5, 5, 5]


def test_state_mismatch_sends_no_token_request(oauth_server: OAuthServer) -> None:
    manager = AuthManager()
    login = manager.configure_auth(pkce_section(oauth_server))
    assert isinstance(login, OAuth2PKCE)
    redirect = browser_login(manager.get_pkce_authorization_url(login))
    code = httpx.URL(redirect).params["code"]
    with pytest.raises(StateMismatch):
        manager.complete_pkce_flow(login, code, state="forged")
    forged = redirect.replace("state=", "state=x")
    with pytest.raises(StateMismatch):
        manager.complete_pkce_flow(login, forged)
    assert oauth_server.state.total_token_requests == 0


def test_redirect_url_with_state_completes(oauth_server: OAuthServer) -> None:
    manager = AuthManager()
    login = manager.configure_auth(pkce_section(oauth_server))
    assert isinstance(login, OAuth2PKCE)
    redirect = browser_login(manager.get_pkce_authorization_url(login))
    assert manager.complete_pkce_flow(login, redirect).access_token
    assert login.session is None  # the verifier is used once


def test_refresh_without_stored_token_asks_for_login(
    oauth_server: OAuthServer, memory_store: MemoryStore
) -> None:
    manager = AuthManager(token_store=memory_store)
    login = manager.configure_auth(pkce_section(oauth_server))
    with pytest.raises(ReauthorizationRequired, match="apilink auth login my_oauth_pkce_creds"):
        manager.refresh_pkce_token(login)  # type: ignore[arg-type]


def test_other_types_come_back_as_config_models() -> None:
    config = AuthManager().configure_auth({"type": "bearer", "token": "t"})
    assert not isinstance(config, OAuth2PKCE | OAuth2DeviceFlow)
    assert config.type == "bearer"
