"""One exception tree: every error class lives in apilink/errors.py, under ApilinkError, and the
tree drawn in its docstring is the tree the classes form."""

from __future__ import annotations

import ast
import builtins
import pickle
import re
from pathlib import Path

import pytest

from apilink import errors
from apilink.errors import (
    ApilinkError,
    BodyOverLimit,
    HTTPStatusError,
    PaginationError,
    TargetUnavailable,
    TokenEndpointError,
    TransportError,
    VaultError,
)

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("apilink", "tasks", "flows", "blocks", "cli")
_BUILTIN_ERRORS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
_ERROR_BASES = _BUILTIN_ERRORS | set(errors.__all__)


def error_classes_outside_errors() -> list[str]:
    """``file:Class`` for every class outside errors.py whose base is an exception class."""
    found = []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            if path == ROOT / "apilink" / "errors.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.ClassDef):
                    continue
                bases = {
                    base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                    for base in node.bases
                }
                if bases & _ERROR_BASES:
                    found.append(f"{path.relative_to(ROOT)}:{node.name}")
    return found


def drawn_tree() -> list[tuple[str, str]]:
    """(child, parent) for each line of the tree in the module docstring."""
    doc = errors.__doc__ or ""
    block = doc.split("```")[1].strip("\n").splitlines()
    assert block[0] == "ApilinkError"
    edges = []
    parents = ["ApilinkError"]
    for line in block[1:]:
        match = re.match(r"^([│ ]*)[├└]── (\w+)", line)
        if match is None:
            continue  # a description continued on the next line
        depth = len(match.group(1)) // 4 + 1
        del parents[depth:]
        edges.append((match.group(2), parents[-1]))
        parents.append(match.group(2))
    return edges


def test_no_error_class_lives_outside_errors_py() -> None:
    assert error_classes_outside_errors() == []


def test_the_check_sees_an_error_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "apilink").mkdir()
    (tmp_path / "apilink" / "m.py").write_text(
        "import apilink.errors\nclass A(ValueError): ...\nclass B(apilink.errors.AuthError): ...\n"
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert error_classes_outside_errors() == ["apilink/m.py:A", "apilink/m.py:B"]


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_is_an_apilink_error(name: str) -> None:
    assert issubclass(getattr(errors, name), ApilinkError)


def test_the_docstring_draws_every_class_under_its_own_base() -> None:
    edges = drawn_tree()
    assert {child for child, _ in edges} | {"ApilinkError"} == set(errors.__all__)
    for child, parent in edges:
        assert getattr(errors, parent) in getattr(errors, child).__mro__[1:], (child, parent)


def test_errors_carry_their_context_as_attributes() -> None:
    plain = TransportError("GET /items failed", endpoint="items", method="GET", status=502)
    assert (plain.endpoint, plain.method, plain.status) == ("items", "GET", 502)
    status = HTTPStatusError("x", status_code=404, url="https://api.test/x", method="GET")
    assert (status.status, status.status_code, status.method) == (404, 404, "GET")
    stopped = TargetUnavailable("x", endpoint="orders", status=None)
    assert (stopped.endpoint, stopped.status) == ("orders", None)
    assert PaginationError("x", endpoint="items").endpoint == "items"
    assert TokenEndpointError("x", error="invalid_client", status_code=401).status == 401
    assert VaultError("x", path="secret/api", status=403).path == "secret/api"
    assert BodyOverLimit("is longer", 10).limit == 10


@pytest.mark.parametrize("name", errors.__all__)
def test_built_in_bases_callers_catch_are_kept(name: str) -> None:
    cls = getattr(errors, name)
    if name in {"RoleError", "UserError", "MappingFailure", "AuditKeyError", "DuplicateKey"}:
        assert issubclass(cls, ValueError)
    if name == "PrivateFileError":
        assert issubclass(cls, OSError)


def test_a_transport_error_survives_pickling_with_its_context() -> None:
    # Prefect may pickle a task's exception to hand it to the flow.
    error = pickle.loads(pickle.dumps(TransportError("x", endpoint="items", status=503)))
    assert (str(error), error.endpoint, error.status) == ("x", "items", 503)
