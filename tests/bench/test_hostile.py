"""The hostile-input bench measures the bounds, not a config mistake of its own."""

from __future__ import annotations

import pytest

from apilink.config import build_config, parse_config
from apilink.errors import ConfigError
from bench.hostile import alias_bomb, token_config


def test_the_alias_bomb_is_small_and_refused_for_its_expansion() -> None:
    bomb = alias_bomb()
    assert len(bomb.encode()) < 500
    with pytest.raises(ConfigError, match="100,000"):
        parse_config(bomb)


def test_the_token_cases_are_valid_configs_with_the_bounds_set() -> None:
    config = build_config(token_config("t", "http://127.0.0.1:1", "http://127.0.0.1:2"))
    assert config.source.max_response_bytes == 1024 * 1024
    assert (config.source.timeout.read, config.source.timeout.deadline) == (2, 3)
