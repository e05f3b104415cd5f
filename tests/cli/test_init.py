"""`apilink init` as a user runs it (a subprocess): from the real Petstore document, from two
documents, from prompts fed on stdin; each written config passes `apilink validate`, and one
written from documents describing the demo APIs runs a real sync."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.apis import DemoApis
from tests.fixtures.command import APILINK

PETSTORE = (
    Path(__file__).parents[1] / "apilink" / "scaffold" / "documents" / "petstore-openapi.yaml"
)


def apilink(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*APILINK, *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=180,
        cwd=cwd,
        check=False,
    )


def _variables(stdout: str) -> list[str]:
    prefix = "set before running: "
    line = next((x for x in stdout.splitlines() if x.startswith(prefix)), "")
    return [v for v in line.removeprefix(prefix).split(", ") if v]


def test_init_from_the_petstore_document_writes_a_valid_config(tmp_path: Path) -> None:
    out = tmp_path / "sync.yaml"
    done = apilink(
        "init",
        "--from-openapi",
        str(PETSTORE),
        "--source",
        "GET:/pet/{petId}",
        "--target",
        "POST:/pet",
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert _variables(done.stdout) == ["SOURCE_API_KEY"]
    text = out.read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    config = yaml.safe_load(text)
    assert config["source"]["base_url"] == "https://petstore3.swagger.io/api/v3"
    assert config["source"]["auth"] == {
        "type": "api_key",
        "header": "api_key",
        "key": "${SOURCE_API_KEY}",
    }
    assert config["target"]["endpoints"] == {"add_pet": {"path": "/pet", "method": "POST"}}
    assert {"source": "category.name", "target": "category.name"} in config["mapping"][0]["fields"]
    assert "oauth2 implicit flow" in text  # the target's only scheme is said, not guessed

    checked = apilink("validate", "-c", str(out), "--strict", env={"SOURCE_API_KEY": "k"})
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == ""  # no literal secret


def _demo_documents(tmp_path: Path) -> tuple[Path, Path]:
    """OpenAPI documents describing the demo source and target APIs (tests/fixtures/apis.py)."""
    user = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "profile": {"type": "object", "properties": {"first_name": {"type": "string"}}},
        },
    }
    source: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "Demo users", "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"token": []}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {"User": user},
        },
        "paths": {
            "/users": {
                "get": {
                    "operationId": "listUsers",
                    "parameters": [
                        {"name": "page", "in": "query", "schema": {"type": "integer"}},
                        {"name": "per_page", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "a page",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "data": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/User"},
                                            },
                                            "meta": {
                                                "type": "object",
                                                "properties": {"total": {"type": "integer"}},
                                            },
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            }
        },
    }
    profile = {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "nickname": {"type": "string"},
        },
    }
    target = {
        "openapi": "3.1.0",
        "info": {"title": "Demo profiles", "version": "1"},
        "paths": {
            "/profiles": {
                "post": {
                    "operationId": "createProfile",
                    "requestBody": {"content": {"application/json": {"schema": profile}}},
                    "responses": {"201": {"description": "created"}},
                }
            }
        },
    }
    paths = tmp_path / "source.yaml", tmp_path / "target.json"
    paths[0].write_text(yaml.safe_dump(source))
    paths[1].write_text(json.dumps(target))
    return paths


def test_init_from_two_documents_runs_a_real_sync(
    prefect_harness: str, demo_apis: DemoApis, tmp_path: Path
) -> None:
    source, target = _demo_documents(tmp_path)
    out = tmp_path / "sync.yaml"
    done = apilink(
        "init",
        "--from-openapi",
        str(source),
        "--source",
        "GET:/users",
        "--target-openapi",
        str(target),
        "--target",
        "POST:/profiles",
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert _variables(done.stdout) == ["SOURCE_BASE_URL", "SOURCE_TOKEN", "TARGET_BASE_URL"]
    config = yaml.safe_load(out.read_text())
    endpoint = config["source"]["endpoints"]["list_users"]
    assert endpoint["response_path"] == "data"
    assert endpoint["pagination"] == {
        "type": "page_number",
        "page_param": "page",
        "page_size_param": "per_page",
        "page_size": 100,
        "total_path": "meta.total",
    }
    assert config["source"]["auth"] == {"type": "bearer", "token": "${SOURCE_TOKEN}"}
    assert config["mapping"][0]["fields"] == [
        {"source": "id", "target": "id"},
        {"source": "email", "target": "email"},
    ]  # nickname has no source field: a commented suggestion
    assert '# - {source: "?", target: nickname}' in out.read_text()

    env = {
        "SOURCE_BASE_URL": demo_apis.source_url,
        "SOURCE_TOKEN": demo_apis.token,
        "TARGET_BASE_URL": demo_apis.target_url,
        "PREFECT_API_URL": prefect_harness,
    }
    assert apilink("validate", "-c", str(out), "--strict", env=env).returncode == 0
    ran = apilink("sync", "-c", str(out), "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    counts = json.loads(ran.stdout.strip().splitlines()[-1])
    assert counts["extracted"] == counts["loaded"] == len(demo_apis.users)
    received = {r["id"]: r for r in demo_apis.inbox.records}
    assert received == {u["id"]: {"id": u["id"], "email": u["email"]} for u in demo_apis.users}


ANSWERS = (
    "\n".join(
        [
            "crm-to-mail",  # name
            "https://crm.example.com/api",  # source URL
            "/contacts",  # source path
            "pagee",  # pagination: not a choice, asked again
            "offset",
            "items",  # records path
            "bearer",  # source auth
            "https://mail.example.com",  # target URL
            "/members/{email}",  # target path
            "PUT",  # target method
            "oauth2_client_credentials",  # target auth
            "https://mail.example.com/oauth/token",  # token URL
            "email=email, first_name=merge.FNAME",
        ]
    )
    + "\n"
)


def test_init_from_prompts_writes_a_valid_config(tmp_path: Path) -> None:
    done = apilink("init", stdin=ANSWERS, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "'pagee' is not one of" in done.stderr
    variables = _variables(done.stdout)
    assert variables == ["SOURCE_TOKEN", "TARGET_CLIENT_ID", "TARGET_CLIENT_SECRET"]
    config = yaml.safe_load((tmp_path / "sync.yaml").read_text())
    assert config["source"]["endpoints"]["list_contacts"]["pagination"] == {"type": "offset"}
    assert config["target"]["endpoints"]["send_members"] == {
        "path": "/members/{email}",
        "method": "PUT",
    }
    assert config["mapping"][0]["fields"][1] == {"source": "first_name", "target": "merge.FNAME"}

    env = dict.fromkeys(variables, "from-the-environment")
    checked = apilink("validate", "-c", "sync.yaml", "--strict", env=env, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--from-openapi", str(PETSTORE), "--source", "GET:/pets", "--target", "POST:/pet"],
            "no operation 'GET:/pets'",
        ),
        (
            ["--from-openapi", str(PETSTORE), "--target", "POST:/pet"],
            "--source METHOD:/path is required",
        ),
        (
            ["--from-openapi", "missing.yaml", "--source", "GET:/a", "--target", "POST:/b"],
            "no such OpenAPI document",
        ),
        (["--source", "GET:/a"], "go with --from-openapi"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = apilink("init", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "sync.yaml").exists()


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    (tmp_path / "sync.yaml").write_text("mine\n")
    args = [
        "init",
        "--from-openapi",
        str(PETSTORE),
        "--source",
        "GET:/pet/findByStatus",
        "--target",
        "POST:/pet",
    ]
    done = apilink(*args, cwd=tmp_path)
    assert done.returncode == 2 and "--force" in done.stderr
    assert (tmp_path / "sync.yaml").read_text() == "mine\n"
    assert apilink(*args, "--force", cwd=tmp_path).returncode == 0


def test_unanswered_prompts_exit_2(tmp_path: Path) -> None:
    done = apilink("init", stdin="only-a-name\n", cwd=tmp_path)
    assert done.returncode == 2
    assert "no input left" in done.stderr
