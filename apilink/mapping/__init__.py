"""Field paths, conditions, templates, transformers and the record mapper."""

from __future__ import annotations

from apilink.errors import MappingFailure, PathSyntaxError, TemplateSyntaxError
from apilink.mapping.conditions import OPERATORS, FieldCondition
from apilink.mapping.mapper import RecordMapper
from apilink.mapping.paths import MISSING, get_path, parse_path, set_path
from apilink.mapping.templates import Template
from apilink.mapping.transformers import (
    ENTRY_POINT_GROUP,
    Transformer,
    load_entry_point_transformers,
    register_transformer,
    resolve_transformer,
    transformer_names,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "MISSING",
    "OPERATORS",
    "FieldCondition",
    "MappingFailure",
    "PathSyntaxError",
    "RecordMapper",
    "Template",
    "TemplateSyntaxError",
    "Transformer",
    "get_path",
    "load_entry_point_transformers",
    "parse_path",
    "register_transformer",
    "resolve_transformer",
    "set_path",
    "transformer_names",
]
