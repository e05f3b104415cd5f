"""No import cycles in apilink/, counting every import: at the top of a module, inside a
function, or under ``TYPE_CHECKING``; and counting the package ``__init__`` that importing a
submodule runs first. Each feature owns its option model in a module that imports no config,
and ``apilink.config`` composes them; a cycle would make that hub again."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (and their packages' ``__init__``)."""
    root = package.parent
    modules = {module_name(path, root): path for path in package.rglob("*.py")}

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                targets += [f"{base}.{alias.name}" for alias in node.names]
        edges: set[str] = set()
        for target in targets:
            found = owner(target)
            while found:
                # Importing a.b.c runs a/__init__ and a/b/__init__ first, except those this
                # module is inside of (they are running already).
                if found != name and not name.startswith(found + "."):
                    edges.add(found)
                found = found.rpartition(".")[0] if "." in found else None
                if found is not None and found not in modules:
                    found = None
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_apilink_has_no_import_cycles() -> None:
    assert cycles(import_graph(ROOT / "apilink")) == []


def test_the_check_sees_type_checking_function_and_package_cycles(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "feature").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "config.py").write_text("from pkg.feature.options import Options\n")
    (package / "feature" / "__init__.py").write_text("from pkg.feature.logic import run\n")
    (package / "feature" / "options.py").write_text("class Options: ...\n")
    (package / "feature" / "logic.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.config import X\n"
        "def run():\n    from pkg import config\n"
    )
    (package / "a.py").write_text("def f():\n    from . import b\n")
    (package / "b.py").write_text("from pkg.a import f\n")
    assert cycles(import_graph(package)) == [
        ["pkg.a", "pkg.b"],
        ["pkg.config", "pkg.feature", "pkg.feature.logic"],
    ]
