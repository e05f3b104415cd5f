"""The sync config's JSON Schema, for editors (``apilink schema``) and for the docs.

The schema starts from pydantic's (``SyncConfig.model_json_schema``) and is then made to accept
what the models accept, since several keys are read by ``before`` validators the JSON Schema
cannot see:

- ``pagination`` is one of the registered strategies (``type: page_number`` ...), or the
  APILinker form without ``type`` (``page_param`` / ``next_page_path``);
- ``timeout: 30`` (one number for every phase), ``transform: strip`` (one name), ``method: get``
  and ``level: info`` (any case);
- a ``${VAR}`` placeholder wherever a number or a boolean goes (it is expanded before
  validation).

Field descriptions come from ``Field(description=...)`` or, when a model documents its fields in
a Google-style ``Attributes:`` section, from there. Secret fields (``SecretStr``) say that they
take ``${VAR}`` or ``secret://``.

Editors read it through the line ``# yaml-language-server: $schema=<file or URL>`` at the top of
a config (the YAML language server of VS Code, Neovim, JetBrains, Helix).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any, get_args

from pydantic import BaseModel, SecretStr

from apilink.config.models import SyncConfig
from apilink.pagination import PaginatorOptions, paginator_types, resolve_paginator
from apilink.scaffold.notes import FIELD_NOTES

__all__ = [
    "PLACEHOLDER_PATTERN",
    "SCHEMA_ID",
    "config_models",
    "config_schema",
    "field_descriptions",
]

SCHEMA_ID = "https://apilink.invalid/schemas/sync-config.json"
PLACEHOLDER_PATTERN = r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$"
_SECRET_HINT = "A secret: give it as `${VAR}` or `secret://name#field`, never literally."
_ATTRIBUTE = re.compile(r"^(\w+):\s*(.*)$")


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) a sync config YAML file meets."""
    schema = SyncConfig.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    _describe_fields(schema)
    defs["PaginatorOptions"] = _pagination_schema(defs)
    _accept_shorthands(defs)
    for definition in [schema, *defs.values()]:
        _allow_placeholders(definition)
        _drop_attribute_sections(definition)
    schema["title"] = "apilink sync config"
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def config_models() -> dict[str, type[BaseModel]]:
    """Every model a sync config is made of, by its schema name, in the order first met."""
    found: dict[str, type[BaseModel]] = {}
    for model in _walk_models(SyncConfig):
        found.setdefault(model.__name__, model)
    for name in paginator_types():
        model = resolve_paginator(name).options_model
        found.setdefault(model.__name__, model)
    return found


def field_descriptions(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> the description from its ``Field`` or the class's ``Attributes:`` section."""
    documented: dict[str, str] = {}
    for klass in reversed(model.__mro__):
        if isinstance(klass, type) and issubclass(klass, BaseModel) and klass is not BaseModel:
            documented.update(_attributes_section(klass))
    documented.update(FIELD_NOTES.get(model.__name__, {}))
    described: dict[str, str] = {}
    for name, info in model.model_fields.items():
        text = info.description or documented.get(name) or documented.get(name.rstrip("_"))
        if not text and name == "type" and get_args(info.annotation):
            text = "Selects this kind: " + ", ".join(f"`{v}`" for v in get_args(info.annotation))
        if text:
            described[name] = text
    return described


def _walk_models(
    model: type[BaseModel], seen: set[type[BaseModel]] | None = None
) -> Iterator[type[BaseModel]]:
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    yield model
    for info in model.model_fields.values():
        for inner in _models_in(info.annotation):
            yield from _walk_models(inner, seen)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models_in(arg)


def _attributes_section(model: type[BaseModel]) -> dict[str, str]:
    doc = inspect.cleandoc(model.__dict__.get("__doc__") or "")
    lines = doc.splitlines()
    if "Attributes:" not in (line.strip() for line in lines):
        return {}
    start = [line.strip() for line in lines].index("Attributes:") + 1
    found: dict[str, str] = {}
    current: str | None = None
    for line in lines[start:]:
        if line and not line.startswith(" "):
            break  # the next section
        match = _ATTRIBUTE.match(line.strip())
        if match and line.startswith("    ") and not line.startswith("     "):
            current = match.group(1)
            found[current] = match.group(2)
        elif current is not None and line.strip():
            found[current] += " " + line.strip()
    return found


def _describe_fields(schema: dict[str, Any]) -> None:
    for name, model in config_models().items():
        definition = schema if model is SyncConfig else schema["$defs"].get(name)
        if definition is None:
            continue
        properties = definition.get("properties", {})
        for field_name, text in field_descriptions(model).items():
            key = _schema_key(model, field_name)
            if key in properties:
                properties[key].setdefault("description", text)
        for field_name, info in model.model_fields.items():
            key = _schema_key(model, field_name)
            if key in properties and _is_secret(info.annotation):
                described = properties[key].get("description")
                properties[key]["description"] = (
                    f"{described} {_SECRET_HINT}" if described else _SECRET_HINT
                )


def _schema_key(model: type[BaseModel], name: str) -> str:
    info = model.model_fields[name]
    if isinstance(info.validation_alias, str):
        return info.validation_alias
    return info.alias or name


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_is_secret(a) for a in get_args(annotation))


def _pagination_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """One variant per registered strategy, and the guide's form without ``type``."""
    variants: list[dict[str, Any]] = []
    for name in sorted(paginator_types()):
        model = resolve_paginator(name).options_model
        variant = model.model_json_schema(by_alias=True, mode="validation")
        variant.pop("$defs", None)
        variant["properties"]["type"] = {"const": name, "description": f"`{name}` pagination."}
        variant["title"] = f"pagination type {name}"
        _describe_variant(variant, model)
        variants.append(variant)
    shared = PaginatorOptions.model_json_schema(by_alias=True, mode="validation")
    _describe_variant(shared, PaginatorOptions)
    untyped = dict(shared["properties"])
    del untyped["type"]
    untyped["page_param"] = {
        "type": "string",
        "description": "Alone: page numbers sent in this parameter (`page_number`). With "
        "`next_page_path`: the parameter the next cursor is sent in (`cursor`).",
    }
    untyped["next_page_path"] = {
        "type": "string",
        "description": "Body path of the next cursor; means `type: cursor`.",
    }
    variants.append(
        {
            "title": "pagination without type (APILinker form)",
            "type": "object",
            "properties": untyped,
            "additionalProperties": False,
        }
    )
    return {
        "description": "How the next page is asked for: a `type` (one of "
        + ", ".join(sorted(paginator_types()))
        + ") and its options; without `type`, `next_page_path` means a cursor, `page_param` "
        "page numbers, neither a single page.",
        "anyOf": variants,
    }


def _describe_variant(variant: dict[str, Any], model: type[BaseModel]) -> None:
    properties = variant.get("properties", {})
    for field_name, text in field_descriptions(model).items():
        if field_name in properties:
            properties[field_name].setdefault("description", text)


def _accept_shorthands(defs: dict[str, Any]) -> None:
    timeout = defs["TimeoutConfig"]
    number = {"type": "number", "exclusiveMinimum": 0, "description": "Seconds for every phase."}
    defs["TimeoutConfig"] = {"anyOf": [number, timeout], "description": timeout["description"]}
    transform = defs["FieldMapping"]["properties"]["transform"]
    transform.pop("type", None)
    items = transform.pop("items")
    transform["anyOf"] = [{"type": "array", "items": items}, {"type": "string"}, {"type": "null"}]
    for definition, key in (("EndpointConfig", "method"), ("LoggingConfig", "level")):
        prop = defs[definition]["properties"][key]
        prop["enum"] = [*prop["enum"], *(v.lower() for v in prop["enum"])]


def _allow_placeholders(node: Any) -> None:
    """Let ``${VAR}`` stand wherever a number or a boolean is expected."""
    if isinstance(node, list):
        for item in node:
            _allow_placeholders(item)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        _allow_placeholders(value)
    if node.get("type") in ("integer", "number", "boolean") and "enum" not in node:
        kept = {k: node.pop(k) for k in list(node) if k not in ("title", "description", "default")}
        node["anyOf"] = [kept, {"type": "string", "pattern": PLACEHOLDER_PATTERN}]
    if isinstance(node.get("anyOf"), list):
        flattened: list[Any] = []
        for option in node["anyOf"]:
            if isinstance(option, dict) and set(option) == {"anyOf"}:
                flattened.extend(option["anyOf"])
            else:
                flattened.append(option)
        node["anyOf"] = flattened


def _drop_attribute_sections(node: dict[str, Any]) -> None:
    """Keep a model's summary; its ``Attributes:`` section is already on each property."""
    for variant in [node, *node.get("anyOf", [])]:
        text = variant.get("description")
        if isinstance(text, str) and "Attributes:" in text:
            variant["description"] = text.split("Attributes:")[0].strip()
