"""Field paths, transformers and the record mapper."""

from __future__ import annotations

from apilink.mapping.mapper import MappingFailure, RecordMapper
from apilink.mapping.paths import MISSING, PathSyntaxError, get_path, parse_path, set_path
from apilink.mapping.transformers import (
    Transformer,
    register_transformer,
    resolve_transformer,
    transformer_names,
)

__all__ = [
    "MISSING",
    "MappingFailure",
    "PathSyntaxError",
    "RecordMapper",
    "Transformer",
    "get_path",
    "parse_path",
    "register_transformer",
    "resolve_transformer",
    "set_path",
    "transformer_names",
]
