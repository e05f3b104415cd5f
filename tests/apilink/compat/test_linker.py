"""The upstream guide's Python snippets, run as written with `apilink` for `apilinker`."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from apilink import ApiLinker
from apilink.errors import ConfigError, CredentialError, CredentialExpired


def test_guide_credential_storage_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        # --- from the guide ---
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
                "expires_at": 4102444800,  # Optional expiry timestamp (the guide's is past)
            },
        )
        # Retrieve credentials
        cred = linker.get_credential("github_api")
        print(f"Token: {cred['token']}")
        # --- end ---
    assert output.getvalue() == "Token: ghp_1234567890abcdefghijklmnopqrstuvwxyz\n"
    stored = (tmp_path / "credentials.enc").read_bytes()
    assert b"ghp_1234567890" not in stored
    assert (tmp_path / "credentials.enc").stat().st_mode & 0o777 == 0o600
    assert "your-strong-password" not in repr(linker)

    again = ApiLinker(
        security_config={
            "master_password": "your-strong-password",
            "credential_storage_path": "./credentials.enc",
        }
    )
    assert again.list_credentials() == ["github_api"]
    again.delete_credential("github_api")
    assert again.list_credentials() == []


def test_the_guides_past_expiry_is_an_error_that_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APILINK_MASTER_PASSWORD", "from-the-environment")
    linker = ApiLinker(security_config={"credential_storage_path": str(tmp_path / "c.enc")})
    linker.store_credential("github_api", {"token": "t", "expires_at": 1735689600})
    with pytest.raises(CredentialExpired, match="github_api"):
        linker.get_credential("github_api")


def test_guide_access_control_snippet() -> None:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        # --- from the guide ---
        linker = ApiLinker(
            security_config={
                "enable_access_control": True,
                "users": [
                    {"username": "admin1", "role": "admin"},
                    {"username": "operator1", "role": "operator"},
                    {"username": "viewer1", "role": "viewer"},
                ],
            }
        )
        # Add users programmatically
        user = linker.add_user("developer1", "developer")
        print(f"API Key: {user['api_key']}")
        # List users
        users = linker.list_users()
        # --- end ---
    key = user["api_key"]
    assert output.getvalue() == f"API Key: {key}\n"
    assert {u["username"]: u["role"] for u in users} == {
        "admin1": "admin",
        "operator1": "operator",
        "viewer1": "viewer",
        "developer1": "developer",
    }
    assert key not in repr(users)
    assert linker.authenticate(key)["username"] == "developer1"  # type: ignore[index]
    assert linker.authenticate("alk_not-a-key") is None


def test_no_store_configured_is_a_clear_error() -> None:
    with pytest.raises(CredentialError, match="credential_storage_path"):
        ApiLinker().get_credential("anything")


def test_bad_security_config_names_the_key() -> None:
    with pytest.raises(ConfigError, match="enable_acces_control"):
        ApiLinker(security_config={"enable_acces_control": True})


@pytest.mark.parametrize("route", ["authorize", "list_users", "add_user"])
def test_a_python_api_denial_is_one_audit_line(
    route: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Route: the Python API (``ApiLinker``), with no config and no audit section at all."""
    import json

    from apilink.audit import load_audit_key, verify
    from apilink.errors import AccessDenied

    audit = tmp_path / "operator-audit.log"
    monkeypatch.setenv("APILINK_AUDIT_FILE", str(audit))
    monkeypatch.delenv("APILINK_AUDIT_KEY", raising=False)
    linker = ApiLinker(
        security_config={
            "enable_access_control": True,
            "users_file": str(tmp_path / "users.json"),
        }
    )
    admin = linker.add_user("admin1", "admin")
    viewer = linker.add_user("viewer1", "viewer")["api_key"]
    assert not audit.exists()  # granted calls and user changes write no denial line

    with pytest.raises(AccessDenied):
        if route == "authorize":
            linker.authorize(viewer, "manage_credentials")
        elif route == "list_users":
            linker.list_users(as_key=viewer)
        else:
            linker.add_user("eve", "admin", as_key=viewer)

    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(line["action"], line["actor"], line["outcome"]) for line in lines] == [
        ("access.denied", "viewer1", "denied")
    ]
    assert verify(audit, load_audit_key(audit, create=False)) == 1
    assert viewer not in audit.read_text() and admin["api_key"] not in audit.read_text()
