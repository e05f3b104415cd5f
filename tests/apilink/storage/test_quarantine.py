"""The quarantine file: reasons and records, no secret, mode 0600, a value-free preview."""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

import pytest

from apilink.errors import PrivateFileError
from apilink.storage.quarantine import QuarantineWriter, mask_record, record_key
from apilink.validation import Quarantined, Validator, rules_from_config
from apilink.validation.rules_config import ValidationRules

CANARY = "canary-" + secrets.token_hex(8)


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_records_quarantined_by_real_validation_carry_no_secret(tmp_path: Path) -> None:
    rules = ValidationRules.model_validate({"email_fields": ["email"]})
    records = [
        {
            "id": n,
            "email": "bad" if n % 100 == 0 else f"u{n}@x.io",
            "credit_card": CANARY,  # a filter field
            "profile": {"Api-Key": CANARY, "notes": [{"session_token": CANARY}]},
            "auth_header": f"Bearer {CANARY}",
            "comment": f"my password is {CANARY}!",  # a run secret inside free text
        }
        for n in range(3_000)
    ]
    outcome = Validator(rules_from_config(rules)).validate(records)
    path = tmp_path / "runs" / "run-1.jsonl"
    with QuarantineWriter(path, ["credit_card"], secret_values=[CANARY]) as writer:
        assert writer.write(outcome.quarantined, endpoint="users", chunk=0) == 30
    text = path.read_text()
    assert CANARY not in text
    entries = lines(path)
    assert len(entries) == 30
    first = entries[0]
    assert first["reasons"] == ["field `email` is not a valid email address"]
    assert first["record"]["email"] == "bad"  # non-secret values are kept for the fix
    assert first["record"]["id"] == 0
    assert (first["n"], first["endpoint"], first["chunk"]) == (1, "users", 0)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_preview_has_reasons_and_no_value(tmp_path: Path) -> None:
    writer = QuarantineWriter(tmp_path / "q.jsonl", preview_rows=2)
    items = [Quarantined({"email": f"leak{n}"}, ("field `email` is bad",)) for n in range(5)]
    writer.write(items, endpoint="users", chunk=3)
    writer.close()
    preview = writer.preview()
    assert preview == [
        {"row": 1, "endpoint": "users", "chunk": 3, "key": None, "reasons": "field `email` is bad"},
        {"row": 2, "endpoint": "users", "chunk": 3, "key": None, "reasons": "field `email` is bad"},
    ]
    assert "leak" not in json.dumps(preview) and "leak" not in repr(writer)
    assert writer.count == 5


@pytest.mark.parametrize(
    ("record", "key"),
    [
        ({"id": 7, "email": "x", "uuid": "u"}, "id=7"),
        ({"uuid": "9f2c", "email": "x"}, "uuid=9f2c"),
        ({"_id": "abc"}, "_id=abc"),
        ({"id": None, "external_id": 12}, "external_id=12"),
        ({"id": {"nested": 1}}, None),
        ({"id": True}, None),
        ({"email": "x"}, None),
    ],
)
def test_a_preview_row_names_the_record_by_its_key(record: dict[str, object], key: str) -> None:
    assert record_key(record) == key


def test_a_secret_shaped_key_is_shown_masked(tmp_path: Path) -> None:
    writer = QuarantineWriter(tmp_path / "q.jsonl", secret_values=["sk-live-canary-1"])
    writer.write([Quarantined({"id": "sk-live-canary-1"}, ("bad",))], endpoint="e", chunk=0)
    (row,) = writer.preview()
    assert row["key"] == "id=**********"


def test_appends_across_chunks_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    writer = QuarantineWriter(path)
    writer.write([Quarantined({"a": 1}, ("r",))], endpoint="e", chunk=0)
    writer.close()
    writer.write([Quarantined({"a": 2}, ("r",))], endpoint="e", chunk=1)
    writer.close()
    assert [e["n"] for e in lines(path)] == [1, 2]


def test_an_existing_permissive_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text("")
    path.chmod(0o644)
    with QuarantineWriter(path) as writer:
        writer.write([Quarantined({"a": 1}, ("r",))], endpoint="e")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_symlink_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("")
    link = tmp_path / "q.jsonl"
    link.symlink_to(elsewhere)
    with pytest.raises(PrivateFileError, match=r"q\.jsonl: is a symbolic link"):
        QuarantineWriter(link).write([Quarantined({"a": 1}, ("r",))], endpoint="e")
    assert elsewhere.read_text() == ""


def test_nothing_is_created_when_nothing_is_quarantined(tmp_path: Path) -> None:
    with QuarantineWriter(tmp_path / "q.jsonl") as writer:
        writer.write([], endpoint="e")
    assert not (tmp_path / "q.jsonl").exists()


def test_mask_record_masks_names_and_credential_shapes() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
    masked = mask_record(
        {"password": "p", "nested": [{"SECRET_x": 1}], "jwt": jwt, "name": "Ada", "n": 3}
    )
    assert masked == {
        "password": "**********",
        "nested": [{"SECRET_x": "**********"}],
        "jwt": "**********",
        "name": "Ada",
        "n": 3,
    }
