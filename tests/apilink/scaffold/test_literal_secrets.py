"""Literal secrets are named by key path; references (${VAR}, secret://) pass; the value is
never repeated."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from apilink.config import parse_config
from apilink.scaffold.literal_secrets import find_literal_secrets
from tests.security.canaries import Canaries, assert_no_canary

BASE = """
source:
  base_url: https://a.example.com
  endpoints:
    list: {path: /items}
target:
  base_url: https://b.example.com
  endpoints:
    add: {path: /items, method: POST}
mapping: [{source: list, target: add, fields: [{source: id, target: id}]}]
"""

# Every secret-bearing place of a config, with the key path a warning names.
PLACES = {
    "bearer token": ({"source": {"auth": {"type": "bearer", "token": "$S"}}}, "source.auth.token"),
    "api key": ({"target": {"auth": {"type": "api_key", "key": "$S"}}}, "target.auth.key"),
    "basic password": (
        {"source": {"auth": {"type": "basic", "username": "u", "password": "$S"}}},
        "source.auth.password",
    ),
    "oauth2 client secret": (
        {
            "source": {
                "auth": {
                    "type": "oauth2",
                    "client_id": "c",
                    "token_url": "https://a.example.com/t",
                    "client_secret": "$S",
                }
            }
        },
        "source.auth.client_secret",
    ),
    "vault token": (
        {
            "credentials": {
                "type": "vault",
                "url": "https://v.example.com",
                "auth": {"method": "token", "token": "$S"},
            }
        },
        "credentials.auth.token",
    ),
    "file store password": (
        {"credentials": {"type": "file", "path": "c.enc", "master_password": "$S"}},
        "credentials.master_password",
    ),
    "user api key": (
        {"security": {"users": [{"username": "a", "role": "admin", "api_key": "$S"}]}},
        "security.users[0].api_key",
    ),
    "master password": ({"security": {"master_password": "$S"}}, "security.master_password"),
    "authorization header": (
        {"source": {"headers": {"Authorization": "$S"}}},
        "source.headers.Authorization",
    ),
    "endpoint api_key param": (
        {"source": {"endpoints": {"list": {"path": "/items", "params": {"api_key": "$S"}}}}},
        "source.endpoints.list.params.api_key",
    ),
}


def _config(change: dict[str, Any], secret: str) -> dict[str, Any]:
    config = yaml.safe_load(BASE)
    _merge(config, _substitute(change, secret))
    return config


def _substitute(value: Any, secret: str) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, secret) for v in value]
    return value.replace("$S", secret) if isinstance(value, str) else value


def _merge(into: dict[str, Any], change: dict[str, Any]) -> None:
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_literal_secret_is_named_by_its_key(place: str) -> None:
    canaries = Canaries()
    secret = canaries.new("literal")
    change, path = PLACES[place]

    config = _config(change, secret)
    parse_config(yaml.safe_dump(config))  # a config the models accept: the place is real

    found = find_literal_secrets(config)

    assert [f.path for f in found] == [path]
    assert "${VAR}" in found[0].message and "secret://" in found[0].message
    assert_no_canary(canaries, *(f.message for f in found))


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("reference", ["${SOME_TOKEN}", "secret://crm#token"])
def test_references_pass(place: str, reference: str) -> None:
    change, _ = PLACES[place]
    assert find_literal_secrets(_config(change, reference)) == []


def test_a_literal_default_of_a_variable_is_named() -> None:
    change, path = PLACES["bearer token"]
    found = find_literal_secrets(_config(change, "${TOKEN:-sk-live-abc}"))
    assert [(f.path, f.in_default) for f in found] == [(path, True)]


def test_harmless_headers_and_params_pass() -> None:
    config = _config(
        {
            "source": {
                "headers": {"Accept": "application/json"},
                "endpoints": {"list": {"path": "/items", "params": {"page": 1, "per_page": 50}}},
            }
        },
        "",
    )
    assert find_literal_secrets(config) == []
