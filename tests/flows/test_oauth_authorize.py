"""The oauth_authorize flow against the real OAuth server and a real Prefect API.

Device flow polls to the end in-process. PKCE pauses for flow-run input: the flow runs in a
background thread, and the test thread plays the person in the Prefect UI: it waits for the
run to be Paused, reads the authorization URL from the run's artifact, logs in with the
browser step and resumes the run with the redirect URL.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import yaml
from prefect import get_client, tags
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterTags,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import NotPausedError, PrefectHTTPStatusError
from prefect.flow_runs import resume_flow_run
from prefect.input import keyset_from_paused_state
from pydantic import SecretStr

import flows.oauth_authorize as module
from apilink.credentials import EncryptedFileStore
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.errors import AuthError, ConfigError, CredentialError, StateMismatch
from blocks.credentials import EncryptedFileCredentials, VaultCredentials
from tests.fixtures.oauth_server import FakeClock, MemoryStore, OAuthServer, browser_login
from tests.fixtures.openbao import OpenBao
from tests.servers.oauth.models import DEVICE_CLIENT, PUBLIC_CLIENT, REDIRECT_URI

_WAIT_SECONDS = 60.0
"""How long the test thread waits for the flow to pause, finish, or log."""
_PAUSE_SECONDS = 60
"""The flow's own timeout for the person, in the tests that resume it."""
_PASSWORD = "master-pw-CANARY-4b1d"
_LINK = re.compile(r"\[Open the authorization page\]\((?P<url>[^)\s]+)\)")


def _pkce_section(oauth_server: OAuthServer, storage_key: str = "ui_pkce_creds") -> dict[str, Any]:
    return {
        "type": "oauth2_pkce",
        "client_id": PUBLIC_CLIENT,
        "authorization_url": oauth_server.authorize_url,
        "token_url": oauth_server.token_url,
        "redirect_uri": REDIRECT_URI,
        "scope": "calendar.read",
        "storage_key": storage_key,
    }


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    """The store the flow's tokens go to, whatever store parameters the test passes."""
    tokens = MemoryStore()
    monkeypatch.setattr(module, "open_token_store", lambda store_file, credentials_block: tokens)
    return tokens


def _approve_at_once(
    monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock, oauth_server: OAuthServer
) -> None:
    """The flow polls on the fake clock, and the server approves at the first poll."""
    monkeypatch.setattr(module, "_sleep", fake_clock.sleep)
    monkeypatch.setattr(module, "_clock", fake_clock)
    oauth_server.state.auto_approve_after_polls = 1


def _device_section(oauth_server: OAuthServer) -> dict[str, Any]:
    return {
        "type": "oauth2_device_flow",
        "client_id": DEVICE_CLIENT,
        "device_authorization_url": oauth_server.device_url,
        "token_url": oauth_server.token_url,
        "storage_key": "ui_device_creds",
    }


@dataclass
class BackgroundRun:
    """One ``oauth_authorize`` call running in a thread; its flow run carries ``tag``."""

    tag: str
    future: Future[str]

    def _find(self, *, paused: bool) -> FlowRun | None:
        runs = _tagged_runs(self.tag)
        if runs and (not paused or (runs[0].state is not None and runs[0].state.is_paused())):
            return runs[0]
        return None

    def wait_paused(self) -> FlowRun:
        """The flow run, once it is Paused; fails if the flow ends first."""
        deadline = time.monotonic() + _WAIT_SECONDS
        while time.monotonic() < deadline:
            run = self._find(paused=True)
            if run is not None:
                return run
            if self.future.done():
                raise AssertionError(f"the flow ended before it paused: {self.future.result()!r}")
            time.sleep(0.2)
        raise AssertionError(f"the flow run did not pause within {_WAIT_SECONDS} s")

    def flow_run(self) -> FlowRun:
        """The flow run as the API has it now."""
        (run,) = _tagged_runs(self.tag)
        return run


def _tagged_runs(tag: str) -> list[FlowRun]:
    """The flow runs tagged ``tag`` (each test tags its one run uniquely)."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag]))
        )
    assert len(runs) <= 1, runs
    return runs


@pytest.fixture
def run_in_background() -> Iterator[Callable[..., BackgroundRun]]:
    """Start ``oauth_authorize(**kwargs)`` in a thread, its flow run tagged uniquely."""
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="oauth-authorize")

    def start(**kwargs: Any) -> BackgroundRun:
        tag = f"test-{uuid.uuid4().hex}"

        def call() -> str:
            with tags(tag):
                key: str = module.oauth_authorize(**kwargs)
            return key

        return BackgroundRun(tag, executor.submit(call))

    yield start
    executor.shutdown(wait=True)


@pytest.fixture
def quick_pause(monkeypatch: pytest.MonkeyPatch, fake_clock: FakeClock) -> None:
    """The paused flow asks every second whether it was resumed; token times on the fake clock."""
    monkeypatch.setattr(module, "_pause_poll_seconds", 1)
    monkeypatch.setattr(module, "_clock", fake_clock)
    monkeypatch.setattr(module, "_sleep", fake_clock.sleep)


def _artifact_markdown(flow_run_id: UUID, key: str = "oauth-authorization-url") -> str:
    """The markdown of the run's artifact ``key``, as the Prefect UI shows it."""
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
            )
        )
    assert len(artifacts) == 1, artifacts
    return str(artifacts[0].data)


def _authorization_url(markdown: str) -> str:
    match = _LINK.search(markdown)
    assert match is not None, markdown
    return match["url"]


def _run_logs(flow_run_id: UUID, until: str) -> str:
    """The run's log messages in the Prefect API, once one of them contains ``until``."""
    deadline = time.monotonic() + _WAIT_SECONDS
    while True:
        with get_client(sync_client=True) as client:
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
        text = "\n".join(log.message for log in logs)
        if until in text:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"no log containing {until!r} in {text!r}")
        time.sleep(0.2)


def _state_types(flow_run_id: UUID) -> list[StateType]:
    with get_client(sync_client=True) as client:
        return [state.type for state in client.read_flow_run_states(flow_run_id)]


# -- device flow ---------------------------------------------------------------------------


@pytest.mark.e2e
def test_device_branch_shows_code_polls_and_stores_tokens(
    prefect_harness: str,
    oauth_server: OAuthServer,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    store: MemoryStore,
) -> None:
    monkeypatch.setattr(module, "_sleep", fake_clock.sleep)
    monkeypatch.setattr(module, "_clock", fake_clock)
    oauth_server.state.auto_approve_after_polls = 2
    tag = f"test-{uuid.uuid4().hex}"
    with tags(tag):
        key = module.oauth_authorize(_device_section(oauth_server))
    assert key == "ui_device_creds"
    entry = store.get("ui_device_creds")
    assert oauth_server.state.token_requests["urn:ietf:params:oauth:grant-type:device_code"] == 3
    (run,) = _tagged_runs(tag)
    markdown = _artifact_markdown(run.id, "oauth-device-code")
    device = next(iter(oauth_server.state.devices.values()))
    assert device.user_code in markdown and "/device" in markdown
    prefect_logs = _run_logs(run.id, until="Tokens stored under 'ui_device_creds'")
    for secret in (entry["access_token"], entry["refresh_token"], device.device_code):
        assert secret not in markdown
        assert secret not in prefect_logs
        assert secret not in caplog.text


# -- PKCE ----------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.usefixtures("quick_pause")
def test_pkce_branch_pauses_for_the_redirect_url_and_stores_tokens(
    prefect_harness: str,
    oauth_server: OAuthServer,
    run_in_background: Callable[..., BackgroundRun],
    caplog: pytest.LogCaptureFixture,
    store: MemoryStore,
) -> None:
    caplog.set_level(logging.INFO)
    background = run_in_background(auth=_pkce_section(oauth_server), timeout_seconds=_PAUSE_SECONDS)

    paused = background.wait_paused()
    assert oauth_server.state.total_token_requests == 0
    markdown = _artifact_markdown(paused.id)
    url = _authorization_url(markdown)
    assert url.startswith(oauth_server.authorize_url + "?")
    assert httpx.URL(url).params["code_challenge_method"] == "S256"
    redirect = browser_login(url)
    code = httpx.URL(redirect).params["code"]
    resume_flow_run(paused.id, run_input={"redirect_url": f"  {redirect}\n"})

    assert background.future.result(timeout=_WAIT_SECONDS) == "ui_pkce_creds"
    entry = store.get("ui_pkce_creds")
    assert entry["access_token"] and entry["refresh_token"]
    assert store.puts == ["ui_pkce_creds"]
    assert oauth_server.state.token_requests == {"authorization_code": 1}
    (form,) = oauth_server.state.token_forms
    assert form["code"] == code and form["client_id"] == PUBLIC_CLIENT
    verifier = form["code_verifier"]
    run = background.flow_run()
    assert run.state is not None and run.state.is_completed()
    assert StateType.PAUSED in _state_types(run.id)
    prefect_logs = _run_logs(run.id, until="Tokens stored under 'ui_pkce_creds'")
    assert "Tokens stored under 'ui_pkce_creds'" in caplog.text
    for secret in (entry["access_token"], entry["refresh_token"], code, verifier):
        assert secret not in markdown
        assert secret not in prefect_logs
        assert secret not in caplog.text
    assert _pasted_inputs(run.id) == [], "the pasted redirect URL (with the code) is deleted"


def _pasted_inputs(run_id: UUID) -> list[str]:
    with get_client(sync_client=True) as client:
        found = []
        for state in client.read_flow_run_states(run_id):
            if state.is_paused():
                key = keyset_from_paused_state(state)["response"]
                try:
                    found.append(client.read_flow_run_input(run_id, key))
                except PrefectHTTPStatusError as exc:
                    assert exc.response.status_code == 404
                    continue
        return found


def _assert_failed_before_any_token(
    background: BackgroundRun, oauth_server: OAuthServer, store: MemoryStore
) -> Any:
    """The run failed, no token was asked for and nothing was stored; returns the run."""
    assert oauth_server.state.total_token_requests == 0
    assert store.entries == {}
    run = background.flow_run()
    assert run.state is not None and run.state.is_failed()
    return run


@pytest.mark.e2e
@pytest.mark.usefixtures("quick_pause")
def test_pkce_redirect_with_a_wrong_state_fails_before_any_token_request(
    prefect_harness: str,
    oauth_server: OAuthServer,
    run_in_background: Callable[..., BackgroundRun],
    store: MemoryStore,
) -> None:
    background = run_in_background(auth=_pkce_section(oauth_server), timeout_seconds=_PAUSE_SECONDS)

    paused = background.wait_paused()
    redirect = browser_login(_authorization_url(_artifact_markdown(paused.id)))
    forged = str(httpx.URL(redirect).copy_set_param("state", "forged-state"))
    resume_flow_run(paused.id, run_input={"redirect_url": forged})

    with pytest.raises(StateMismatch, match="does not match; no token was requested"):
        background.future.result(timeout=_WAIT_SECONDS)
    _assert_failed_before_any_token(background, oauth_server, store)


@pytest.mark.e2e
@pytest.mark.usefixtures("quick_pause")
def test_pkce_pause_that_nobody_resumes_times_out_clearly(
    prefect_harness: str,
    oauth_server: OAuthServer,
    run_in_background: Callable[..., BackgroundRun],
    store: MemoryStore,
) -> None:
    background = run_in_background(auth=_pkce_section(oauth_server), timeout_seconds=2)

    with pytest.raises(AuthError, match="not resumed with the redirect URL within 2 seconds"):
        background.future.result(timeout=_WAIT_SECONDS)
    run = _assert_failed_before_any_token(background, oauth_server, store)
    assert StateType.PAUSED in _state_types(run.id)
    with pytest.raises(NotPausedError):
        resume_flow_run(run.id, run_input={"redirect_url": "http://127.0.0.1:8765/callback"})


# -- where the tokens go -------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.usefixtures("quick_pause")
def test_pkce_tokens_go_to_the_file_of_a_saved_credentials_block(
    prefect_harness: str,
    oauth_server: OAuthServer,
    run_in_background: Callable[..., BackgroundRun],
    fake_clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("APILINK_MASTER_PASSWORD", raising=False)  # the block's password serves
    path = tmp_path / "tokens.enc"
    block_name = f"oauth-tokens-{uuid.uuid4().hex[:12]}"
    EncryptedFileCredentials(path=str(path), master_password=SecretStr(_PASSWORD)).save(
        block_name, overwrite=True
    )
    background = run_in_background(
        auth=_pkce_section(oauth_server),
        credentials_block=block_name,
        timeout_seconds=_PAUSE_SECONDS,
    )

    paused = background.wait_paused()
    redirect = browser_login(_authorization_url(_artifact_markdown(paused.id)))
    resume_flow_run(paused.id, run_input={"redirect_url": redirect})

    assert background.future.result(timeout=_WAIT_SECONDS) == "ui_pkce_creds"
    entry = EncryptedFileStore(path, _PASSWORD, now=fake_clock).get("ui_pkce_creds")
    assert entry["access_token"] and entry["refresh_token"]
    raw = path.read_bytes()
    assert entry["access_token"].encode() not in raw and entry["refresh_token"].encode() not in raw


@pytest.mark.e2e
def test_device_tokens_go_to_store_file_opened_with_the_master_password_env(
    prefect_harness: str,
    oauth_server: OAuthServer,
    fake_clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", _PASSWORD)
    _approve_at_once(monkeypatch, fake_clock, oauth_server)
    path = tmp_path / "tokens.enc"
    EncryptedFileStore(path, _PASSWORD, kdf_params=SCRYPT_FLOOR).put("other", {"token": "kept"})

    key = module.oauth_authorize(_device_section(oauth_server), store_file=str(path))

    assert key == "ui_device_creds"
    reopened = EncryptedFileStore(path, _PASSWORD, now=fake_clock)
    assert reopened.get("ui_device_creds")["access_token"]
    assert reopened.get("other") == {"token": "kept"}


@pytest.mark.e2e
def test_a_qualified_block_name_opens_the_same_store(prefect_harness: str, tmp_path: Path) -> None:
    path = tmp_path / "tokens.enc"
    block_name = f"oauth-tokens-{uuid.uuid4().hex[:12]}"
    EncryptedFileCredentials(path=str(path), master_password=SecretStr(_PASSWORD)).save(
        block_name, overwrite=True
    )
    store = module.open_token_store(credentials_block=f"encrypted-file-credentials/{block_name}")
    assert isinstance(store, EncryptedFileStore) and store.path == path
    bare = module.open_token_store(credentials_block=block_name)
    assert isinstance(bare, EncryptedFileStore) and bare.path == path
    with pytest.raises(CredentialError, match="no credential block 'vault-credentials/"):
        module.open_token_store(credentials_block=f"vault-credentials/{block_name}")
    with pytest.raises(CredentialError, match="no credential block named 'no-such-block'"):
        module.open_token_store(credentials_block="no-such-block")


@pytest.mark.e2e
def test_device_tokens_go_to_the_vault_a_saved_vault_block_names(
    prefect_harness: str,
    oauth_server: OAuthServer,
    fake_clock: FakeClock,
    openbao: OpenBao,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _approve_at_once(monkeypatch, fake_clock, oauth_server)
    block_name = f"oauth-vault-{uuid.uuid4().hex[:12]}"
    VaultCredentials(
        url=openbao.url, token=SecretStr(openbao.root_token), path_prefix="oauth/"
    ).save(block_name, overwrite=True)

    key = module.oauth_authorize(_device_section(oauth_server), credentials_block=block_name)

    stored = openbao.client().secrets.kv.v2.read_secret_version(
        path=f"oauth/{key}", mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"]
    assert stored["access_token"] and stored["refresh_token"]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("store_file", "credentials_block", "message"),
    [
        (None, None, "needs a credential store: give credentials_block .* or store_file"),
        ("", "", "needs a credential store: give credentials_block .* or store_file"),
        ("t.enc", "my-block", "got both credentials_block and store_file; give only one"),
    ],
    ids=["neither", "empty-strings", "both"],
)
def test_exactly_one_credential_store_must_be_given(
    prefect_harness: str,
    oauth_server: OAuthServer,
    store_file: str | None,
    credentials_block: str | None,
    message: str,
) -> None:
    with pytest.raises(ConfigError, match=message):
        module.oauth_authorize(
            _pkce_section(oauth_server),
            store_file=store_file,
            credentials_block=credentials_block,
        )
    assert oauth_server.state.total_token_requests == 0


@pytest.mark.e2e
def test_store_file_without_the_master_password_is_refused(
    prefect_harness: str, oauth_server: OAuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APILINK_MASTER_PASSWORD", raising=False)
    with pytest.raises(CredentialError, match=r"APILINK_MASTER_PASSWORD .*credentials_block"):
        module.oauth_authorize(_pkce_section(oauth_server), store_file=str(tmp_path / "t.enc"))


def _sync_config(tmp_path: Path, source_auth: dict[str, Any], store: Path) -> str:
    config = {
        "name": "device-login",
        "source": {
            "type": "rest",
            "base_url": "http://127.0.0.1:9",
            "auth": source_auth,
            "endpoints": {"list": {"path": "/items"}},
        },
        "target": {
            "type": "rest",
            "base_url": "http://127.0.0.1:9",
            "endpoints": {"create": {"path": "/items", "method": "POST"}},
        },
        "credentials": {"type": "file", "path": str(store)},
        "mapping": [{"source": "list", "target": "create", "fields": []}],
    }
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.e2e
def test_naming_the_sync_logs_in_its_side_and_stores_where_its_runs_read(
    prefect_harness: str,
    oauth_server: OAuthServer,
    fake_clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", _PASSWORD)
    _approve_at_once(monkeypatch, fake_clock, oauth_server)
    store = tmp_path / "tokens.enc"
    config_path = _sync_config(tmp_path, _device_section(oauth_server), store)

    assert module.oauth_authorize(config_path=config_path) == "ui_device_creds"

    entry = EncryptedFileStore(store, _PASSWORD, now=fake_clock).get("ui_device_creds")
    assert entry["access_token"] and entry["refresh_token"]


@pytest.mark.e2e
def test_naming_a_sync_without_a_login_side_or_with_auth_too_is_refused(
    prefect_harness: str, oauth_server: OAuthServer, tmp_path: Path
) -> None:
    bearer = {"type": "bearer", "token": "t"}
    config_path = _sync_config(tmp_path, bearer, tmp_path / "tokens.enc")
    with pytest.raises(ConfigError, match="does not log in with oauth2_pkce or oauth2_device"):
        module.oauth_authorize(config_path=config_path, store_file=str(tmp_path / "t.enc"))
    with pytest.raises(ConfigError, match="exactly one of `config_path`"):
        module.oauth_authorize(auth=_device_section(oauth_server), config_path=config_path)
