"""Find secrets written literally in a sync config (``token: sk-live-...``).

A config is shared: it sits in git, in a Prefect block, in a flow-run parameter. So every
secret-bearing value should be a reference, ``${VAR}`` (the worker's environment) or
``secret://name#field`` (the credential store), never the secret itself. This module reads the
config as written (before ``${VAR}`` expansion) and names each key that holds a literal:

- every field the models type as ``SecretStr`` (auth tokens, keys, passwords, client secrets,
  Vault tokens and secret ids, users' API keys, master passwords);
- ``headers`` and ``params`` entries whose name says secret (``Authorization``, ``X-API-Key``,
  ``token``, ``password``, ``cookie``...);
- a ``${VAR:-default}`` whose default is a literal in one of those places.

Who is trusted: nobody here; the config author may have pasted a secret by mistake, and the
warning says where without repeating the value (a warning is printed and may be logged).
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

from apilink.config.models import SyncConfig
from apilink.redaction import is_secret_request_name

__all__ = ["LiteralSecret", "find_literal_secrets"]

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class LiteralSecret:
    """A secret-bearing key whose value is written in the config itself.

    Attributes:
        path: the key path (``source.auth.token``, ``target.headers.Authorization``).
        in_default: the literal is the default of a ``${VAR:-...}``.
    """

    path: str
    in_default: bool = False

    @property
    def message(self) -> str:
        """One line naming the key and the two ways to give a secret; never the value."""
        what = "the default of its ${VAR:-...}" if self.in_default else "its value"
        return (
            f"`{self.path}` looks like a plain-text secret ({what} is written in the config); "
            f"give it as `${{VAR}}` (from the environment) or `secret://name#field` (from the "
            f"credential store)"
        )


def find_literal_secrets(raw: Any) -> list[LiteralSecret]:
    """The literal secrets in a config mapping as parsed from YAML, before ``${VAR}``."""
    found: list[LiteralSecret] = []
    if isinstance(raw, dict):
        _model(SyncConfig, raw, "", found)
    return found


def _model(
    model: type[BaseModel], data: dict[Any, Any], path: str, found: list[LiteralSecret]
) -> None:
    fields = {_key(name, model): info for name, info in model.model_fields.items()}
    for key, value in data.items():
        info = fields.get(key) or model.model_fields.get(str(key))
        if info is None:
            continue
        where = f"{path}.{key}" if path else str(key)
        if key in ("headers", "params") and isinstance(value, dict):
            for name, item in value.items():
                if is_secret_request_name(str(name)):
                    _check(item, f"{where}.{name}", found)
            continue
        _value(info.annotation, value, where, found)


def _value(annotation: Any, value: Any, path: str, found: list[LiteralSecret]) -> None:
    annotation = _unwrap(annotation)
    if _is_secret(annotation):
        _check(value, path, found)
        return
    origin = get_origin(annotation)
    if origin in (list, tuple) and isinstance(value, list):
        item = get_args(annotation)[0] if get_args(annotation) else Any
        for index, element in enumerate(value):
            _value(item, element, f"{path}[{index}]", found)
        return
    if origin is dict and isinstance(value, dict):
        item = get_args(annotation)[-1] if get_args(annotation) else Any
        for name, element in value.items():
            _value(item, element, f"{path}.{name}", found)
        return
    if isinstance(value, dict):
        model = _pick_model(annotation, value)
        if model is not None:
            _model(model, value, path, found)


def _check(value: Any, path: str, found: list[LiteralSecret]) -> None:
    if not isinstance(value, str) or not value.strip() or value.startswith("secret://"):
        return
    references = list(_REFERENCE.finditer(value))
    if any(match.group(2) for match in references):
        found.append(LiteralSecret(path, in_default=True))
    elif not references:
        found.append(LiteralSecret(path))


def _pick_model(annotation: Any, value: dict[Any, Any]) -> type[BaseModel] | None:
    """The model a mapping is validated as; for a tagged union, the member its tag names."""
    members = [a for a in _members(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(members) == 1:
        return members[0]
    for member in members:
        for tag in ("type", "method"):
            info = member.model_fields.get(tag)
            if info is not None and value.get(tag) in get_args(_unwrap(info.annotation)):
                return member
    return None


def _members(annotation: Any) -> list[Any]:
    annotation = _unwrap(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [annotation]


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_secret(a) for a in get_args(annotation))
    return False


def _key(name: str, model: type[BaseModel]) -> str:
    info = model.model_fields[name]
    if isinstance(info.validation_alias, str):
        return info.validation_alias
    return info.alias or name
