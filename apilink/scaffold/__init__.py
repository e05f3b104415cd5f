"""Starting points for a sync config: its JSON Schema, its reference docs, a config written
from answers or from OpenAPI documents, and the checks ``apilink validate`` adds to the
models' own (literal secrets)."""

from __future__ import annotations

from apilink.scaffold.schema import config_schema

__all__ = ["config_schema"]
