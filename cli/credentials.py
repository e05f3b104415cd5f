"""``apilink credentials ...``: set, get, list, delete and rotate-password.

Each command works on an encrypted file (``--file PATH``; the password from
``APILINK_MASTER_PASSWORD`` or a prompt) or on the store a sync config names
(``--config sync.yaml``, its ``credentials:`` section). Errors are one line on stderr and exit
code 2; values are masked unless ``--reveal`` is given.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from apilink.config.credentials import FileStoreConfig
from apilink.config.loader import load_config
from apilink.credentials.base import CredentialStore
from apilink.credentials.file_store import EncryptedFileStore
from apilink.credentials.master_password import MASTER_PASSWORD_ENV, resolve_master_password
from apilink.errors import ApilinkError, CredentialError, UsageProblem
from apilink.rbac import Permission
from apilink.redaction import MASK
from cli.guard import require

__all__ = ["NEW_MASTER_PASSWORD_ENV", "app"]

NEW_MASTER_PASSWORD_ENV = "APILINK_NEW_MASTER_PASSWORD"

app = typer.Typer(
    help="Store, read and rotate credentials (encrypted file or Vault/OpenBao).",
    no_args_is_help=True,
)

FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file", "-f", help=f"Encrypted credential file (password: ${MASTER_PASSWORD_ENV})."
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Sync config whose `credentials:` section names the store."
    ),
]


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Turn our errors into one line on stderr and exit code 2 (no traceback)."""
    try:
        yield
    except (ApilinkError, OSError) as exc:
        message = str(exc) if isinstance(exc, ApilinkError) else f"{exc.strerror}: {exc.filename}"
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(code=2) from None


def _prompt_password(label: str, env: str, *, confirm: bool = False) -> str:
    """Ask on the terminal; without one, read the first line of stdin (``echo pw | ...``)."""
    if not sys.stdin.isatty():
        # getpass would fall back to an echoing read and print a Python warning.
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise UsageProblem(
                f"{label.lower()}: no terminal to ask it on and nothing on stdin; set {env}"
            )
        return line
    value: str = typer.prompt(label, hide_input=True, confirmation_prompt=confirm, err=True)
    return value


def _open(file: Path | None, config: Path | None, *, existing: bool = True) -> CredentialStore:
    """The store named by ``--file`` or ``--config``; ``existing``: its file must be there."""
    if (file is None) == (config is None):
        raise UsageProblem("name the store with exactly one of --file PATH or --config FILE")
    require(Permission.MANAGE_CREDENTIALS, config_path=config)
    if file is not None and existing and not file.exists():
        raise UsageProblem(_no_file(file))
    if file is not None:
        password = os.environ.get(MASTER_PASSWORD_ENV) or _prompt_password(
            "Master password", MASTER_PASSWORD_ENV
        )
        return EncryptedFileStore(file, password)
    assert config is not None
    sync = load_config(config)
    environ = dict(os.environ)
    if sync.credentials is None or isinstance(sync.credentials, FileStoreConfig):
        explicit = sync.credentials.master_password if sync.credentials is not None else None
        try:
            resolve_master_password(explicit, sync.security, environ)
        except CredentialError:
            environ[MASTER_PASSWORD_ENV] = _prompt_password("Master password", MASTER_PASSWORD_ENV)
    from tasks.credentials import open_configured_store  # Prefect only for a config's store

    store = open_configured_store(sync.credentials, sync.security, environ=environ)
    if store is None:
        raise UsageProblem(
            f"{config}: no credential store configured (add a `credentials:` section or "
            "`security.credential_storage_path`)"
        )
    if existing and isinstance(store, EncryptedFileStore) and not store.path.exists():
        raise UsageProblem(_no_file(store.path))
    return store


def _no_file(path: Path) -> str:
    return (
        f"{path}: no credential file there yet "
        f"(`apilink credentials set NAME -f {path} --field KEY=VALUE` creates it)"
    )


def _parse_fields(pairs: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageProblem(f"--field takes KEY=VALUE; got one without `=` (key {key!r})")
        fields[key] = _number(value) if key == "expires_at" else value
    return fields


def _number(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise UsageProblem("expires_at must be Unix seconds (a number)") from None


def _read_json(source: Path) -> dict[str, Any]:
    text = sys.stdin.read() if str(source) == "-" else source.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageProblem(f"{source}: not JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise UsageProblem(f"{source}: a credential is a JSON object of fields")
    return data


@app.command("set")
def set_credential(
    name: Annotated[str, typer.Argument(help="Credential name.")],
    field: Annotated[
        list[str] | None, typer.Option("--field", help="A field as KEY=VALUE; repeatable.")
    ] = None,
    from_json: Annotated[
        Path | None, typer.Option("--from-json", help="JSON object of fields; `-` reads stdin.")
    ] = None,
    file: FileOption = None,
    config: ConfigOption = None,
) -> None:
    """Store (or replace) credential NAME."""
    with _one_line_errors():
        entry: dict[str, Any] = _read_json(from_json) if from_json is not None else {}
        entry.update(_parse_fields(field or []))
        if not entry:
            raise UsageProblem("give the fields with --field KEY=VALUE or --from-json FILE")
        _open(file, config, existing=False).put(name, entry)
        typer.echo(f"stored {name} ({len(entry)} fields)")


@app.command("get")
def get_credential(
    name: Annotated[str, typer.Argument(help="Credential name.")],
    field: Annotated[str | None, typer.Option("--field", help="Print only this field.")] = None,
    reveal: Annotated[bool, typer.Option("--reveal", help="Print values unmasked.")] = False,
    file: FileOption = None,
    config: ConfigOption = None,
) -> None:
    """Show credential NAME, values masked unless --reveal."""
    with _one_line_errors():
        entry = _open(file, config).get(name)
        if field is not None:
            if field not in entry:
                raise UsageProblem(
                    f"credential {name!r} has no field {field!r} "
                    f"(fields: {', '.join(sorted(entry)) or 'none'})"
                )
            typer.echo(_shown(field, entry[field], reveal))
            return
        for key in sorted(entry):
            typer.echo(f"{key}: {_shown(key, entry[key], reveal)}")


def _shown(key: str, value: Any, reveal: bool) -> str:
    if reveal or key == "expires_at":
        return value if isinstance(value, str) else json.dumps(value)
    return MASK


@app.command("list")
def list_credentials(file: FileOption = None, config: ConfigOption = None) -> None:
    """List the stored credential names."""
    with _one_line_errors():
        for name in _open(file, config).list():
            typer.echo(name)


@app.command("delete")
def delete_credential(
    name: Annotated[str, typer.Argument(help="Credential name.")],
    file: FileOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete credential NAME."""
    with _one_line_errors():
        _open(file, config).delete(name)
        typer.echo(f"deleted {name}")


@app.command("rotate-password")
def rotate_password(file: FileOption = None, config: ConfigOption = None) -> None:
    """Re-encrypt the credential file under a new master password, atomically.

    The new password comes from $APILINK_NEW_MASTER_PASSWORD or a prompt (asked twice).
    """
    with _one_line_errors():
        store = _open(file, config)
        if not isinstance(store, EncryptedFileStore):
            raise UsageProblem("rotate-password applies to encrypted credential files only")
        new = os.environ.get(NEW_MASTER_PASSWORD_ENV) or _prompt_password(
            "New master password", NEW_MASTER_PASSWORD_ENV, confirm=True
        )
        store.rotate_password(new)
        typer.echo(f"re-encrypted {store.path} under the new master password")
