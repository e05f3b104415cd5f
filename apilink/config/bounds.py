"""Limits on a config before anything reads it: size, nodes, nesting and aliases.

A config is input from outside as soon as it comes through the Prefect API (a ``config``
parameter, a SyncConfig block), and a YAML file can be small and still expand to billions of
nodes through nested aliases ("billion laughs"): ``yaml.safe_load`` shares the aliased tree,
but every walk over it (``${VAR}`` expansion, validation) pays for each copy. So the text is
bounded before parsing, the YAML events are counted while parsing (aliases among them), and the
parsed tree is walked once, as a walker would see it, stopping at the first limit passed.

PyYAML has no such limits of its own, hence this module. :func:`safe_load_bounded` is the one
way apilink reads YAML (configs from files, blocks and flow runs, OpenAPI documents), so every
reader gets the same limits and the same error, naming the line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from apilink.errors import ConfigError

__all__ = ["ConfigLimits", "check_text", "check_tree", "safe_load_bounded", "yaml_problem"]


@dataclass(frozen=True)
class ConfigLimits:
    """How large a config may be.

    The defaults are far above any real sync config (the largest example here is 3 KB, a few
    hundred nodes, nesting 8) and far below what costs a noticeable time or memory.

    Attributes:
        max_bytes: the size of the text.
        max_nodes: scalars, mappings and sequences, each aliased copy counted again.
        max_depth: how deeply mappings and sequences nest.
        max_aliases: how many ``*alias`` references the text holds.
    """

    max_bytes: int = 1_048_576
    max_nodes: int = 100_000
    max_depth: int = 64
    max_aliases: int = 1_000


DEFAULT_LIMITS = ConfigLimits()


def _refuse(source: str, what: str) -> ConfigError:
    return ConfigError(f"{source}: config refused: {what}", source=source, problems=[what])


def check_text(text: str, *, source: str, limits: ConfigLimits = DEFAULT_LIMITS) -> None:
    """Refuse a config text larger than ``limits.max_bytes``.

    Raises:
        ConfigError: naming the size and the limit.
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > limits.max_bytes:
        raise _refuse(source, f"it is {size:,} bytes; the limit is {limits.max_bytes:,} bytes")


def safe_load_bounded(text: str, *, source: str, limits: ConfigLimits = DEFAULT_LIMITS) -> Any:
    """``yaml.safe_load`` with the text, aliases, nodes and nesting bounded.

    Raises:
        ConfigError: a limit was passed (the limit is named), or the text is not valid YAML
            (``"<source>: not valid YAML: <problem> at line L, column C"``; the text itself
            is never quoted, it may hold a secret).
    """
    check_text(text, source=source, limits=limits)
    try:
        aliases = sum(1 for event in yaml.parse(text) if isinstance(event, yaml.AliasEvent))
        if aliases > limits.max_aliases:
            raise _refuse(
                source, f"it uses {aliases:,} YAML aliases; the limit is {limits.max_aliases:,}"
            )
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = yaml_problem(exc)
        raise ConfigError(
            f"{source}: not valid YAML: {problem}", source=source, problems=[problem]
        ) from None
    check_tree(data, source=source, limits=limits)
    return data


def yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong and where: ``"<problem> at line L, column C"`` (1-based)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if isinstance(exc, yaml.constructor.ConstructorError):
        problem = f"{problem} (tags that build Python objects are never loaded)"
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(problem)


def check_tree(data: Any, *, source: str, limits: ConfigLimits = DEFAULT_LIMITS) -> None:
    """Walk ``data`` as a copying walker would, refusing it past the node or depth limit.

    The walk stops at the first limit passed, so it costs at most ``limits.max_nodes`` steps
    whatever the shape (a self-referencing alias included: it passes the depth limit).

    Raises:
        ConfigError: naming the limit passed.
    """
    nodes = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise _refuse(
                source,
                f"it expands to more than {limits.max_nodes:,} values (nested YAML aliases?); "
                f"the limit is {limits.max_nodes:,}",
            )
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limits.max_depth:
            raise _refuse(source, f"it nests deeper than the limit of {limits.max_depth} levels")
        stack.extend((child, depth + 1) for child in children)
