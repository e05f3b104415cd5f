"""`apilink auth ...` commands: interactive OAuth logins whose tokens a sync then uses."""

from __future__ import annotations

import os
import time
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from apilink.auth.loopback import RedirectListener
from apilink.compat.auth_manager import AuthManager, OAuth2DeviceFlow, OAuth2PKCE
from apilink.config import (
    FileStoreConfig,
    OAuth2DeviceFlowConfig,
    OAuth2PKCEConfig,
    SyncConfig,
    load_config,
)
from apilink.credentials.base import CredentialStore
from apilink.errors import ApilinkError, ConfigError

__all__ = ["app", "find_login_section", "open_token_store"]

app = typer.Typer(help="OAuth logins (PKCE and device flow).", no_args_is_help=True)

_sleep = time.sleep  # tests replace both
_clock = time.time


@app.callback()
def _group() -> None:
    """OAuth logins (PKCE and device flow)."""


def find_login_section(
    config: SyncConfig, name: str, side: str | None
) -> OAuth2PKCEConfig | OAuth2DeviceFlowConfig:
    """The PKCE or device-flow section whose ``storage_key`` is ``name`` (on ``side``)."""
    sides = [side] if side else ["source", "target"]
    for which in sides:
        auth = getattr(config, which).auth
        if isinstance(auth, OAuth2PKCEConfig | OAuth2DeviceFlowConfig) and (
            auth.storage_key == name
        ):
            return auth
    raise ConfigError(
        f"no oauth2_pkce or oauth2_device_flow auth with storage_key '{name}' in "
        + " or ".join(sides)
    )


def open_token_store(config: SyncConfig, store_file: Path | None) -> CredentialStore:
    """The encrypted credential file of ``--file`` or of the config's ``credentials``."""
    from apilink import credentials

    store_class = getattr(credentials, "EncryptedFileStore", None)
    path: str | None = str(store_file) if store_file else None
    password = os.environ.get("APILINK_MASTER_PASSWORD")
    if path is None and isinstance(config.credentials, FileStoreConfig):
        path = config.credentials.path
        if config.credentials.master_password is not None:
            password = config.credentials.master_password.get_secret_value()
    if path is None:
        raise typer.BadParameter("give --file, or a `credentials: {type: file}` section")
    if not password:
        raise typer.BadParameter("set APILINK_MASTER_PASSWORD to open the credential file")
    if store_class is None:
        raise typer.BadParameter("apilink.credentials.EncryptedFileStore is not available")
    store: CredentialStore = store_class(path, password)
    return store


@app.command()
def login(
    name: Annotated[str, typer.Argument(help="The auth section's storage_key.")],
    config_path: Annotated[Path, typer.Option("--config", help="The sync config (YAML).")],
    side: Annotated[str | None, typer.Option(help="source or target.")] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Only print the URL.")] = False,
    store_file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", help="Encrypted credential file (default: the config's credentials)."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the browser.")] = 300.0,
) -> None:
    """Log in with PKCE or device flow; the tokens go to the credential store under NAME."""
    if side not in (None, "source", "target"):
        raise typer.BadParameter("--side is source or target")
    try:
        config = load_config(config_path)
        section = find_login_section(config, name, side)
        connection = config.source if config.source.auth is section else config.target
        manager = AuthManager(
            token_store=open_token_store(config, store_file),
            clock=_clock,
            sleep=_sleep,
            allow_insecure_http=connection.allow_insecure_http,
            timeout=config.timeout_for(connection),
        )
        if isinstance(section, OAuth2PKCEConfig):
            _pkce_login(manager, OAuth2PKCE(section), no_browser=no_browser, timeout=timeout)
        else:
            _device_login(manager, OAuth2DeviceFlow(section))
    except ApilinkError as exc:
        typer.echo(f"login failed: {exc}", err=True)
        raise typer.Exit(2 if isinstance(exc, ConfigError) else 1) from None
    typer.echo(f"Logged in; tokens stored under '{name}'.")


def _pkce_login(
    manager: AuthManager, pkce: OAuth2PKCE, *, no_browser: bool, timeout: float
) -> None:
    with RedirectListener(pkce.config.redirect_uri) as listener:
        url = manager.get_pkce_authorization_url(pkce)
        typer.echo(f"Open this URL to authorize:\n{url}")
        if not no_browser:
            webbrowser.open(url)
        redirect = listener.wait(timeout)
    manager.complete_pkce_flow(pkce, redirect)


def _device_login(manager: AuthManager, device: OAuth2DeviceFlow) -> None:
    manager.start_device_flow(device)
    typer.echo(f"Visit {device.verification_uri} and enter the code: {device.user_code}")
    manager.wait_for_device_flow(device)
