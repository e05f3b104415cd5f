"""The SyncConfig block: Prefect's standard suite, both shapes, RBAC on save, a saved round
trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import SecretStr, ValidationError

from apilink.config import SecurityConfig, UserConfig
from apilink.errors import AccessDenied, ConfigError
from apilink.rbac import AccessControl
from blocks.sync_config import SyncConfig

DEMO = Path(__file__).resolve().parents[2] / "deployments" / "demo.yaml"
ENV = {
    "DEMO_SOURCE_URL": "http://127.0.0.1:9001",
    "DEMO_TARGET_URL": "http://127.0.0.1:9002",
    "DEMO_SOURCE_TOKEN": "canary-token",
}


class TestSyncConfigStandard(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return SyncConfig


def test_form_fields_have_titles_and_descriptions() -> None:
    properties = SyncConfig.model_json_schema()["properties"]
    assert set(properties) == {"config_yaml", "config", "approval"}
    assert properties["config_yaml"]["title"] == "Config (YAML)"
    assert properties["config_yaml"]["format"] == "textarea"
    assert all(p["description"] for p in properties.values())


def test_yaml_block_validates_into_the_engine_config() -> None:
    block = SyncConfig(config_yaml=DEMO.read_text())
    config = block.sync_config(env=ENV)
    assert config.name == "demo"
    assert config.source.base_url == ENV["DEMO_SOURCE_URL"]
    assert block.raw()["source"]["auth"]["token"] == "${DEMO_SOURCE_TOKEN}"


def test_mapping_block_gives_the_same_config() -> None:
    as_mapping = SyncConfig(config=yaml.safe_load(DEMO.read_text()))
    as_yaml = SyncConfig(config_yaml=DEMO.read_text())
    assert as_mapping.sync_config(env=ENV) == as_yaml.sync_config(env=ENV)


@pytest.mark.parametrize(
    "fields",
    [{}, {"config_yaml": "name: x", "config": {"name": "x"}}],
    ids=["neither", "both"],
)
def test_exactly_one_shape(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        SyncConfig.model_validate(fields)


@pytest.mark.parametrize("text", ["- a list", "key: [unclosed"])
def test_yaml_that_is_not_a_mapping_is_refused_when_saved(text: str) -> None:
    with pytest.raises(ValidationError):
        SyncConfig(config_yaml=text)


def test_config_errors_name_the_key_not_the_value() -> None:
    raw = yaml.safe_load(DEMO.read_text())
    raw["source"]["auth"]["tokn"] = "canary-value"
    with pytest.raises(ConfigError) as caught:
        SyncConfig(config=raw).sync_config(env=ENV)
    assert "source.auth.tokn" in str(caught.value)
    assert "canary" not in str(caught.value)


def test_undefined_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="DEMO_TARGET_URL"):
        SyncConfig(config_yaml=DEMO.read_text()).sync_config(
            env={k: v for k, v in ENV.items() if k != "DEMO_TARGET_URL"}
        )


def _access() -> AccessControl:
    return AccessControl.from_config(
        SecurityConfig(
            enable_access_control=True,
            users=[
                UserConfig(username="dev1", role="developer", api_key=SecretStr("dev-key-1")),
                UserConfig(username="ops1", role="operator", api_key=SecretStr("ops-key-1")),
            ],
        )
    )


def test_saving_needs_edit_config() -> None:
    block = SyncConfig(config_yaml=DEMO.read_text())
    with pytest.raises(AccessDenied, match="edit_config"):
        block.save_checked("apilink-test-denied", access=_access(), api_key="ops-key-1")


@pytest.mark.usefixtures("prefect_harness")
def test_developer_saves_and_a_run_loads_it_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APILINK_WORKER_KEY", "w" * 40)
    block = SyncConfig(config_yaml=DEMO.read_text())
    block.save_checked("apilink-test-sync", access=_access(), api_key="dev-key-1")
    loaded: SyncConfig = SyncConfig.load("apilink-test-sync")  # type: ignore[assignment]
    assert loaded.sync_config(env=ENV).name == "demo"
    assert "canary-token" not in loaded.model_dump_json()
    assert loaded.approval is not None  # sealed: a run of it needs run_sync only
