"""Sealed fields: secret-named values encrypted in a file, restored for a replay."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from apilink.errors import StateError
from apilink.storage.sealing import SEALED, FieldSealer

RECORD = {
    "id": 7,
    "password": "hunter2-canary",
    "profile": {"api-token": {"value": "tok-canary"}, "name": "Ada"},
    "contacts": [{"Secret_Answer": "blue-canary"}],
}


def test_secret_named_values_are_sealed_at_any_depth_and_restored(tmp_path: Path) -> None:
    sealer = FieldSealer(tmp_path / "k.key", ["password", "token", "secret"])
    sealed = sealer.seal(RECORD)

    text = json.dumps(sealed)
    assert "canary" not in text
    assert sealed["id"] == 7 and sealed["profile"]["name"] == "Ada"
    assert set(sealed["password"]) == {SEALED}
    assert FieldSealer(tmp_path / "k.key", []).unseal(sealed) == RECORD
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600


def test_the_same_value_seals_differently_each_time(tmp_path: Path) -> None:
    sealer = FieldSealer(tmp_path / "k.key", ["password"])
    assert sealer.seal(RECORD)["password"] != sealer.seal(RECORD)["password"]


def test_an_edited_value_or_another_key_is_refused(tmp_path: Path) -> None:
    sealed = FieldSealer(tmp_path / "k.key", ["password"]).seal(RECORD)
    edited = dict(sealed, password={SEALED: sealed["password"][SEALED][:-4] + "AAAA"})
    with pytest.raises(StateError, match="does not open with the key"):
        FieldSealer(tmp_path / "k.key", []).unseal(edited)
    (tmp_path / "other.key").write_bytes(b"x" * 32)
    with pytest.raises(StateError, match="does not open with the key"):
        FieldSealer(tmp_path / "other.key", []).unseal(sealed)


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    sealed = FieldSealer(tmp_path / "k.key", ["password"]).seal(RECORD)
    (tmp_path / "k.key").unlink()
    with pytest.raises(StateError, match=r"k\.key, which is missing"):
        FieldSealer(tmp_path / "k.key", []).unseal(sealed)
