"""The public surface: every name in a module's __all__ exists, and the package exports what
the README and the guide use."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import apilink
import cli

ENGINE_MODULES = sorted(
    name
    for package in (apilink, cli)
    for _, name, _ in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    if not name.endswith("__main__")
)


def test_package_exports() -> None:
    for name in apilink.__all__:
        assert getattr(apilink, name) is not None, name
    assert {"ApiLinker", "SyncConfig", "load_config", "ApilinkError"} <= set(apilink.__all__)


def test_guide_import_paths() -> None:
    from apilink.compat.auth_manager import OAuth2DeviceFlow, OAuth2PKCE

    assert OAuth2PKCE.__module__ == OAuth2DeviceFlow.__module__ == "apilink.compat.auth_manager"


@pytest.mark.parametrize("module_name", ENGINE_MODULES)
def test_every_module_declares_what_it_exports(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{module_name} has no __all__"
    for name in exported:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name}"


def test_engine_never_imports_prefect() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pkgutil, importlib, apilink\n"
        "for _, n, _ in pkgutil.walk_packages(apilink.__path__, 'apilink.'):\n"
        "    if not n.endswith('__main__'): importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m == 'prefect' or m.startswith('prefect.'))\n"
        "print(bad[:5])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
