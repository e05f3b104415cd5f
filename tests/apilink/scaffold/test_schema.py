"""The JSON Schema accepts every config the models accept (the repo's examples, the shorthands)
and refuses what they refuse."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from apilink.config import parse_config
from apilink.errors import ConfigError
from apilink.pagination import paginator_types
from apilink.scaffold.schema import config_schema

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "deployments").glob("**/*.yaml"))


class AnyVariable(Mapping[str, str]):
    """Every ``${VAR}`` is set: a URL for ``*_URL``, else "7" (fits string and number keys)."""

    def __getitem__(self, name: str) -> str:
        return "https://api.example.com" if name.endswith("URL") else "7"

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


ENV = AnyVariable()


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: jsonschema.Draft202012Validator, data: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def _minimal(**source_endpoint: Any) -> dict[str, Any]:
    return {
        "source": {
            "base_url": "https://a.example.com",
            "endpoints": {"list": {"path": "/items", **source_endpoint}},
        },
        "target": {
            "base_url": "https://b.example.com",
            "endpoints": {"add": {"path": "/items", "method": "POST"}},
        },
        "mapping": [
            {"source": "list", "target": "add", "fields": [{"source": "id", "target": "id"}]}
        ],
    }


def test_the_example_configs_are_there() -> None:
    assert len(EXAMPLES) >= 8
    assert ROOT / "deployments" / "demo.yaml" in EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_config_meets_the_schema(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    text = path.read_text()
    parse_config(text, source=str(path), env=ENV)  # the models accept it ...
    assert _errors(validator, yaml.safe_load(text)) == []  # ... and so does the schema


@pytest.mark.parametrize("kind", sorted(paginator_types()))
def test_every_registered_pagination_type_is_in_the_schema(
    validator: jsonschema.Draft202012Validator, kind: str
) -> None:
    data = _minimal(pagination={"type": kind, "max_pages": 3})
    parse_config(yaml.safe_dump(data))
    assert _errors(validator, data) == []


@pytest.mark.parametrize(
    "shorthand",
    [
        {"pagination": {"page_param": "page", "data_path": "data"}},
        {"pagination": {"next_page_path": "meta.next", "page_param": "cursor"}},
        {"method": "get"},
        {"params": {"per_page": 50}, "batch_size": "${BATCH}"},
    ],
)
def test_what_the_models_accept_the_schema_accepts(
    validator: jsonschema.Draft202012Validator, shorthand: dict[str, Any]
) -> None:
    data = _minimal(**shorthand)
    data["timeout"] = 30
    data["mapping"][0]["fields"][0]["transform"] = "strip"
    parse_config(yaml.safe_dump(data), env={"BATCH": "10"})
    assert _errors(validator, data) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"pagination": {"type": "pagee"}}, "pagination"),
        ({"pagination": {"type": "offset", "page_param": "p"}}, "pagination"),
        ({"methd": "GET"}, "methd"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_what_the_models_refuse_the_schema_refuses(
    validator: jsonschema.Draft202012Validator, change: dict[str, Any], where: str
) -> None:
    data = _minimal(**change)
    with pytest.raises(ConfigError):
        parse_config(yaml.safe_dump(data))
    assert _errors(validator, data), where


def test_secret_fields_say_how_to_give_a_secret() -> None:
    token = config_schema()["$defs"]["BearerAuthConfig"]["properties"]["token"]
    assert token["format"] == "password"
    assert "${VAR}" in token["description"] and "secret://" in token["description"]


def test_every_key_has_a_description() -> None:
    schema = config_schema()
    missing = []
    for name, node in [("SyncConfig", schema), *schema["$defs"].items()]:
        for variant in [node, *node.get("anyOf", [])]:
            for key, prop in variant.get("properties", {}).items():
                if not prop.get("description"):
                    missing.append(f"{name}.{key}")
    assert missing == []
