"""Arrows point one way: cli -> flows -> tasks, blocks -> apilink, and the engine knows no Prefect.

Every import counts: at the top of a module, inside a function, or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What each layer must never import (its own package and the ones below it are allowed).
FORBIDDEN = {
    "apilink": {"prefect", "flows", "tasks", "blocks", "cli"},
    "blocks": {"flows", "tasks", "cli"},
    "tasks": {"flows", "cli"},
    "flows": {"cli"},
}


def imported_packages(path: Path) -> set[str]:
    """The top-level package of every module that ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[layer])
        for path in sorted((ROOT / layer).rglob("*.py"))
    }
    assert {file: names for file, names in wrong.items() if names} == {}


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import flows.api_sync\n"
        "def f():\n    from prefect.settings import PREFECT_API_URL\n"
    )
    assert imported_packages(module) == {"typing", "flows", "prefect"}
