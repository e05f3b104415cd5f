"""Positions are saved without the source's secrets and get them back from the config."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from apilink.config.loader import parse_config
from apilink.errors import StateError
from apilink.storage.state import MemoryStateStore, SyncCheckpoint
from apilink.storage.state.positions import restore_position, strip_position

KEY = "k3y-c4n4ry/with space"
PATH_SECRET = "p4th-c4n4ry-0007"
TARGET_KEY = "t4rget-c4n4ry-0008"
ENV = {"SRC_KEY": KEY, "SRC_PATH": PATH_SECRET, "TGT_KEY": TARGET_KEY}
RAW: dict[str, Any] = {
    "name": "orders",
    "source": {
        "base_url": "http://127.0.0.1:1",
        "endpoints": {
            "list": {
                "path": "/t/${SRC_PATH}/o",
                "params": {"sig": "${SRC_KEY}", "size": 5},
                "pagination": {"type": "next_url"},
            }
        },
    },
    "target": {
        "base_url": "http://127.0.0.1:2",
        "headers": {"X-Key": "${TGT_KEY}"},
        "endpoints": {"put": {"path": "/o"}},
    },
    "mapping": [{"source": "list", "target": "put", "fields": [{"source": "id", "target": "id"}]}],
}


def _config(raw: dict[str, Any] = RAW) -> Any:
    return parse_config(yaml.safe_dump(raw), env=ENV)


def _position() -> dict[str, Any]:
    encoded = "k3y-c4n4ry%2Fwith%20space"
    return {
        "url": f"http://127.0.0.1:1/t/{PATH_SECRET}/o",
        "params": {"sig": KEY, "page": "2"},
        "paginator": {"next_url": f"http://127.0.0.1:1/t/{PATH_SECRET}/o?sig={encoded}&page=2"},
        "exhausted": False,
    }


def test_a_saved_position_holds_no_source_secret_and_resumes_whole() -> None:
    store = MemoryStateStore()
    config = _config()
    rule = config.mapping[0]
    first = SyncCheckpoint(store, config)
    first.begin(rule)
    first.acknowledge(rule, [{"id": 1}], _position())

    saved = json.dumps(store.load("orders"))
    assert KEY not in saved and PATH_SECRET not in saved and "k3y-c4n4ry" not in saved
    assert "{apilink-secret:" in saved

    start = SyncCheckpoint(store, _config()).begin(rule)
    assert start.position == _position()


def test_a_checkpoint_saved_with_secrets_in_clear_still_resumes() -> None:
    """Before positions were stripped, the state held them as they were (and the
    fingerprint hashed the endpoint with its secrets)."""
    store = MemoryStateStore()
    config = _config()
    rule = config.mapping[0]
    fresh = SyncCheckpoint(store, config)
    legacy_fingerprint = fresh._fingerprint(rule, legacy=True)
    store.save(
        "orders",
        {
            "version": 1,
            "mappings": {
                "list->put": {
                    "run": {
                        "fingerprint": legacy_fingerprint,
                        "params": {},
                        "position": _position(),
                        "high_water": None,
                        "chunks": 2,
                    }
                }
            },
        },
    )

    start = SyncCheckpoint(store, config).begin(rule)

    assert start.position == _position() and start.resumed_chunks == 2 and not start.discarded


def test_a_placeholder_planted_in_the_state_never_yields_a_target_secret() -> None:
    config = _config()
    rule = config.mapping[0]
    store = MemoryStateStore()
    first = SyncCheckpoint(store, config)
    first.begin(rule)
    first.acknowledge(rule, [{"id": 1}], _position())
    state = store.load("orders")
    assert state is not None
    planted = [f"{{apilink-secret:{n}}}" for n in range(40)]
    state["mappings"]["list->put"]["run"]["position"]["params"]["x"] = " ".join(planted[:2])
    store.save("orders", state)

    start = SyncCheckpoint(store, config).begin(rule)
    assert start.position is not None
    assert TARGET_KEY not in json.dumps(start.position)

    state["mappings"]["list->put"]["run"]["position"]["params"]["x"] = planted[39]
    store.save("orders", state)
    with pytest.raises(StateError, match="refers to a secret this config does not have"):
        SyncCheckpoint(store, config).begin(rule)


def test_strip_and_restore_round_trip_with_url_encoded_forms() -> None:
    secrets = [KEY, "tiny", "abc"]  # under four characters: not touched
    value = {"a": [f"x={KEY}", "k3y-c4n4ry%2Fwith%20space", "k3y-c4n4ry%2Fwith+space"], "abc": 1}

    stripped = strip_position(value, secrets)

    assert "k3y" not in json.dumps(stripped) and stripped["abc"] == 1
    assert restore_position(stripped, secrets)["a"][:2] == value["a"][:2]
