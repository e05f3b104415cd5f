"""``apilink sync`` with its secrets in AWS Secrets Manager (moto's server on loopback) or in
Prefect Secret blocks (a started Prefect server): the source token is a field of a JSON secret,
the target's token a plain-string secret, and neither value appears in anything the run
prints."""

from __future__ import annotations

import json
from pathlib import Path

from prefect.blocks.system import Secret
from prefect.settings import PREFECT_API_URL, temporary_settings

from apilink.demo import TargetInbox, make_target_app, serve
from tests.cli.test_sync import APILINKER_SHAPED, apilink
from tests.fixtures.apis import DemoApis
from tests.fixtures.aws import AWS_TEST_ENV, MotoServer


def _config(tmp_path: Path, credentials: str) -> Path:
    config = tmp_path / "stored.yaml"
    config.write_text(
        credentials
        + APILINKER_SHAPED.replace("${DEMO_SOURCE_TOKEN}", "secret://demo-source#token").replace(
            "  base_url: ${DEMO_TARGET_URL}\n",
            "  base_url: ${DEMO_TARGET_URL}\n"
            "  auth: {type: bearer, token: 'secret://demo-target-key'}\n",
        )
    )
    return config


def _sync(config: Path, demo_apis: DemoApis, env: dict[str, str]) -> None:
    inbox = TargetInbox()
    with serve(make_target_app(inbox, token="tk-canary-41")) as target_url:
        env = env | {"DEMO_SOURCE_URL": demo_apis.source_url, "DEMO_TARGET_URL": target_url}
        done = apilink("sync", "-c", str(config), "--json", env=env)

    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert (outcome["loaded"], outcome["quarantined"]) == (112, 8)
    assert len(inbox.records) == 112  # the target took the token from the plain-string secret
    for secret in (demo_apis.token, "tk-canary-41"):
        assert secret not in done.stdout + done.stderr


def test_a_sync_reads_its_secrets_from_aws_secrets_manager(
    prefect_harness: str, demo_apis: DemoApis, moto_server: MotoServer, tmp_path: Path
) -> None:
    aws = moto_server.client()
    aws.create_secret(Name="demo-source", SecretString=json.dumps({"token": demo_apis.token}))
    aws.create_secret(Name="demo-target-key", SecretString="tk-canary-41")
    credentials = (
        "credentials:\n  type: aws_secrets_manager\n  region: eu-west-1\n"
        f"  endpoint_url: {moto_server.url}\n"
    )
    _sync(
        _config(tmp_path, credentials),
        demo_apis,
        {**AWS_TEST_ENV, "PREFECT_API_URL": prefect_harness},
    )


def test_a_sync_reads_its_secrets_from_prefect_secret_blocks(
    prefect_harness: str, demo_apis: DemoApis, tmp_path: Path
) -> None:
    with temporary_settings({PREFECT_API_URL: prefect_harness}):
        Secret(value={"token": demo_apis.token}).save("demo-source", overwrite=True)
        Secret(value="tk-canary-41").save("demo-target-key", overwrite=True)
    credentials = "credentials: {type: prefect_secret}\n"
    _sync(_config(tmp_path, credentials), demo_apis, {"PREFECT_API_URL": prefect_harness})
