"""`apilink schema` and `apilink --version` as a user runs them: a subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import yaml

import apilink
from tests.fixtures.command import APILINK

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*APILINK, *args], capture_output=True, text=True, timeout=120)


def test_schema_prints_a_json_schema_the_demo_config_meets() -> None:
    done = run("schema")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    demo = yaml.safe_load((ROOT / "deployments" / "demo.yaml").read_text())
    jsonschema.Draft202012Validator(schema).validate(demo)


def test_schema_output_file(tmp_path: Path) -> None:
    out = tmp_path / "apilink.schema.json"
    done = run("schema", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["title"] == "apilink sync config"
    assert done.stdout == ""


def test_schema_to_an_unwritable_place_is_bad_input(tmp_path: Path) -> None:
    done = run("schema", "--output", str(tmp_path / "missing" / "x.json"))
    assert done.returncode == 2
    assert "cannot write" in done.stderr and "Traceback" not in done.stderr


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"apilink {apilink.__version__}"
