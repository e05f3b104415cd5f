"""The worker's policy from its environment, and what a caller's config may not say."""

from __future__ import annotations

import pytest

from apilink.config.models import SecurityConfig
from apilink.errors import ConfigError, PolicyRefused
from apilink.rbac.policy import ConfigOrigin, WorkerPolicy, refuse_caller_security

FILE, PARAM, BLOCK = ConfigOrigin.WORKER_FILE, ConfigOrigin.PARAMETER, ConfigOrigin.BLOCK
ON = SecurityConfig(enable_access_control=True)
OFF = SecurityConfig()


@pytest.mark.parametrize(
    ("env", "security", "origin", "enabled"),
    [
        ({}, OFF, FILE, False),  # unset: a file on the worker decides (the guide)
        ({}, ON, FILE, True),
        ({}, OFF, PARAM, True),  # unset: a caller's config is checked (fail closed)
        ({}, OFF, BLOCK, True),
        ({"APILINK_ACCESS_CONTROL": "off"}, OFF, PARAM, False),
        ({"APILINK_ACCESS_CONTROL": "off"}, ON, FILE, True),
        ({"APILINK_ACCESS_CONTROL": "on"}, OFF, FILE, True),
    ],
)
def test_who_decides(
    env: dict[str, str], security: SecurityConfig, origin: ConfigOrigin, enabled: bool
) -> None:
    assert WorkerPolicy.from_env(env).enabled_for(security, origin) is enabled


def test_bad_value_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="use `on` or `off`"):
        WorkerPolicy.from_env({"APILINK_ACCESS_CONTROL": "maybe"})


def test_the_operators_users_file_wins_over_a_config_file() -> None:
    policy = WorkerPolicy.from_env({"APILINK_USERS_FILE": "/srv/users.json"})
    mine = SecurityConfig(enable_access_control=True, users_file="/tmp/mine.json")
    assert policy.security_for(mine, FILE).users_file == "/srv/users.json"
    assert policy.security_for(mine, PARAM).users_file == "/srv/users.json"
    assert WorkerPolicy().security_for(mine, PARAM).users_file is None


@pytest.mark.parametrize(
    ("security", "problem"),
    [
        ({"users": [{"username": "eve", "role": "admin"}]}, "declares users"),
        ({"users_file": "/tmp/u.json"}, "names a users file"),
        ({"enable_access_control": False}, "switches access control off"),
    ],
)
def test_caller_configs_cannot_change_the_policy(security: dict[str, object], problem: str) -> None:
    with pytest.raises(PolicyRefused, match=problem) as info:
        refuse_caller_security({"security": security}, PARAM, "<p>", enabled=True)
    assert "APILINK_ACCESS_CONTROL" in str(info.value) and "config_path" in str(info.value)
    refuse_caller_security({"security": security}, FILE, "f.yaml", enabled=True)  # the operator's


def test_off_says_nothing_when_the_worker_has_it_off() -> None:
    refuse_caller_security(
        {"security": {"enable_access_control": False}}, PARAM, "p", enabled=False
    )
