"""Two holders of one stored token against the real OAuth server, whose refresh tokens are
single-use: the refresh flows are driven by hand, so each interleaving is the one named."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from apilink.auth import StoredTokenAuth
from apilink.auth.oauth import TokenFlow
from apilink.auth.rotation import StoredToken, TokenSlot
from apilink.auth.token import OAuthToken
from apilink.credentials import EncryptedFileStore
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.errors import ReauthorizationRequired
from tests.apilink.auth.test_oauth import pkce_config, pkce_login
from tests.fixtures.oauth_server import FakeClock, OAuthServer
from tests.servers.oauth.models import PUBLIC_CLIENT

KEY = "pkce_creds"


@pytest.fixture
def store(tmp_path: Path) -> EncryptedFileStore:
    return EncryptedFileStore(tmp_path / "tokens.enc", "master-canary-5e", kdf_params=SCRYPT_FLOOR)


def holder(
    server: OAuthServer, store: EncryptedFileStore, clock: FakeClock, **kwargs: object
) -> StoredTokenAuth:
    """A worker's auth over the stored token."""
    return StoredTokenAuth(
        pkce_config(server), token_store=store, clock=clock, sleep=clock.sleep, **kwargs
    )  # type: ignore[arg-type]


def start(flow: TokenFlow) -> httpx.Request:
    return next(flow)


def finish(flow: TokenFlow, response: httpx.Response) -> None:
    with pytest.raises(StopIteration):
        flow.send(response)


def post(client: httpx.Client, request: httpx.Request) -> httpx.Response:
    response = client.send(request)
    response.read()
    return response


def test_a_used_refresh_token_is_refused_with_invalid_grant(
    oauth_server: OAuthServer, fake_clock: FakeClock, store: EncryptedFileStore
) -> None:
    pkce_login(oauth_server, store, fake_clock)  # type: ignore[arg-type]
    refresh = store.get(KEY)["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": PUBLIC_CLIENT}
    with httpx.Client() as client:
        first = client.post(oauth_server.token_url, data=form)
        again = client.post(oauth_server.token_url, data=form)
    assert first.status_code == 200 and first.json()["refresh_token"] != refresh
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_holder_that_finds_a_rotated_token_stored_uses_it_without_refreshing(
    oauth_server: OAuthServer, fake_clock: FakeClock, store: EncryptedFileStore
) -> None:
    pkce_login(oauth_server, store, fake_clock)  # type: ignore[arg-type]
    worker_a, worker_b = (holder(oauth_server, store, fake_clock) for _ in range(2))
    worker_a.use_token(OAuthToken.from_entry(store.get(KEY)))
    worker_b.use_token(OAuthToken.from_entry(store.get(KEY)))
    fake_clock.advance(7200)
    with httpx.Client(auth=worker_a) as client:
        assert client.get(oauth_server.resource_url).status_code == 200
    with httpx.Client(auth=worker_b) as client:
        assert client.get(oauth_server.resource_url).status_code == 200
    assert oauth_server.state.token_requests["refresh_token"] == 1
    assert worker_a.token == worker_b.token
    assert store.get(KEY)["refresh_token"] == worker_b.token.refresh_token  # type: ignore[union-attr]


def test_the_loser_of_a_refresh_race_waits_for_the_winners_token_and_uses_it(
    oauth_server: OAuthServer,
    fake_clock: FakeClock,
    store: EncryptedFileStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    pkce_login(oauth_server, store, fake_clock)  # type: ignore[arg-type]
    first = store.get(KEY)["refresh_token"]
    fake_clock.advance(7200)
    worker_a = holder(oauth_server, store, fake_clock)
    winner_flow = worker_a.acquire()
    with httpx.Client() as client:
        # Both read the stored token, both send its refresh token; A's answer is on its way
        # when B's refusal arrives.
        winner_answer = post(client, start(winner_flow))

        def winner_stores_its_token(seconds: float) -> None:
            fake_clock.sleeps.append(seconds)
            if len(fake_clock.sleeps) == 2:  # B has read the store once and waited once
                finish(winner_flow, winner_answer)

        worker_b = holder(oauth_server, store, fake_clock)
        worker_b._slot._sleep = winner_stores_its_token  # type: ignore[union-attr]
        loser_flow = worker_b.acquire()
        refused = post(client, start(loser_flow))
        assert refused.json()["error"] == "invalid_grant"
        finish(loser_flow, refused)

    stored = store.get(KEY)
    assert worker_a.token is not None and worker_b.token == worker_a.token
    assert stored["refresh_token"] == worker_a.token.refresh_token != first
    assert not oauth_server.state.find_refresh(stored["refresh_token"]).refresh_revoked  # type: ignore[union-attr]
    assert oauth_server.state.token_requests["refresh_token"] == 2
    # Client side only: the test server's authlib logs are not ours.
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("authlib")]
    assert any("HTTP Request" in line for line in ours)  # the client side did log
    for text in (*ours, repr(worker_a), repr(worker_b), repr(worker_b._slot)):
        assert first not in text and stored["refresh_token"] not in text


def test_a_write_back_refused_by_compare_and_set_uses_the_stored_token(
    oauth_server: OAuthServer, fake_clock: FakeClock, store: EncryptedFileStore
) -> None:
    pkce_login(oauth_server, store, fake_clock)  # type: ignore[arg-type]
    fake_clock.advance(7200)
    worker = holder(oauth_server, store, fake_clock)
    flow = worker.acquire()
    with httpx.Client() as client:
        answer = post(client, start(flow))
        # Meanwhile a person logs in again: a newer token lands in the store first.
        pkce_login(oauth_server, store, fake_clock)  # type: ignore[arg-type]
        logged_in = store.get(KEY)
        finish(flow, answer)
    assert store.get(KEY) == logged_in
    assert worker.token == OAuthToken.from_entry(logged_in)


def test_a_refusal_nobody_answers_is_final_after_the_wait(
    oauth_server: OAuthServer, fake_clock: FakeClock, store: EncryptedFileStore
) -> None:
    pkce_login(oauth_server, store, fake_clock)  # type: ignore[arg-type]
    entry = store.get(KEY)
    oauth_server.state.find_refresh(entry["refresh_token"]).refresh_revoked = True  # type: ignore[union-attr]
    fake_clock.advance(7200)
    worker = holder(oauth_server, store, fake_clock, rotation_wait=3.0)
    with httpx.Client(auth=worker) as client, pytest.raises(ReauthorizationRequired) as caught:
        client.get(oauth_server.resource_url)
    assert sum(fake_clock.sleeps) == pytest.approx(3.0)
    assert fake_clock.sleeps[0] == pytest.approx(0.05)
    assert store.get(KEY) == entry
    assert entry["refresh_token"] not in str(caught.value)


def test_an_entry_that_is_not_a_token_is_never_used(store: EncryptedFileStore) -> None:
    store.put(KEY, {"password": "not-a-token-canary"})
    slot = TokenSlot(store, KEY)
    read = slot.read()
    assert read.token is None and read.version is not None
    token = OAuthToken(access_token="at-x", refresh_token="rt-x")
    written = slot.write_back(token, read.version)
    assert written == StoredToken(token, written.version)
    assert store.get(KEY)["refresh_token"] == "rt-x"
    assert "rt-x" not in repr(slot) and "canary" not in repr(slot)
