"""Device flow (RFC 8628) against the real server, with a fake clock: every response."""

from __future__ import annotations

import httpx
import pytest

from apilink.auth.device import parse_device_authorization
from apilink.compat.auth_manager import AuthManager, OAuth2DeviceFlow
from apilink.errors import DeviceFlowDenied, DeviceFlowExpired
from tests.fixtures.oauth_server import FakeClock, MemoryStore, OAuthServer
from tests.servers.oauth.models import DEVICE_CLIENT


def start(
    server: OAuthServer, clock: FakeClock, store: MemoryStore | None = None
) -> tuple[AuthManager, OAuth2DeviceFlow]:
    manager = AuthManager(token_store=store, clock=clock, sleep=clock.sleep)
    device = manager.configure_auth(
        {
            "type": "oauth2_device_flow",
            "client_id": DEVICE_CLIENT,
            "device_authorization_url": server.device_url,
            "token_url": server.token_url,
            "scope": "read",
            "storage_key": "device_creds",
        }
    )
    assert isinstance(device, OAuth2DeviceFlow)
    return manager, manager.start_device_flow(device)


def polls(server: OAuthServer) -> int:
    return server.state.token_requests["urn:ietf:params:oauth:grant-type:device_code"]


def test_pending_then_approved_honours_interval(
    oauth_server: OAuthServer, fake_clock: FakeClock, memory_store: MemoryStore
) -> None:
    manager, device = start(oauth_server, fake_clock, memory_store)
    assert device.interval == 5 and device.user_code and device.verification_uri
    assert manager.poll_device_flow(device) == (False, device)
    assert manager.poll_device_flow(device) == (False, device)
    oauth_server.state.approve(device.user_code)  # type: ignore[arg-type]
    completed, device = manager.poll_device_flow(device)
    assert completed and device.access_token
    assert fake_clock.sleeps == [5, 5, 5]
    assert polls(oauth_server) == 3
    assert memory_store.get("device_creds")["access_token"] == device.access_token


def test_slow_down_adds_five_seconds_each_time(
    oauth_server: OAuthServer, fake_clock: FakeClock
) -> None:
    manager, device = start(oauth_server, fake_clock)
    oauth_server.state.slow_down_polls = 2
    assert manager.poll_device_flow(device)[0] is False
    assert device.interval == 10
    assert manager.poll_device_flow(device)[0] is False
    assert device.interval == 15
    oauth_server.state.auto_approve_after_polls = 0
    assert manager.poll_device_flow(device)[0] is True
    assert fake_clock.sleeps == [5, 10, 15]


def test_wait_for_device_flow_polls_until_approved(
    oauth_server: OAuthServer, fake_clock: FakeClock
) -> None:
    oauth_server.state.auto_approve_after_polls = 3
    manager, device = start(oauth_server, fake_clock)
    assert manager.wait_for_device_flow(device).access_token
    assert polls(oauth_server) == 4


def test_access_denied(oauth_server: OAuthServer, fake_clock: FakeClock) -> None:
    manager, device = start(oauth_server, fake_clock)
    with httpx.Client() as browser:  # the person refuses on the device page
        browser.get(
            device.verification_uri,
            params={
                "user_code": device.user_code,  # type: ignore[arg-type]
                "decision": "deny",
            },
        )
    with pytest.raises(DeviceFlowDenied):
        manager.poll_device_flow(device)


def test_expired_token_from_the_server(oauth_server: OAuthServer, fake_clock: FakeClock) -> None:
    manager, device = start(oauth_server, fake_clock)
    oauth_server.state.expire_device_codes()
    with pytest.raises(DeviceFlowExpired):
        manager.poll_device_flow(device)
    assert polls(oauth_server) == 1


def test_client_stops_at_expires_in_without_polling(
    oauth_server: OAuthServer, fake_clock: FakeClock
) -> None:
    oauth_server.state.device_expires_in = 12
    manager, device = start(oauth_server, fake_clock)
    assert manager.poll_device_flow(device)[0] is False  # t=5
    assert manager.poll_device_flow(device)[0] is False  # t=10
    with pytest.raises(DeviceFlowExpired):
        manager.poll_device_flow(device)  # t=15 > 12: no request sent
    assert polls(oauth_server) == 2


def test_interval_defaults_to_five_when_absent() -> None:
    request = httpx.Request("POST", "https://auth.example/device")
    response = httpx.Response(
        200,
        json={
            "device_code": "d",
            "user_code": "U",
            "verification_uri": "https://v",
            "expires_in": 60,
        },
        request=request,
    )
    pending = parse_device_authorization(response, now=100)
    assert (pending.interval, pending.next_poll_at, pending.expires_at) == (5, 105, 160)
    assert "'d'" not in repr(pending)
