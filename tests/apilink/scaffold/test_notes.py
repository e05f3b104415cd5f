"""The notes fill only the models' gaps: each names a real key the model leaves undescribed."""

from __future__ import annotations

import pytest

from apilink.scaffold.notes import FIELD_NOTES
from apilink.scaffold.schema import config_models


@pytest.mark.parametrize("model_name", sorted(FIELD_NOTES))
def test_each_note_names_an_undescribed_key(model_name: str) -> None:
    models = config_models()
    assert model_name in models, f"no config model named {model_name}"
    model = models[model_name]
    for key in FIELD_NOTES[model_name]:
        name = "in_" if key == "in" and "in_" in model.model_fields else key
        assert name in model.model_fields, f"{model_name} has no key {key}"
        assert not model.model_fields[name].description, (
            f"{model_name}.{key} now has its own description; drop its note"
        )
