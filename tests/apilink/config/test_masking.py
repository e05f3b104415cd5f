"""``${VAR}`` / ``secret://`` values in plain strings: known as secrets, masked in reprs and
dumps (trusted: the config's author and the worker's operator; not trusted: readers of logs,
reprs and dumps)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apilink.config import build_config
from apilink.config.masking import revealed_dump
from apilink.credentials import resolve_references
from apilink.credentials.base import CredentialStore
from apilink.redaction import MASK, Redactor, secret_values

HEADER = "hdr-c4n4ry-0001"
PARAM = "prm-c4n4ry-0002"
PATH = "pth-c4n4ry-0003"
BASE_PATH = "bse-c4n4ry-0004"
USER = "us3r-c4n4ry"
PASSWORD = 'pa"ss\\w0rd-c4n4ry'
ENV = {
    "HDR": HEADER,
    "PRM": PARAM,
    "PTH": PATH,
    "BSE": BASE_PATH,
    "HOST": "api.example.com",
    "USR": USER,
    "PWD": PASSWORD,
}


def _raw() -> dict[str, Any]:
    return {
        "name": "masking",
        "source": {
            "base_url": "https://${HOST}/v1/${BSE}",
            "headers": {"X-Tenant": "${HDR}", "Accept": "application/json"},
            "auth": {"type": "basic", "username": "${USR}", "password": "${PWD}"},
            "endpoints": {
                "users": {"path": "/users/${PTH}", "params": {"sig": "${PRM}", "size": 10}}
            },
        },
        "target": {
            "base_url": "https://t.example.com",
            "headers": {"X-Ref": "secret://target#ref"},
            "endpoints": {"out": {"path": "/out", "method": "POST"}},
        },
        "mapping": [{"source": "users", "target": "out", "fields": []}],
    }


SECRETS = (HEADER, PARAM, PATH, BASE_PATH, PASSWORD)


def test_values_in_headers_params_and_url_paths_are_known_secrets() -> None:
    config = build_config(_raw(), env=ENV)

    found = secret_values(config)

    assert set(SECRETS) | {USER, f"{USER}:{PASSWORD}"} <= found
    assert "api.example.com" not in found  # a host is not a secret
    assert "application/json" not in found


@pytest.mark.parametrize("show", [repr, str])
def test_repr_of_sync_connection_and_endpoint_masks_them(show: Any) -> None:
    config = build_config(_raw(), env=ENV)

    for shown in (show(config), show(config.source), show(config.source.endpoints["users"])):
        for secret in SECRETS:
            assert secret not in shown
    assert MASK in repr(config.source)
    assert "api.example.com" in repr(config.source)


def test_model_dump_masks_them_and_revealed_dump_does_not() -> None:
    config = build_config(_raw(), env=ENV)

    for dumped in (
        json.dumps(config.model_dump(mode="json")),
        config.model_dump_json(),
        json.dumps(config.source.model_dump(mode="json")),
        json.dumps(config.source.endpoints["users"].model_dump(mode="json")),
        str(config.model_dump()),
    ):
        for secret in SECRETS:
            assert secret not in dumped, dumped
    revealed = revealed_dump(config, mode="json")
    assert revealed["source"]["headers"]["X-Tenant"] == HEADER
    assert revealed["source"]["endpoints"]["users"]["params"]["sig"] == PARAM
    # the masked copy still validates: callers that rebuild a config from a dump keep working
    assert config.model_dump(mode="json")["source"]["headers"]["Accept"] == "application/json"


class _Store(CredentialStore):
    def __init__(self, entries: dict[str, dict[str, Any]]) -> None:
        self.entries = entries

    def get(self, name: str) -> dict[str, Any]:
        return self.entries[name]

    def put(self, name: str, value: dict[str, Any]) -> None:
        self.entries[name] = value

    def delete(self, name: str) -> None:
        self.entries.pop(name, None)

    def list(self) -> list[str]:
        return sorted(self.entries)


def test_secret_references_in_headers_are_registered_and_masked() -> None:
    stored = "ref-c4n4ry-0005"
    config = build_config(_raw(), env=ENV)

    resolved = resolve_references(config, _Store({"target": {"ref": stored}}))

    assert resolved.target.headers["X-Ref"] == stored
    assert stored in secret_values(resolved)
    assert stored not in repr(resolved) and stored not in resolved.model_dump_json()
    assert set(SECRETS) <= secret_values(resolved)  # the ${VAR} ones survive the copy


def test_the_redactor_masks_the_forms_they_travel_in() -> None:
    import base64
    from urllib.parse import quote

    config = build_config(_raw(), env=ENV)
    redactor = Redactor(secret_values(config), ())
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    echoed = json.dumps(
        {
            "headers": [["authorisation-ish", f"Basic {basic}"], ["x-tenant", HEADER]],
            "body": {"pw": PASSWORD},
            "url": f"/v1/{quote(BASE_PATH)}/users/{PATH}?sig={quote(PARAM)}",
        }
    )

    masked = redactor.text(echoed)

    for needle in (basic, json.dumps(PASSWORD)[1:-1], HEADER, PATH, PARAM, BASE_PATH):
        assert needle not in masked, masked


def test_the_clients_headers_are_never_logged_in_clear(caplog: pytest.LogCaptureFixture) -> None:
    """httpx masks only ``Authorization`` in ``repr(client.headers)``; the run's redaction
    knows the ``${VAR}`` header values, so a log line that shows the client's headers (or
    the config) is masked."""
    import logging

    import httpx

    from apilink.http.sending import build_client
    from apilink.redaction import install_redaction

    config = build_config(_raw(), env=ENV)
    client = build_client(
        config.source,
        timeout=config.timeout_for(config.source),
        auth=None,
        transport=httpx.MockTransport(lambda request: httpx.Response(200)),
    )
    assert HEADER in repr(client.headers)  # httpx's own repr would show it
    handle = install_redaction(secret_values(config), (), extra_handlers=[caplog.handler])
    try:
        with caplog.at_level(logging.DEBUG, logger="apilink"):
            logging.getLogger("apilink.test").debug(
                "client headers %s, config %s", client.headers, config
            )
    finally:
        handle.remove()
    assert "client headers" in caplog.text
    for secret in SECRETS:
        assert secret not in caplog.text
