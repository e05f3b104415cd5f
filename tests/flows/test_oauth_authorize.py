"""The oauth_authorize flow, device-flow branch, against the real OAuth server and Prefect."""

from __future__ import annotations

import pytest
from prefect.artifacts import Artifact

import flows.oauth_authorize as module
from tests.fixtures.oauth_server import FakeClock, MemoryStore, OAuthServer
from tests.servers.oauth.models import DEVICE_CLIENT


@pytest.mark.e2e
def test_device_branch_shows_code_polls_and_stores_tokens(
    prefect_harness: str,
    oauth_server: OAuthServer,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    monkeypatch.setattr(module, "open_token_store", lambda store_file: store)
    monkeypatch.setattr(module, "_sleep", fake_clock.sleep)
    monkeypatch.setattr(module, "_clock", fake_clock)
    oauth_server.state.auto_approve_after_polls = 2
    key = module.oauth_authorize(
        {
            "type": "oauth2_device_flow",
            "client_id": DEVICE_CLIENT,
            "device_authorization_url": oauth_server.device_url,
            "token_url": oauth_server.token_url,
            "storage_key": "ui_device_creds",
        }
    )
    assert key == "ui_device_creds"
    entry = store.get("ui_device_creds")
    assert oauth_server.state.token_requests["urn:ietf:params:oauth:grant-type:device_code"] == 3
    artifact = Artifact.get("oauth-device-code")
    assert artifact is not None
    device = next(iter(oauth_server.state.devices.values()))
    markdown = str(artifact.data)
    assert device.user_code in markdown and "/device" in markdown
    for secret in (entry["access_token"], entry["refresh_token"], device.device_code):
        assert secret not in markdown
        assert secret not in caplog.text
