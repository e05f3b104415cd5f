"""Config limits: hostile YAML and mappings are refused early, naming the limit."""

from __future__ import annotations

from typing import Any

import pytest

from apilink.config import build_config, parse_config
from apilink.config.bounds import ConfigLimits, check_tree, safe_load_bounded
from apilink.errors import ConfigError
from tests.cli.test_sync import ALIAS_BOMB


def test_an_alias_bomb_is_refused_at_the_node_limit() -> None:
    with pytest.raises(ConfigError, match=r"more than 100,000 values .*the limit is 100,000"):
        parse_config(ALIAS_BOMB, source="bomb.yaml")


def test_a_mapping_parameter_is_bounded_as_well() -> None:
    shared: list[Any] = ["x"] * 10
    for _ in range(8):
        shared = [shared] * 10
    with pytest.raises(ConfigError, match="<flow parameter>: config refused"):
        build_config({"source": shared}, source="<flow parameter>")


def test_a_self_referencing_alias_stops_at_the_depth_limit() -> None:
    with pytest.raises(ConfigError, match="nests deeper than the limit of 64 levels"):
        safe_load_bounded("a: &a [*a]\n", source="loop.yaml")


def test_too_many_aliases_are_refused_before_construction() -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 20) + "]\n"
    with pytest.raises(ConfigError, match="20 YAML aliases; the limit is 10"):
        safe_load_bounded(text, source="a.yaml", limits=ConfigLimits(max_aliases=10))


def test_size_is_checked_on_the_encoded_text() -> None:
    with pytest.raises(ConfigError, match="is 12 bytes; the limit is 10 bytes"):
        safe_load_bounded("é" * 6, source="a.yaml", limits=ConfigLimits(max_bytes=10))


def test_ordinary_configs_pass_and_keep_their_aliases() -> None:
    text = "base: &b {x: 1}\none: *b\ntwo: *b\n"
    assert safe_load_bounded(text, source="ok.yaml") == {
        "base": {"x": 1},
        "one": {"x": 1},
        "two": {"x": 1},
    }
    check_tree({"a": [[[]]]}, source="ok", limits=ConfigLimits(max_depth=4))


def test_invalid_yaml_is_one_config_error_naming_line_and_column() -> None:
    with pytest.raises(ConfigError, match=r"^x\.yaml: not valid YAML: .* at line 2, column \d+$"):
        safe_load_bounded("source:\n  url: a: b\n", source="x.yaml")


@pytest.mark.parametrize(
    "read",
    [
        lambda text: parse_config(text, source="x.yaml"),
        lambda text: (
            __import__("blocks.sync_config").sync_config.SyncConfig(config_yaml=text).raw()
        ),
    ],
    ids=["parse_config", "SyncConfig block"],
)
def test_every_reader_keeps_the_line_and_column(read: Any) -> None:
    with pytest.raises((ConfigError, ValueError), match=r"at line 2, column \d+"):
        read("source:\n  url: a: b\n")


def test_no_module_reads_yaml_but_bounds() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    readers = {"safe_load", "load", "full_load", "unsafe_load", "parse", "compose"}
    found = []
    for layer in ("apilink", "tasks", "flows", "blocks", "cli"):
        for path in sorted((root / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "yaml"
                    and node.attr in readers
                ):
                    found.append(str(path.relative_to(root)))
    # draft.py checks that a scalar it writes itself reads back as the same plain string.
    assert sorted(set(found)) == ["apilink/config/bounds.py", "apilink/scaffold/draft.py"]
