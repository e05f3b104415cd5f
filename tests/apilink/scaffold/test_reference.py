"""docs/config.md is what the models say today, and names every section and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from apilink.config import SyncConfig
from apilink.scaffold.reference import config_reference, section_paths
from apilink.scaffold.schema import config_models, config_schema

DOCS = Path(__file__).resolve().parents[3] / "docs" / "config.md"


def test_docs_config_md_is_up_to_date_with_the_models() -> None:
    assert DOCS.read_text(encoding="utf-8") == config_reference(), (
        "docs/config.md is out of date with apilink/config/models.py; regenerate it with "
        "`apilink schema --markdown -o docs/config.md`"
    )


def test_every_model_and_key_is_in_the_reference() -> None:
    text = config_reference()
    schema = config_schema()
    for name in config_models():
        if name != "SyncConfig" and name in schema["$defs"]:
            assert f"## {schema['$defs'][name].get('title', name)}" in text, name
    for key in SyncConfig.model_fields:
        assert f"| `{key}` |" in text, key


def test_sections_say_where_they_appear() -> None:
    paths = section_paths(config_schema())
    assert paths["FieldMapping"] == ["mapping[].fields[]"]
    assert "source.endpoints.<name>" in paths["EndpointConfig"]
    assert paths["FieldCondition"] == ["mapping[].fields[].condition"]


def test_a_changed_model_makes_the_reference_differ() -> None:
    """The up-to-date test can fail: a new description changes the text."""
    import apilink.scaffold.schema as schema_module

    before = config_reference()
    notes = {**schema_module.FIELD_NOTES}
    notes["SyncConfig"] = {**notes["SyncConfig"], "name": "A new description."}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(schema_module, "FIELD_NOTES", notes)
        assert config_reference() != before
