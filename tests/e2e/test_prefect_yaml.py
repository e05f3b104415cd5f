"""prefect.yaml and the deployed configs, checked without a server: every config validates with
`apilink validate`, holds no literal secret, and example schedules start inactive."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app

REPO = Path(__file__).resolve().parents[2]
PREFECT_YAML = yaml.safe_load((REPO / "prefect.yaml").read_text())
DEPLOYMENTS: list[dict[str, Any]] = PREFECT_YAML["deployments"]
CONFIGS = sorted((REPO / "deployments").rglob("*.yaml"))
SECRET_KEYS = {"key", "token", "password", "client_secret", "secret_id", "master_password"}
REFERENCE = re.compile(r"^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|secret://\S+)$")
AUTH_TYPES = {
    "api_key",
    "bearer",
    "basic",
    "oauth2_client_credentials",
    "oauth2_pkce",
    "oauth2_device_flow",
}


def _env_for(text: str) -> dict[str, str]:
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))
    env = {name: f"placeholder-{name.lower()}" for name in names}
    env.update({n: "http://127.0.0.1:9" for n in names if n.endswith("_URL")})
    return env


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_config_validates_with_the_cli(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _env_for(path.read_text()).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["validate", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def _secret_values(node: Any, key: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [pair for k, v in node.items() for pair in _secret_values(v, k)]
    if isinstance(node, list):
        return [pair for v in node for pair in _secret_values(v, key)]
    return [(key, node)] if key in SECRET_KEYS else []


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_config_holds_references_not_secrets(path: Path) -> None:
    found = _secret_values(yaml.safe_load(path.read_text()))
    for key, value in found:
        assert isinstance(value, str) and REFERENCE.match(value), f"literal `{key}` in {path}"


def test_every_auth_type_has_an_example() -> None:
    types = set()
    for path in (REPO / "deployments" / "examples").glob("*.yaml"):
        config = yaml.safe_load(path.read_text())
        for side in ("source", "target"):
            auth = config[side].get("auth") or {}
            types.add(
                "oauth2_client_credentials" if auth.get("type") == "oauth2" else auth.get("type")
            )
    assert types >= AUTH_TYPES


def test_deployments_point_at_existing_configs_on_the_apilink_pool() -> None:
    for deployment in DEPLOYMENTS:
        assert deployment["work_pool"]["name"] == "apilink"
        assert "apilink" in deployment["tags"]
        path = deployment.get("parameters", {}).get("config_path")
        if path is not None:
            assert (REPO / path).is_file(), deployment["name"]
        module, _, function = deployment["entrypoint"].partition(":")
        assert f"def {function}(" in (REPO / module).read_text()


def test_example_schedules_start_inactive() -> None:
    scheduled = [d for d in DEPLOYMENTS if d.get("schedules")]
    assert len(scheduled) >= 6
    for deployment in scheduled:
        assert "example" in deployment["tags"]
        assert all(schedule["active"] is False for schedule in deployment["schedules"])


def test_pull_step_sets_the_working_directory() -> None:
    (step,) = PREFECT_YAML["pull"]
    assert step == {
        "prefect.deployments.steps.set_working_directory": {"directory": "{{ $APILINK_HOME }}"}
    }
