"""Prefect Secret blocks as a credential store, against a started Prefect server."""

from __future__ import annotations

import pytest
from prefect.blocks.system import Secret

from apilink.errors import CredentialExpired, CredentialNotFound
from blocks.secrets import PrefectSecretStore

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_json_secret_gives_fields_and_a_plain_one_its_value() -> None:
    Secret(value={"token": "t-1", "user": "u"}).save("sec-json", overwrite=True)
    Secret(value='{"token": "t-2"}').save("sec-json-text", overwrite=True)
    Secret(value="pk-canary-5").save("sec-plain", overwrite=True)
    store = PrefectSecretStore()

    assert store.get("sec-json") == {"token": "t-1", "user": "u"}
    assert store.get("sec-json-text") == {"token": "t-2"}
    assert store.get("sec-plain") == {"value": "pk-canary-5"}
    assert {"sec-json", "sec-json-text", "sec-plain"} <= set(store.list())
    assert "canary" not in repr(store)


def test_put_overwrites_and_delete_removes() -> None:
    store = PrefectSecretStore()
    store.put("sec-rotated", {"refresh_token": "r-1"})
    store.put("sec-rotated", {"refresh_token": "r-2"})
    assert store.get("sec-rotated") == {"refresh_token": "r-2"}
    store.put("sec-one", {"value": "plain"})
    assert Secret.load("sec-one").get() == "plain"
    store.delete("sec-rotated")
    with pytest.raises(CredentialNotFound, match="no Prefect Secret block named 'sec-rotated'"):
        store.get("sec-rotated")


def test_an_expired_entry_is_refused() -> None:
    store = PrefectSecretStore(now=lambda: 100.0)
    store.put("sec-old", {"token": "x", "expires_at": 50})
    with pytest.raises(CredentialExpired, match="'sec-old'"):
        store.get("sec-old")
