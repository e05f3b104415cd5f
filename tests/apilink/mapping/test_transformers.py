"""Custom transformers: from Python, and from an installed package's entry point."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from apilink.mapping import (
    RecordMapper,
    load_entry_point_transformers,
    register_transformer,
    resolve_transformer,
    transformer_names,
)
from apilink.mapping import transformers as registry
from apilink.mapping.field_config import FieldMapping


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package installed the way pip installs one: a module and a .dist-info folder."""
    (tmp_path / "acme_transformers.py").write_text(
        "def reverse(value):\n    return value[::-1]\n\nNOT_CALLABLE = 3\n"
    )
    info = tmp_path / "acme_transformers-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-transformers\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[apilink.transformers]\n"
        "acme_reverse = acme_transformers:reverse\n"
        "acme_broken = acme_transformers_missing:nothing\n"
        "acme_constant = acme_transformers:NOT_CALLABLE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("acme_reverse", "acme_broken", "acme_constant"):
        registry._REGISTRY.pop(name, None)
        registry._BROKEN.pop(name, None)
    sys.modules.pop("acme_transformers", None)
    load_entry_point_transformers(reload=True)


def test_an_entry_point_transformer_is_usable_in_a_mapping(fake_distribution: Path) -> None:
    load_entry_point_transformers(reload=True)
    assert "acme_reverse" in transformer_names()
    field = FieldMapping.model_validate({"source": "a", "target": "b", "transform": "acme_reverse"})
    assert RecordMapper([field]).map({"a": "abc"}) == {"b": "cba"}


def test_a_broken_entry_point_is_named_when_used(fake_distribution: Path) -> None:
    load_entry_point_transformers(reload=True)
    assert "acme_reverse" in transformer_names()  # the broken ones do not hide the others
    with pytest.raises(ValueError, match="acme_transformers_missing:nothing"):
        resolve_transformer("acme_broken")
    with pytest.raises(ValueError, match="not callable"):
        resolve_transformer("acme_constant")


def test_python_registration_wins_over_an_entry_point(fake_distribution: Path) -> None:
    register_transformer("acme_reverse")(str.upper)
    load_entry_point_transformers(reload=True)
    assert resolve_transformer("acme_reverse")("abc") == "ABC"


def test_an_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown transformer 'nope'.*lowercase"):
        resolve_transformer("nope")
