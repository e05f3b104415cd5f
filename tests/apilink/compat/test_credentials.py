"""The guide's Python API through CredentialsMixin (ApiLinker mixes it in)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from apilink.compat.credentials import CredentialsMixin
from apilink.config import SecurityConfig
from apilink.credentials import EncryptedFileStore
from apilink.errors import CredentialError, CredentialExpired, CredentialNotFound


class Linker(CredentialsMixin):
    """Stands in for ApiLinker: only sets security_config, as its __init__ will."""

    def __init__(self, *, security_config: dict[str, Any] | SecurityConfig | None = None) -> None:
        self.security_config = SecurityConfig.model_validate(security_config or {})


class PinnedLinker(Linker):
    credential_clock = staticmethod(lambda: 1_700_000_000.0)  # before the guide's expiry


def test_the_guide_snippet_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    ApiLinker = PinnedLinker

    # --- the guide, verbatim ---
    # Configure secure credential storage
    linker = ApiLinker(
        security_config={
            "master_password": "your-strong-password",  # Or use environment variable
            "credential_storage_path": "./credentials.enc",
        }
    )
    # Store credentials securely
    linker.store_credential(
        "github_api",
        {
            "token": "ghp_1234567890abcdefghijklmnopqrstuvwxyz",
            "expires_at": 1735689600,  # Optional expiry timestamp
        },
    )
    # Retrieve credentials
    cred = linker.get_credential("github_api")
    print(f"Token: {cred['token']}")
    # --- end of the guide ---

    assert capsys.readouterr().out == "Token: ghp_1234567890abcdefghijklmnopqrstuvwxyz\n"
    data = (tmp_path / "credentials.enc").read_bytes()
    assert b"ghp_1234567890" not in data and b"your-strong-password" not in data
    assert oct((tmp_path / "credentials.enc").stat().st_mode & 0o777) == "0o600"
    assert "your-strong-password" not in repr(linker.security_config)


def test_with_todays_clock_the_guides_token_has_expired(tmp_path: Path) -> None:
    linker = Linker(
        security_config={
            "master_password": "pw",
            "credential_storage_path": str(tmp_path / "c.enc"),
        }
    )
    linker.store_credential("github_api", {"token": "t", "expires_at": 1735689600})
    with pytest.raises(CredentialExpired, match="github_api"):
        linker.get_credential("github_api")


def test_list_and_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", "from-env")
    linker = Linker(security_config={"credential_storage_path": str(tmp_path / "c.enc")})
    linker.store_credential("b", {"k": "v"})
    linker.store_credential("a", {"k": "v"})
    assert linker.list_credentials() == ["a", "b"]
    linker.delete_credential("a")
    assert linker.list_credentials() == ["b"]
    with pytest.raises(CredentialNotFound):
        linker.get_credential("a")
    assert isinstance(linker.credential_store, EncryptedFileStore)
    assert linker.credential_store is linker.credential_store  # opened once
    assert EncryptedFileStore(tmp_path / "c.enc", "from-env").list() == ["b"]


def test_without_a_storage_path_the_error_is_clear() -> None:
    with pytest.raises(CredentialError, match="credential_storage_path"):
        Linker().get_credential("x")


def test_without_a_password_the_error_is_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APILINK_MASTER_PASSWORD", raising=False)
    linker = Linker(security_config={"credential_storage_path": str(tmp_path / "c.enc")})
    with pytest.raises(CredentialError, match="APILINK_MASTER_PASSWORD"):
        linker.list_credentials()
    assert not os.path.exists(tmp_path / "c.enc")
