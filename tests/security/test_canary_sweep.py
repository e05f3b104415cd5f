"""Canary sweep (issues 6 and 7): unique canary secrets are planted in the credential file,
OpenBao, OAuth tokens and client secrets, API keys, record fields and the environment; the happy
path and each failure path run through the real flow (and some through the ``apilink`` CLI);
then every place a run leaves text is searched for every canary: stdout, stderr, caplog, the
log file, the state folder (quarantine, dead letters, checkpoints), the audit file, and from the
Prefect API the run's logs, artifacts, events, parameters, task runs and state message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from pydantic import SecretStr

from apilink.credentials import EncryptedFileStore
from apilink.credentials.kdf import SCRYPT_FLOOR
from apilink.demo.serve import serve
from flows.api_sync import api_sync
from tests.fixtures.apis import users_endpoint
from tests.fixtures.oauth_server import OAuthServer
from tests.fixtures.openbao import OpenBao
from tests.security.apps import (
    Inbox,
    make_careless_source,
    make_careless_target,
    make_echo_source,
    make_echo_target,
)
from tests.security.canaries import Canaries, Source, assert_no_canary, find_canaries
from tests.security.prefect_api import RunRecord, find_flow_run, read_run
from tests.servers.oauth.models import Client

APILINK = Path(sys.executable).with_name("apilink")
RECORDS = 30
BAD_EVERY = 10  # ids 10, 20, 30 have a bad email: 3 quarantined
FILTER_FIELDS = ["password", "token", "secret", "api_key", "authorization", "internal_note"]


# -- the lab: canaries, servers, config --------------------------------------------------------


@dataclass
class Lab:
    """One scenario's canaries, servers, files and environment."""

    tmp: Path
    state_dir: Path
    monkeypatch: pytest.MonkeyPatch
    stack: ExitStack
    canaries: Canaries = field(default_factory=Canaries)
    inbox: Inbox = field(default_factory=Inbox)
    failing_pages: set[int] = field(default_factory=set)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.tmp / "sweep.yaml"

    @property
    def log_file(self) -> Path:
        return self.tmp / "logs" / "apilink.log"

    @property
    def audit_file(self) -> Path:
        return self.tmp / "logs" / "audit.log"

    def setenv(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)

    def serve(self, app: Any) -> str:
        return self.stack.enter_context(serve(app))

    def plant_common(self, *, reject: set[int] | None = None) -> None:
        """Canaries every scenario has: the operator's API key, an unrelated secret in the
        environment, and secret-named fields in every record."""
        self.setenv("SWEEP_OPERATOR_KEY", self.canaries.new("operator-api-key"))
        self.setenv("APILINK_API_KEY", self.canaries.values["operator-api-key"])
        self.setenv("SWEEP_UNRELATED_SECRET", self.canaries.new("env-unrelated"))
        password = self.canaries.new("record-password")
        note = self.canaries.new("record-filter-field")
        self.records = [
            {
                "id": i,
                "name": f"REJECT {i}" if reject and i in reject else f"user {i}",
                "email": f"user{i}-at-example.com"
                if i % BAD_EVERY == 0
                else f"user{i}@example.com",
                "password": password,
                "internal_note": note,
            }
            for i in range(1, RECORDS + 1)
        ]
        (self.tmp / "logs").mkdir(exist_ok=True)

    def write_config(
        self,
        *,
        source_url: str,
        source_auth: dict[str, Any],
        target_url: str,
        target_key: str,
        credentials: dict[str, Any] | None = None,
        map_secret_fields: bool = True,
        target_key_in_query: bool = False,
    ) -> str:
        fields = ["id", "name", "email"]
        if map_secret_fields:
            fields += ["password", "internal_note"]
        retry = {"max_attempts": 1}
        config: dict[str, Any] = {
            "name": "canary-sweep",
            "chunk_size": 10,
            "source": {
                "base_url": source_url,
                "auth": source_auth,
                "retry": retry,
                "endpoints": {"users": users_endpoint()},
            },
            "target": {
                "base_url": target_url,
                "auth": (
                    # a query parameter whose name does not look secret: only the value can
                    # tell the redaction what to mask in every logged URL
                    {"type": "api_key", "key": target_key, "in": "query", "param_name": "k"}
                    if target_key_in_query
                    else {"type": "api_key", "key": target_key, "header": "X-API-Key"}
                ),
                "retry": retry,
                "endpoints": {"profiles": {"path": "/profiles", "method": "POST"}},
            },
            "mapping": [
                {
                    "source": "users",
                    "target": "profiles",
                    "fields": [{"source": f, "target": f} for f in fields],
                    "validation": {"required_fields": ["id", "email"], "email_fields": ["email"]},
                }
            ],
            "logging": {
                "level": "DEBUG",
                "file": str(self.log_file),
                "security_audit": True,
                "audit_file": str(self.audit_file),
                "filter_fields": FILTER_FIELDS,
            },
            "security": {
                "enable_access_control": True,
                "users": [
                    {
                        "username": "operator1",
                        "role": "operator",
                        "api_key": "${SWEEP_OPERATOR_KEY}",
                    }
                ],
            },
        }
        if credentials is not None:
            config["credentials"] = credentials
        self.config_path.write_text(yaml.safe_dump(config))
        return str(self.config_path)

    def sources(self) -> list[Source]:
        """Every file the run could have written: the test's folder (config, credential file,
        log and audit files) and the state folder (quarantine, dead letters, checkpoints)."""
        return [("test folder", self.tmp), ("state folder", self.state_dir)]


@pytest.fixture
def lab(tmp_path: Path, _state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    with ExitStack() as stack:
        yield Lab(tmp_path, _state_dir, monkeypatch, stack)


# -- scenarios ----------------------------------------------------------------------------------


@dataclass
class Scenario:
    """What a scenario expects of the run."""

    completed: bool
    message: str = ""  # a piece of the failed state's message, to know the right thing failed
    api_key: str | None = None  # passed as the flow's ``api_key`` parameter
    canaries_allowed_in_state: tuple[str, ...] = ()


def _file_store(lab: Lab, *, token: str, key: str) -> dict[str, Any]:
    path = lab.tmp / "credentials.enc"
    master = lab.canaries.new("master-password")
    store = EncryptedFileStore(path, master, kdf_params=SCRYPT_FLOOR)
    store.put("source", {"token": token})
    store.put("target", {"api_key": key})
    lab.setenv("APILINK_MASTER_PASSWORD", master)
    return {"type": "file", "path": str(path)}


def happy_file(
    lab: Lab,
    *,
    reject: set[int] | None = None,
    source_token: str | None = None,
    map_secret_fields: bool | None = None,
) -> str:
    """Source bearer token and target API key from the encrypted credential file.

    With ``reject``, the secret-named record fields are not mapped by default; the dead-letter
    test below maps them, to check they are sealed in the file.
    """
    lab.plant_common(reject=reject)
    token = lab.canaries.new("source-token")
    key = lab.canaries.new("target-api-key")
    return _bearer_sync(
        lab,
        token=token,
        key=key,
        credentials=_file_store(lab, token=token, key=key),
        source_token=source_token,
        map_secret_fields=not reject if map_secret_fields is None else map_secret_fields,
    )


def _bearer_sync(
    lab: Lab,
    *,
    token: str,
    key: str,
    credentials: dict[str, Any],
    source_token: str | None = None,
    map_secret_fields: bool = True,
) -> str:
    """The careless APIs (bearer ``token`` at the source, ``key`` at the target) and a config
    that reads both as ``secret://`` references from ``credentials``."""
    source = lab.serve(make_careless_source(lab.records, token=source_token or token))
    target = lab.serve(make_careless_target(lab.inbox, api_key=key))
    return lab.write_config(
        source_url=source,
        source_auth={"type": "bearer", "token": "secret://source#token"},
        target_url=target,
        target_key="secret://target#api_key",
        credentials=credentials,
        map_secret_fields=map_secret_fields,
    )


def happy_openbao(lab: Lab, openbao: OpenBao, *, bao_token: str | None = None) -> str:
    """Source bearer token and target API key from OpenBao, read with a canary token."""
    lab.plant_common()
    token = lab.canaries.new("source-token")
    key = lab.canaries.new("target-api-key")
    prefix = "sweep-" + lab.canaries.values["source-token"][-8:]
    root = openbao.client()
    root.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/source", secret={"token": token})
    root.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/target", secret={"api_key": key})
    root.sys.create_or_update_policy(
        name=prefix, policy=f'path "secret/data/{prefix}/*" {{ capabilities = ["read"] }}'
    )
    good = lab.canaries.new("openbao-token")
    root.auth.token.create(id=good, policies=[prefix], ttl="1h")
    lab.setenv("SWEEP_BAO_TOKEN", bao_token or good)
    vault = {
        "type": "vault",
        "url": openbao.url,
        "auth": {"method": "token", "token": "${SWEEP_BAO_TOKEN}"},
        "path_prefix": f"{prefix}/",
    }
    return _bearer_sync(lab, token=token, key=key, credentials=vault)


def oauth_source(lab: Lab, oauth: OAuthServer, *, wrong_secret: bool = False) -> str:
    """OAuth client credentials for the source (a canary client secret; the tokens the server
    issues become canaries after the run); the target API key from the environment."""
    lab.plant_common()
    secret = lab.canaries.new("oauth-client-secret")
    client_id = "sweep-" + secret[-8:]
    with oauth.state.lock:
        oauth.state.clients[client_id] = Client(
            client_id, secret, ("client_credentials", "refresh_token")
        )
    sent = lab.canaries.new("oauth-wrong-client-secret") if wrong_secret else secret
    lab.setenv("SWEEP_CLIENT_SECRET", sent)
    lab.setenv("SWEEP_TARGET_KEY", lab.canaries.new("target-api-key"))

    def served(page: int) -> None:
        if page == 2:  # the token expires mid-sync: the client fetches another
            oauth.state.clock.advance(oauth.state.access_token_lifetime + 1)  # type: ignore[attr-defined]

    source = lab.serve(
        make_careless_source(lab.records, accept_token=oauth.state.access_ok, on_page=served)
    )
    target = lab.serve(
        make_careless_target(lab.inbox, api_key=lab.canaries.values["target-api-key"])
    )
    return lab.write_config(
        source_url=source,
        source_auth={
            "type": "oauth2",
            "client_id": client_id,
            "client_secret": "${SWEEP_CLIENT_SECRET}",
            "token_url": oauth.token_url,
            "scope": "read",
        },
        target_url=target,
        target_key="${SWEEP_TARGET_KEY}",
        target_key_in_query=True,
    )


def plant_issued_tokens(lab: Lab, oauth: OAuthServer) -> int:
    """Every access and refresh token the OAuth server issued in this test, as canaries."""
    with oauth.state.lock:
        tokens = list(oauth.state.tokens)
    for n, token in enumerate(tokens):
        lab.canaries.add(f"oauth-access-token-{n}", token.access_token)
        if token.refresh_token:
            lab.canaries.add(f"oauth-refresh-token-{n}", token.refresh_token)
    return len(tokens)


def echo_sync(
    lab: Lab,
    *,
    fail_on_page: int | None = None,
    reject: set[int] | None = None,
    fail: set[int] | None = None,
) -> str:
    """Issue 14: canary secrets in plain headers, query parameters and URL paths of both
    sides (``${VAR}``), a Basic password, and APIs that echo the whole request (headers as
    pairs, body as text) in their 4xx and 5xx bodies."""
    lab.plant_common(reject=reject)
    for record in lab.records:
        if fail and record["id"] in fail:
            record["name"] = f"FAIL {record['id']}"
    env = {
        "SWEEP_SRC_TOKEN": lab.canaries.new("source-token"),
        "SWEEP_SRC_HEADER": lab.canaries.new("source-header"),
        "SWEEP_SRC_PATH": lab.canaries.new("source-url-path"),
        "SWEEP_SRC_PARAM": lab.canaries.new("source-query-param"),
        "SWEEP_TGT_HEADER": lab.canaries.add(
            "target-header-json", lab.canaries.new("target-header") + '"q\\z'
        ),
        "SWEEP_TGT_PATH": lab.canaries.new("target-url-path"),
        "SWEEP_TGT_PARAM": lab.canaries.new("target-query-param"),
        "SWEEP_TGT_PASSWORD": lab.canaries.new("target-basic-password"),
    }
    lab.canaries.add("target-basic-pair", f"sweep-user:{env['SWEEP_TGT_PASSWORD']}")
    for name, value in env.items():
        lab.setenv(name, value)
    if fail_on_page is not None:
        lab.failing_pages.add(fail_on_page)
    source = lab.serve(make_echo_source(lab.records, failing_pages=lab.failing_pages))
    target = lab.serve(make_echo_target(lab.inbox))
    path = lab.write_config(
        source_url=source,
        source_auth={"type": "bearer", "token": "${SWEEP_SRC_TOKEN}"},
        target_url=target,
        target_key="unused-key",
        map_secret_fields=False,
    )
    config = yaml.safe_load(lab.config_path.read_text())
    config["source"]["headers"] = {"X-Source-Ref": "${SWEEP_SRC_HEADER}"}
    users = config["source"]["endpoints"]["users"]
    users["path"] = "/s/${SWEEP_SRC_PATH}/users"
    users["params"]["tenant_ref"] = "${SWEEP_SRC_PARAM}"
    config["target"]["auth"] = {
        "type": "basic",
        "username": "sweep-user",
        "password": "${SWEEP_TGT_PASSWORD}",
    }
    config["target"]["headers"] = {"X-Tenant-Ref": "${SWEEP_TGT_HEADER}"}
    config["target"]["endpoints"]["profiles"] = {
        "path": "/t/${SWEEP_TGT_PATH}/profiles",
        "method": "POST",
        "params": {"tenant_ref": "${SWEEP_TGT_PARAM}"},
    }
    lab.config_path.write_text(yaml.safe_dump(config))
    return path


Setup = Callable[[Lab, pytest.FixtureRequest], Scenario]


def s_echo_target_4xx_5xx(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    echo_sync(lab, reject={4}, fail={17})
    return Scenario(completed=False, message="dead-lettered")


def s_echo_source_fails_midway(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    echo_sync(lab, fail_on_page=2)
    return Scenario(completed=False, message="500")


def s_happy_file(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    happy_file(lab)
    return Scenario(completed=True)


def s_happy_openbao(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    happy_openbao(lab, request.getfixturevalue("openbao"))
    return Scenario(completed=True)


def s_oauth_client_credentials(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    oauth_source(lab, request.getfixturevalue("oauth_server"))
    return Scenario(completed=True)


def s_wrong_master_password(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    happy_file(lab)
    lab.setenv("APILINK_MASTER_PASSWORD", lab.canaries.new("wrong-master-password"))
    return Scenario(completed=False, message="decrypt")


def s_tampered_credential_file(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    happy_file(lab)
    path = lab.tmp / "credentials.enc"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    return Scenario(completed=False, message="decrypt")


def s_openbao_forbidden(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    wrong = lab.canaries.new("wrong-openbao-token")
    happy_openbao(lab, request.getfixturevalue("openbao"), bao_token=wrong)
    return Scenario(completed=False, message="403")


def s_source_refuses_token(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    happy_file(lab, source_token=Canaries().new("source-expects"))
    return Scenario(completed=False, message="401")


def s_target_refuses_records(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    happy_file(lab, reject={4, 17})
    return Scenario(completed=False, message="dead-lettered")


def s_malformed_source_json(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    lab.plant_common()
    token = lab.canaries.new("source-token")
    key = lab.canaries.new("target-api-key")
    credentials = _file_store(lab, token=token, key=key)
    source = lab.serve(make_careless_source(lab.records, token=token, malformed=True))
    target = lab.serve(make_careless_target(lab.inbox, api_key=key))
    lab.write_config(
        source_url=source,
        source_auth={"type": "bearer", "token": "secret://source#token"},
        target_url=target,
        target_key="secret://target#api_key",
        credentials=credentials,
    )
    return Scenario(completed=False, message="JSON")


def s_oauth_invalid_client(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    oauth_source(lab, request.getfixturevalue("oauth_server"), wrong_secret=True)
    return Scenario(completed=False, message="invalid_client")


def s_rbac_denied(lab: Lab, request: pytest.FixtureRequest) -> Scenario:
    happy_file(lab)
    lab.monkeypatch.delenv("APILINK_API_KEY")
    return Scenario(completed=False, message="run_sync", api_key=lab.canaries.new("wrong-user-key"))


SCENARIOS: dict[str, Setup] = {
    "happy_file": s_happy_file,
    "happy_openbao": s_happy_openbao,
    "oauth_client_credentials": s_oauth_client_credentials,
    "wrong_master_password": s_wrong_master_password,
    "tampered_credential_file": s_tampered_credential_file,
    "openbao_forbidden": s_openbao_forbidden,
    "source_refuses_token": s_source_refuses_token,
    "target_refuses_records": s_target_refuses_records,
    "malformed_source_json": s_malformed_source_json,
    "oauth_invalid_client": s_oauth_invalid_client,
    "rbac_denied": s_rbac_denied,
    "echo_target_4xx_5xx": s_echo_target_4xx_5xx,
    "echo_source_fails_midway": s_echo_source_fails_midway,
}


# -- running and sweeping -----------------------------------------------------------------------


def run_flow(config_path: str, api_key: str | None) -> UUID:
    """Run ``api_sync`` in this process; returns the flow run's id whatever the outcome.

    The caller presents its own key (the scenario's, else the lab's operator key): a run never
    falls back to the worker's ``APILINK_API_KEY``.
    """
    if api_key is None:
        api_key = os.environ.get("APILINK_API_KEY")

    async def go() -> Any:
        return await api_sync(
            config_path=config_path,
            api_key=SecretStr(api_key) if api_key is not None else None,
            return_state=True,
        )

    state = asyncio.run(go())
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    return UUID(str(flow_run_id))


def check_outcome(scenario: Scenario, run: RunRecord) -> None:
    if scenario.completed:
        assert run.state_name == "Completed", run.state_message
    else:
        assert run.state_name == "Failed", run.state_message
        assert scenario.message.lower() in run.state_message.lower(), run.state_message


def check_expected_traces(name: str, lab: Lab, run: RunRecord) -> None:
    """The run did what the scenario is about (so the sweep looked at real output)."""
    if name in {"happy_file", "happy_openbao", "oauth_client_credentials"}:
        assert len(lab.inbox.records) == RECORDS - RECORDS // BAD_EVERY
        quarantine = list((lab.state_dir / "quarantine").rglob("*.jsonl"))
        assert len(quarantine) == 1 and len(quarantine[0].read_text().splitlines()) == 3
    if name in {"target_refuses_records", "echo_target_4xx_5xx"}:
        dead = lab.state_dir / "canary-sweep.dead-letter.jsonl"
        assert dead.exists() and len(dead.read_text().splitlines()) == 2
    if name == "echo_target_4xx_5xx":
        reasons = dead.read_text()
        assert "422" in reasons and "503" in reasons and "you_sent" in reasons, reasons
    if name == "echo_source_fails_midway":
        # the checkpoint after chunk 1 is in the Prefect Variable, its secrets placeholders
        state = [v for v in run.variables if v.get("name") == "apilink-state-canary-sweep"]
        assert state and "{apilink-secret:" in json.dumps(state), state
    assert lab.audit_file.exists()
    assert "apilink.run.started" in run.event_names()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_no_canary_leaks_from_a_run(
    name: str,
    prefect_harness: str,
    lab: Lab,
    request: pytest.FixtureRequest,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    scenario = SCENARIOS[name](lab, request)
    caplog.set_level(logging.DEBUG)

    flow_run_id = run_flow(str(lab.config_path), scenario.api_key)

    run = read_run(flow_run_id)
    check_outcome(scenario, run)
    if name.startswith("oauth"):
        issued = plant_issued_tokens(lab, request.getfixturevalue("oauth_server"))
        assert issued == (0 if name == "oauth_invalid_client" else 2)
    check_expected_traces(name, lab, run)
    captured = capfd.readouterr()
    assert_no_canary(
        lab.canaries,
        ("stdout", captured.out),
        ("stderr", captured.err),
        ("caplog", caplog.text),
        *lab.sources(),
        *run.texts(),
    )


def run_cli(config_path: str, prefect_api_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    return subprocess.run(
        [str(APILINK), "sync", "-c", config_path, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "exit_code"),
    [
        ("happy_file", 0),
        ("source_refuses_token", 1),
        ("rbac_denied", 1),
        ("target_refuses_records", 1),
        ("echo_target_4xx_5xx", 1),
    ],
)
def test_no_canary_leaks_from_the_cli(
    name: str, exit_code: int, prefect_harness: str, lab: Lab, request: pytest.FixtureRequest
) -> None:
    scenario = SCENARIOS[name](lab, request)
    if scenario.api_key is not None:  # the CLI takes the caller's key from the environment
        lab.setenv("APILINK_API_KEY", scenario.api_key)

    done = run_cli(str(lab.config_path), prefect_harness)

    assert done.returncode == exit_code, done.stderr[-3000:]
    if exit_code == 0:
        assert '"loaded": 27' in done.stdout
    else:
        assert scenario.message.lower() in done.stderr.lower(), done.stderr[-3000:]
    run = read_run(find_flow_run(str(lab.config_path)))
    check_outcome(scenario, run)
    assert_no_canary(
        lab.canaries,
        ("CLI stdout", done.stdout),
        ("CLI stderr", done.stderr),
        *lab.sources(),
        *run.texts(),
    )


def test_logging_file_holds_the_run_log(prefect_harness: str, lab: Lab) -> None:
    happy_file(lab)

    run_flow(str(lab.config_path), None)

    assert lab.log_file.exists(), f"{lab.log_file} was not written"
    assert "sync canary-sweep: extracted 30" in lab.log_file.read_text()
    assert_no_canary(lab.canaries, lab.log_file)


def test_dead_letters_hold_no_secret_named_field_value(prefect_harness: str, lab: Lab) -> None:
    happy_file(lab, reject={4, 17}, map_secret_fields=True)

    run_flow(str(lab.config_path), None)

    dead = lab.state_dir / "canary-sweep.dead-letter.jsonl"
    assert len(dead.read_text().splitlines()) == 2
    assert_no_canary(lab.canaries, dead)


def test_a_run_resumed_from_a_checkpoint_without_secrets_gets_them_from_the_config(
    prefect_harness: str,
    lab: Lab,
    request: pytest.FixtureRequest,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The checkpoint kept placeholders, not the source's path and query secrets; the rerun
    puts them back from the config (the echo source answers 400 to a request without its
    ``tenant_ref``, and the path segment must be right), reads on from page 2 and finishes."""
    s_echo_source_fails_midway(lab, request)
    first = read_run(run_flow(str(lab.config_path), None))
    assert first.state_name == "Failed", first.state_message
    delivered = len(lab.inbox.records)
    assert delivered == 9  # page 1: ten records, one with a bad email quarantined

    lab.failing_pages.clear()
    second = read_run(run_flow(str(lab.config_path), None))

    assert second.state_name == "Completed", second.state_message
    assert len(lab.inbox.records) == RECORDS - RECORDS // BAD_EVERY  # no page read twice
    captured = capfd.readouterr()
    assert_no_canary(
        lab.canaries,
        ("stdout", captured.out),
        ("stderr", captured.err),
        *lab.sources(),
        *first.texts(),
        *second.texts(),
    )


# -- issue 7: what the Prefect API shows of a run -------------------------------------------------


def test_the_prefect_api_shows_counts_progress_and_audit_events_and_no_secret(
    prefect_harness: str, lab: Lab, request: pytest.FixtureRequest
) -> None:
    s_happy_file(lab, request)

    run = read_run(run_flow(str(lab.config_path), None))

    assert run.state_name == "Completed", run.state_message
    counts = run.artifact("canary-sweep-counts")
    assert counts["type"] == "table"
    rows = _table(counts["data"])
    assert {row["stage"]: row["records"] for row in rows} == {
        "extracted": 30,
        "skipped": 0,
        "valid": 27,
        "quarantined": 3,
        "loaded": 27,
        "failed": 0,
    }
    progress = run.artifact("canary-sweep-progress")
    assert progress["type"] == "progress"
    assert float(progress["data"]) == 100.0
    quarantined = _table(run.artifact("canary-sweep-quarantined-rows")["data"])
    assert len(quarantined) == 3
    assert "quarantined 3" in run.artifact("canary-sweep-quarantine")["data"]
    names = run.event_names()
    assert {"apilink.access.granted", "apilink.run.started", "apilink.run.completed"} <= names
    granted = next(e for e in run.events if e["event"] == "apilink.access.granted")
    assert granted["resource"]["prefect.resource.name"] == "operator1"
    assert granted["payload"]["outcome"] in {"granted", "ok", "allowed"}
    assert {"prefect.flow-run.Running", "prefect.flow-run.Completed"} <= names
    assert not find_canaries(lab.canaries, *run.texts()), find_canaries(lab.canaries, *run.texts())


def _table(data: Any) -> list[dict[str, Any]]:
    rows = json.loads(data) if isinstance(data, str) else data
    assert isinstance(rows, list)
    return rows


# -- the helper itself ----------------------------------------------------------------------------


def test_assert_no_canary_names_the_canary_the_place_and_the_context(tmp_path: Path) -> None:
    canaries = Canaries()
    value = canaries.new("demo")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "leaky.log").write_text(f"line one\nAuthorization: Bearer {value}\n")
    assert_no_canary(canaries, "nothing here", ("clean", b"nor here"))

    with pytest.raises(AssertionError) as caught:
        assert_no_canary(canaries, ("stderr", f"oops {value} oops"), tmp_path)

    message = str(caught.value)
    assert "2 canary leak(s)" in message
    assert "canary 'demo' leaked in stderr: ...oops <<demo>> oops..." in message
    assert "leaky.log" in message and "Bearer <<demo>>" in message
    assert value.startswith("canary-demo-") and len(value) == len("canary-demo-") + 16
