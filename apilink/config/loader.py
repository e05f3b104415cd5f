"""Read a sync config from YAML: safe parsing, ``${VAR}`` expansion, clear errors."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from apilink.config.bounds import check_tree, safe_load_bounded
from apilink.config.models import SyncConfig
from apilink.errors import ConfigError

__all__ = [
    "build_config",
    "describe_errors",
    "expand_env",
    "load_config",
    "parse_config",
    "remember_secrets",
]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(
    data: Any,
    env: Mapping[str, str] | None = None,
    *,
    path: str = "",
    found: list[tuple[tuple[str | int, ...], str]] | None = None,
) -> Any:
    """Replace ``${VAR}`` (or ``${VAR:-default}``) in every string of ``data``.

    Args:
        found: when given, each substituted value is appended with the key path it landed at
            (so the values that land in headers, params and URL paths are known as secrets).

    Raises:
        ValueError: naming the variable and the key path where it is undefined.
    """
    environ = os.environ if env is None else env
    return _expand(data, environ, path, (), found)


def _expand(
    data: Any,
    environ: Mapping[str, str],
    path: str,
    keys: tuple[str | int, ...],
    found: list[tuple[tuple[str | int, ...], str]] | None,
) -> Any:
    if isinstance(data, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                value = environ[name]
            elif default is not None:
                value = default
            else:
                where = f" (at `{path}`)" if path else ""
                raise ValueError(f"environment variable {name} is not set{where}")
            if found is not None:
                found.append((keys, value))
            return value

        return _VAR.sub(substitute, data)
    if isinstance(data, dict):
        return {k: _expand(v, environ, _join(path, k), (*keys, k), found) for k, v in data.items()}
    if isinstance(data, list):
        return [_expand(v, environ, _join(path, i), (*keys, i), found) for i, v in enumerate(data)]
    return data


def remember_secrets(config: SyncConfig, found: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Mark the ``${VAR}`` values that landed in a header, a query parameter, a URL path or an
    auth ``username`` as secrets of the connection or endpoint that holds them.

    A value in a URL's host (``https://${HOST}/``) or holding a whole URL is not a secret.
    """
    for keys, value in found:
        if len(keys) < 2 or keys[0] not in ("source", "target"):
            continue
        connection = config.source if keys[0] == "source" else config.target
        section = keys[1]
        if section == "headers" or (section == "auth" and keys[2:] == ("username",)):
            connection.with_secret_texts([value])
        elif section == "base_url":
            if _in_url_path(connection.base_url, value):
                connection.with_secret_texts([value])
        elif section == "endpoints" and len(keys) >= 4:
            endpoint = connection.endpoints.get(str(keys[2]))
            if endpoint is None:
                continue
            if keys[3] in ("headers", "params") or (keys[3] == "path" and "://" not in value):
                endpoint.with_secret_texts([value])


def _in_url_path(url: str, value: str) -> bool:
    if "://" in value:
        return False
    parts = urlsplit(url)
    return value in f"{parts.path}?{parts.query}#{parts.fragment}"


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> SyncConfig:
    """Load and validate the sync config at ``path``.

    Raises:
        ConfigError: one paragraph naming the file, the key paths and what is valid.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file", source=str(file)) from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read ({exc.strerror})", source=str(file)) from None
    return parse_config(text, source=str(file), env=env)


def parse_config(
    text: str, *, source: str = "<string>", env: Mapping[str, str] | None = None
) -> SyncConfig:
    """Validate YAML text into a :class:`SyncConfig` (see :func:`load_config`).

    The text is bounded first (size, aliases, nodes, nesting: :mod:`apilink.config.bounds`).
    """
    raw = safe_load_bounded(text, source=source)
    return build_config(raw, source=source, env=env)


def build_config(
    raw: Any, *, source: str = "<mapping>", env: Mapping[str, str] | None = None
) -> SyncConfig:
    """Validate a config already parsed from YAML (a flow parameter, a block's mapping).

    Raises:
        ConfigError: as :func:`load_config`.
    """
    if not isinstance(raw, dict):
        kind = type(raw).__name__ if raw is not None else "an empty document"
        raise ConfigError(
            f"{source}: a sync config is a mapping with `source`, `target` and `mapping`; "
            f"got {kind}",
            source=source,
        )
    # A mapping from the Prefect API has not been through the YAML bounds.
    check_tree(raw, source=source)
    try:
        found: list[tuple[tuple[str | int, ...], str]] = []
        expanded = expand_env(raw, env, found=found)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}", source=source, problems=[str(exc)]) from None
    try:
        config = SyncConfig.model_validate(expanded)
    except ValidationError as exc:
        problems = describe_errors(exc, SyncConfig)
        listed = "; ".join(problems)
        message = f"{source}: invalid config: {listed}"
        raise ConfigError(message, source=source, problems=problems) from None
    remember_secrets(config, found)
    return config


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def describe_errors(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """One line per problem, naming the key path; input values are never repeated."""
    lines: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        loc, fields, held = _walk(model, list(error["loc"]))
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        kind = error["type"]
        if kind == "extra_forbidden":
            hint = f"; valid keys here: {', '.join(fields)}" if fields else ""
            lines.append(f"unknown key `{where}`{hint}")
        elif kind == "missing":
            lines.append(f"`{where}` is required")
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            lines.append(_tag_problem(where, error.get("ctx", {}), held))
        elif kind in ("model_type", "model_attributes_type"):
            lines.append(_shape_problem(where, held))
        else:
            message = _plain_words(error["msg"])
            lines.append(f"`{where}`: {message}" if where else message)
    return lines


def _plain_words(message: str) -> str:
    """Pydantic's wording made ours: "Input should be a valid integer, unable to parse string
    as an integer" reads "expected a valid integer"; our validators' messages lose their
    "Value error, " prefix."""
    message = message.removeprefix("Value error, ")
    if message.startswith("Input should be "):
        return "expected " + message.removeprefix("Input should be ").split(", unable to")[0]
    return message


def _unquoted(text: Any) -> str:
    return str(text).replace("'", "")


def _tag_problem(where: str, ctx: dict[str, Any], held: Any) -> str:
    """``type: bearr`` where a union picks its member by ``type``: name the valid values."""
    key = _unquoted(ctx.get("discriminator", "type"))
    valid = _unquoted(ctx.get("expected_tags", "")) or ", ".join(
        tag for model in _models_in(held) for tag in sorted(_tags(model))
    )
    if "tag" not in ctx:
        return f"`{where}` needs `{key}`; valid values: {valid}"
    return f"`{where}.{key}`: {ctx['tag']!r} is not one of the valid values: {valid}"


def _shape_problem(where: str, held: Any) -> str:
    """A section given as a scalar or a list: say what it takes instead."""
    models = _models_in(held)
    if len(models) != 1:
        return f"`{where}`: expected a mapping"
    scalar = getattr(models[0], "scalar_form", None)
    return f"`{where}`: expected a mapping of {', '.join(_keys(models[0]))}" + (
        f", or {scalar}" if scalar else ""
    )


def _models_in(tp: Any) -> list[type[BaseModel]]:
    """The models a field's type can hold directly (through ``Optional``, unions, ``Annotated``)."""
    if _is_model(tp):
        return [tp]
    if get_origin(tp) in (list, dict):
        return []
    return [m for arg in get_args(tp) if arg is not type(None) for m in _models_in(arg)]


def _walk(model: type[BaseModel], loc: list[Any]) -> tuple[list[Any], list[str], Any]:
    """Follow a pydantic error location through the models.

    Returns the location as the user wrote it (union tags and validator names dropped), the
    valid keys of the model that holds the last step, and the type the last step holds.
    """
    shown: list[Any] = []
    current: Any = model
    parent_keys: list[str] = []
    for part in loc:
        if isinstance(part, str) and "[" in part:  # "function-after[...]" and the like
            continue
        members = _union_members(current)
        if members and isinstance(part, str):
            chosen = next((m for m in members if part in _tags(m)), None)
            if chosen is not None:
                current = chosen
                continue
            current = members[0]
        if isinstance(part, int):
            current = _container_item(current)
            shown.append(part)
            continue
        if not _is_model(current) and _is_model(_container_item(current)):
            current = _container_item(current)
        if _is_model(current):
            parent_keys = _keys(current)
            info = current.model_fields.get(part)
            current = info.annotation if info is not None else None
        else:
            current = _container_item(current)
        shown.append(part)
    return shown, parent_keys, current


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _keys(model: type[BaseModel]) -> list[str]:
    return sorted(
        alias if isinstance(alias := info.validation_alias, str) else (info.alias or name)
        for name, info in model.model_fields.items()
    )


def _union_members(tp: Any) -> list[type[BaseModel]]:
    if get_origin(tp) is Annotated:
        return _union_members(get_args(tp)[0])
    args = [a for a in get_args(tp) if a is not type(None)]
    if len(args) == 1:
        return _union_members(args[0])
    return [a for a in args if _is_model(a)]


def _tags(model: type[BaseModel]) -> set[str]:
    for key in ("type", "method"):
        info = model.model_fields.get(key)
        if info is not None:
            return {str(v) for v in get_args(info.annotation)}
    return set()


def _container_item(tp: Any) -> Any:
    if get_origin(tp) is Annotated:
        return _container_item(get_args(tp)[0])
    args = [a for a in get_args(tp) if a is not type(None)]
    if get_origin(tp) in (list, dict) and args:
        return args[-1]
    if len(args) == 1:
        return _container_item(args[0]) if get_args(args[0]) else args[0]
    return None
