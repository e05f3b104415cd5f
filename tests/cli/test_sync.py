"""`apilink sync` and `apilink validate` as a user runs them: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.fixtures.apis import DemoApis
from tests.fixtures.command import APILINK

# The endpoint shape of an APILinker config: endpoints by name, the pagination keys it uses
# (data_path, next_page_path, page_param), dotted and indexed paths, a transform list.
APILINKER_SHAPED = """
source:
  type: rest
  base_url: ${DEMO_SOURCE_URL}
  auth:
    type: bearer
    token: ${DEMO_SOURCE_TOKEN}
  endpoints:
    list_users:
      path: /users
      method: GET
      params: {per_page: 40}
      pagination:
        data_path: data
        next_page_path: meta.next_page
        page_param: page
target:
  type: rest
  base_url: ${DEMO_TARGET_URL}
  endpoints:
    create_profile:
      path: /profiles
      method: POST
      batch: true
      batch_size: 25
mapping:
  - source: list_users
    target: create_profile
    fields:
      - source: id
        target: user.id
      - source: email
        target: user.emails[0]
        transform: [strip, lowercase]
      - source: profile.last_name
        target: user.surname
        transform: uppercase
    validation:
      required_fields: [id, email]
      email_fields: [email]
"""


def apilink(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*APILINK, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=180,
        check=False,
    )


def test_sync_json_moves_every_mapped_record_and_no_invalid_one(
    prefect_harness: str, demo_apis: DemoApis, tmp_path: Path
) -> None:
    config = tmp_path / "apilinker.yaml"
    config.write_text(APILINKER_SHAPED)

    done = apilink("sync", "-c", str(config), "--json", env={"PREFECT_API_URL": prefect_harness})

    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    outcome = json.loads(lines[0])
    assert uuid.UUID(outcome.pop("run_id"))
    assert Path(outcome.pop("quarantine_file")).is_file()
    assert outcome == {
        "state": "Completed",
        "extracted": 120,
        "skipped": 0,
        "valid": 112,
        "quarantined": 8,
        "loaded": 112,
        "failed": 0,
        "error": None,
        "dead_letter_file": None,
    }
    expected = {
        u["id"]: {
            "user": {
                "id": u["id"],
                "emails": [u["email"].strip().lower()],
                "surname": u["profile"]["last_name"].upper(),
            }
        }
        for u in demo_apis.users
        if "@" in u["email"]
    }
    received = {r["user"]["id"]: r for r in demo_apis.inbox.records}
    assert received == expected
    assert demo_apis.inbox.requests == 5  # 112 records in batches of 25
    assert demo_apis.token not in done.stdout + done.stderr


def test_quiet_keeps_prefect_lines_out_of_a_clean_run(
    prefect_harness: str, demo_apis: DemoApis, tmp_path: Path
) -> None:
    config = tmp_path / "clean.yaml"
    config.write_text(APILINKER_SHAPED.replace("email_fields: [email]", "email_fields: []"))

    loud = apilink("sync", "-c", str(config), env={"PREFECT_API_URL": prefect_harness})
    quiet = apilink("sync", "-c", str(config), "-q", env={"PREFECT_API_URL": prefect_harness})

    assert (loud.returncode, quiet.returncode) == (0, 0), quiet.stderr
    assert "Finished in state Completed" in loud.stderr
    assert quiet.stderr == ""
    assert quiet.stdout == loud.stdout and "loaded" in quiet.stdout


def test_a_failed_run_exits_non_zero(
    prefect_harness: str, demo_apis: DemoApis, tmp_path: Path
) -> None:
    config = tmp_path / "apilinker.yaml"
    config.write_text(APILINKER_SHAPED)
    env = {"PREFECT_API_URL": prefect_harness, "DEMO_SOURCE_TOKEN": "wrong-token"}

    done = apilink("sync", "-c", str(config), "--json", env=env)

    assert done.returncode == 1
    assert "401" in done.stderr
    assert "Traceback" not in done.stderr.split("error:")[-1]
    assert demo_apis.inbox.requests == 0


# 9 levels of 9 aliases: 731 bytes of YAML that a copying walker sees as 387 million values.
ALIAS_BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)
)

BAD_CONFIGS = {
    "alias bomb": (ALIAS_BOMB, "the limit is 100,000"),
    "deep nesting": (
        "source: " + "[" * 100 + "]" * 100 + "\n",
        "nests deeper than the limit of 64",
    ),
    "too large": ("# " + "x" * 1_100_000 + "\n", "the limit is 1,048,576 bytes"),
    "unknown key": ("source:\n  base_url: https://a\n  endpionts: {}\n", "endpionts"),
    "wrong type": ("", "max_attempts"),
    "unknown transformer": ("", "stripp"),
    "undefined variable": ("", "APILINK_TEST_UNSET_VARIABLE"),
    "python tag": ("!!python/object/apply:os.system ['true']\n", "python/object"),
    "unknown auth type": (
        "",
        "`source.auth.type`: 'bearr' is not one of the valid values: api_key, bearer, basic",
    ),
    "timeout as text": (
        "",
        "`source.timeout`: expected a mapping of connect, deadline, pool, read, write, or a "
        "number of seconds",
    ),
}


def _bad_config(kind: str) -> str:
    text, _ = BAD_CONFIGS[kind]
    if text:
        return text
    base = APILINKER_SHAPED
    if kind == "wrong type":
        return base.replace(
            "  endpoints:\n    list_users",
            "  retry: {max_attempts: many}\n  endpoints:\n    list_users",
        )
    if kind == "unknown transformer":
        return base.replace("transform: uppercase", "transform: stripp")
    if kind == "unknown auth type":
        return base.replace("type: bearer", "type: bearr", 1)
    if kind == "timeout as text":
        return base.replace(
            "  endpoints:\n    list_users", "  timeout: fast\n  endpoints:\n    list_users"
        )
    return base.replace("${DEMO_TARGET_URL}", "${APILINK_TEST_UNSET_VARIABLE}")


@pytest.mark.parametrize("command", ["sync", "validate"])
@pytest.mark.parametrize("kind", sorted(BAD_CONFIGS))
def test_bad_configs_give_one_paragraph_and_exit_2(kind: str, command: str, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(_bad_config(kind))
    env = {"DEMO_SOURCE_URL": "http://127.0.0.1:9", "DEMO_TARGET_URL": "http://127.0.0.1:9"}
    env["DEMO_SOURCE_TOKEN"] = "canary-token-value"

    done = apilink(command, "-c", str(config), env=env)

    assert done.returncode == 2
    assert done.stdout == ""
    message = done.stderr.strip()
    assert message.startswith(f"error: {config}")
    assert len(message.splitlines()) == 1
    assert "Traceback" not in message
    assert "Input " not in message  # pydantic's own wording ("Input should be ...")
    assert BAD_CONFIGS[kind][1] in message
    assert "canary-token-value" not in message


def test_missing_config_file(tmp_path: Path) -> None:
    done = apilink("validate", "-c", str(tmp_path / "nowhere.yaml"))
    assert done.returncode == 2
    assert "no such config file" in done.stderr
    assert "Traceback" not in done.stderr


def test_validate_accepts_the_demo_config(demo_apis: DemoApis) -> None:
    from apilink.demo import demo_config_path

    done = apilink("validate", "-c", demo_config_path())
    assert done.returncode == 0, done.stderr
    assert "valid (list_users -> create_profile)" in done.stdout


def test_the_text_summary_says_where_the_quarantined_records_are(
    prefect_harness: str, demo_apis: DemoApis, _state_dir: Path
) -> None:
    from apilink.demo import demo_config_path

    done = apilink("sync", "-c", demo_config_path(), env={"PREFECT_API_URL": prefect_harness})

    assert done.returncode == 0, done.stderr
    assert "quarantined: field `email` is not a valid email address (8)" in done.stdout
    line = next(x for x in done.stdout.splitlines() if "quarantine file:" in x)
    path = Path(line.split("quarantine file:", 1)[1].strip())
    assert path.is_relative_to(_state_dir) and len(path.read_text().splitlines()) == 8
