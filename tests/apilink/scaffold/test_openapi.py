"""Reading OpenAPI 3 documents: the real Petstore document, and small documents for each
pagination style and security scheme."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from apilink.errors import ConfigError
from apilink.scaffold.literal_secrets import find_literal_secrets
from apilink.scaffold.openapi import load_document, record_properties, side_from

PETSTORE = Path(__file__).parent / "documents" / "petstore-openapi.yaml"


def _document(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "openapi.yaml"
    path.write_text(
        yaml.safe_dump({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, **spec})
    )
    return path


def _listing(
    parameters: list[str], body: dict[str, Any], headers: list[str] = ()
) -> dict[str, Any]:
    return {
        "servers": [
            {"url": "https://{host}/v1", "variables": {"host": {"default": "api.example.com"}}}
        ],
        "paths": {
            "/users": {
                "get": {
                    "parameters": [
                        {"name": n, "in": "query", "schema": {"type": "string"}} for n in parameters
                    ],
                    "responses": {
                        200: {
                            "description": "ok",
                            "headers": {h: {"schema": {"type": "string"}} for h in headers},
                            "content": {"application/json": {"schema": body}},
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {"User": {"type": "object", "properties": {"id": {"type": "integer"}}}}
        },
    }


USERS = {"type": "array", "items": {"$ref": "#/components/schemas/User"}}
WRAPPED = {
    "type": "object",
    "properties": {
        "data": USERS,
        "meta": {"type": "object", "properties": {"next_cursor": {"type": "string"}}},
        "total": {"type": "integer"},
    },
}


def test_petstore_operations_and_server() -> None:
    document = load_document(PETSTORE)
    assert "GET:/pet/findByStatus" in document.operations()
    side = side_from(document, document.operation("GET:/pet/findByStatus"), "source")
    assert side.base_url == "https://petstore3.swagger.io/api/v3"
    assert (side.endpoint, side.path, side.method) == (
        "find_pets_by_status",
        "/pet/findByStatus",
        "GET",
    )
    assert side.records_path is None and side.pagination is None  # the body is the list
    # Only the oauth2 implicit flow secures it, which apilink does not do: said, not guessed.
    assert side.auth is None
    assert any("implicit" in c for c in side.comments)


def test_petstore_api_key_scheme_becomes_a_placeholder() -> None:
    document = load_document(PETSTORE)
    side = side_from(document, document.operation("GET:/pet/{petId}"), "source")
    assert side.auth is not None
    assert (side.auth.type, side.auth.settings, side.auth.secrets) == (
        "api_key",
        {"header": "api_key"},
        {"key": "SOURCE_API_KEY"},
    )


def test_petstore_record_properties_follow_refs() -> None:
    document = load_document(PETSTORE)
    source = record_properties(document, document.operation("GET:/pet/findByStatus"), "source")
    target = record_properties(document, document.operation("POST:/pet"), "target")
    assert {"id", "name", "category.name", "photoUrls", "status"} <= set(source)
    assert target["__required__"] == ["name", "photoUrls"]


@pytest.mark.parametrize(
    ("parameters", "body", "headers", "expected"),
    [
        (
            ["page", "per_page"],
            WRAPPED,
            [],
            {
                "type": "page_number",
                "page_param": "page",
                "page_size_param": "per_page",
                "page_size": 100,
                "total_path": "total",
            },
        ),
        (
            ["offset", "limit"],
            USERS,
            ["X-Total-Count"],
            {
                "type": "offset",
                "offset_param": "offset",
                "limit_param": "limit",
                "limit": 100,
                "total_header": "X-Total-Count",
            },
        ),
        (
            ["cursor"],
            WRAPPED,
            [],
            {
                "type": "cursor",
                "cursor_param": "cursor",
                "cursor_path": "meta.next_cursor",
                "total_path": "total",
            },
        ),
        (
            ["pageToken"],
            WRAPPED,
            [],
            {
                "type": "cursor",
                "cursor_param": "pageToken",
                "cursor_path": "meta.next_cursor",
                "total_path": "total",
            },
        ),
        ([], USERS, ["Link"], {"type": "link_header"}),
        ([], USERS, [], None),
    ],
    ids=["page", "offset", "cursor", "page-token", "link", "none"],
)
def test_pagination_is_guessed_from_parameters_and_responses(
    tmp_path: Path, parameters: list[str], body: dict[str, Any], headers: list[str], expected: Any
) -> None:
    document = load_document(_document(tmp_path, _listing(parameters, body, headers)))
    side = side_from(document, document.operation("GET:/users"), "source")
    assert side.pagination == expected
    assert side.records_path == ("data" if body is WRAPPED else None)
    assert side.base_url == "https://api.example.com/v1"


@pytest.mark.parametrize(
    ("scheme", "kind", "secrets"),
    [
        ({"type": "http", "scheme": "bearer"}, "bearer", {"token": "TARGET_TOKEN"}),
        ({"type": "http", "scheme": "basic"}, "basic", {"password": "TARGET_PASSWORD"}),
        ({"type": "apiKey", "in": "query", "name": "key"}, "api_key", {"key": "TARGET_API_KEY"}),
        (
            {
                "type": "oauth2",
                "flows": {
                    "clientCredentials": {
                        "tokenUrl": "https://a.example.com/t",
                        "scopes": {"r": "read"},
                    }
                },
            },
            "oauth2_client_credentials",
            {"client_secret": "TARGET_CLIENT_SECRET"},
        ),
        (
            {
                "type": "oauth2",
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": "https://a.example.com/a",
                        "tokenUrl": "https://a.example.com/t",
                        "scopes": {},
                    }
                },
            },
            "oauth2_pkce",
            {},
        ),
    ],
    ids=["bearer", "basic", "api-key-query", "client-credentials", "authorization-code"],
)
def test_auth_comes_from_security_schemes_as_placeholders(
    tmp_path: Path, scheme: dict[str, Any], kind: str, secrets: dict[str, str]
) -> None:
    spec = _listing([], USERS)
    spec["components"]["securitySchemes"] = {"main": scheme}
    spec["security"] = [{"main": []}]
    document = load_document(_document(tmp_path, spec))
    side = side_from(document, document.operation("GET:/users"), "target")
    assert side.auth is not None and side.auth.type == kind
    assert side.auth.secrets == secrets
    written = {"type": kind, **side.auth.settings}
    written |= {key: f"${{{name}}}" for key, name in side.auth.secrets.items()}
    assert find_literal_secrets({"target": {"auth": written}}) == []


def test_a_relative_server_asks_for_the_base_url(tmp_path: Path) -> None:
    spec = _listing([], USERS)
    spec["servers"] = [{"url": "/v3"}]
    document = load_document(_document(tmp_path, spec))
    side = side_from(document, document.operation("GET:/users"), "source")
    assert side.base_url == "${SOURCE_BASE_URL}"
    assert any("`/v3` (relative)" in c for c in side.comments)


def test_unknown_operation_lists_the_valid_ones() -> None:
    document = load_document(PETSTORE)
    with pytest.raises(ConfigError, match=r"no operation 'GET:/pets'.*GET:/pet/findByStatus"):
        document.operation("GET:/pets")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("swagger: '2.0'\npaths: {}\n", "not an OpenAPI 3 document"),
        ("openapi: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_documents_are_refused(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_document(path)


def test_a_dangling_ref_is_named(tmp_path: Path) -> None:
    spec = _listing([], {"$ref": "#/components/schemas/Nope"})
    document = load_document(_document(tmp_path, spec))
    with pytest.raises(ConfigError, match="#/components/schemas/Nope"):
        side_from(document, document.operation("GET:/users"), "source")


def test_a_ref_cycle_ends(tmp_path: Path) -> None:
    spec = _listing([], {"$ref": "#/components/schemas/A"})
    spec["components"]["schemas"] = {
        "A": {"$ref": "#/components/schemas/B"},
        "B": {"$ref": "#/components/schemas/A"},
    }
    document = load_document(_document(tmp_path, spec))
    with pytest.raises(ConfigError, match="chain longer"):
        side_from(document, document.operation("GET:/users"), "source")
