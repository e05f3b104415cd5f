"""Starting points for a sync config: its JSON Schema and Markdown reference, a config written
from answers or from OpenAPI documents, and the checks ``apilink validate`` adds to the
models' own (literal secrets)."""

from __future__ import annotations

from apilink.scaffold.builder import draft_from_answers, draft_from_openapi, match_fields
from apilink.scaffold.checks import ConfigReport, check_config_file
from apilink.scaffold.draft import ConfigDraft, check_draft, render
from apilink.scaffold.literal_secrets import LiteralSecret, find_literal_secrets
from apilink.scaffold.openapi import OpenApiDocument, load_document
from apilink.scaffold.reference import config_reference
from apilink.scaffold.schema import config_schema

__all__ = [
    "ConfigDraft",
    "ConfigReport",
    "LiteralSecret",
    "OpenApiDocument",
    "check_config_file",
    "check_draft",
    "config_reference",
    "config_schema",
    "draft_from_answers",
    "draft_from_openapi",
    "find_literal_secrets",
    "load_document",
    "match_fields",
    "render",
]
