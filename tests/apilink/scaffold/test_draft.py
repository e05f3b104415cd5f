"""A draft renders to a config that says what the draft says, and no more: names and text from
an OpenAPI document (input from outside) cannot add keys."""

from __future__ import annotations

from pathlib import Path

import yaml

from apilink.scaffold.builder import draft_from_openapi
from apilink.scaffold.draft import check_draft, render
from apilink.scaffold.openapi import load_document

HOSTILE = {
    "openapi": "3.0.0",
    "info": {"title": "x", "version": "1"},
    "servers": [{"url": "/v1\nallow_insecure_http: true"}],
    "security": [{"evil\n  headers: {X-Injected: yes}": []}],
    "components": {
        "securitySchemes": {"evil\n  headers: {X-Injected: yes}": {"type": "oauth2", "flows": {}}}
    },
    "paths": {
        "/items": {
            "get": {
                "operationId": "list\nitems: injected",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {"a}\n      - {source: b": {}, "yes": {}},
                                    },
                                }
                            }
                        },
                    }
                },
            },
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"a}\n      - {source: b": {}, "yes": {}},
                            }
                        }
                    }
                },
                "responses": {"201": {"description": "ok"}},
            },
        }
    },
}


def test_document_text_cannot_add_keys(tmp_path: Path) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(HOSTILE))
    document = load_document(path)
    draft = draft_from_openapi(
        "x",
        (document, document.operation("GET:/items")),
        (document, document.operation("POST:/items")),
    )

    text = render(draft)
    check_draft(text, draft)
    config = yaml.safe_load(text)

    assert set(config["source"]) == {"type", "base_url", "endpoints"}
    assert "X-Injected" not in str(config)
    assert config["mapping"][0]["fields"] == [
        {"source": "a}\n      - {source: b", "target": "a}\n      - {source: b"},
        {"source": "yes", "target": "yes"},
    ]
