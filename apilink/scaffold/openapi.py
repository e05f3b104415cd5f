"""Read an OpenAPI 3 document into one side of a config draft (``apilink init --from-openapi``).

From the operation named ``METHOD:/path`` it takes the server URL, the path, the records'
place in the response, a pagination style guessed from the parameters and responses
(page/per_page, offset/limit, a cursor, a ``Link`` header), the auth type from
``securitySchemes`` (as ``${VAR}`` placeholders, never values) and the record's properties, for
the field-mapping skeleton.

The document is plain YAML/JSON read with the config's bounded loader, and only local
``$ref``\\ s (``#/components/...``) are followed, here by hand: that is all init needs, the
well-kept parsers (openapi-core, prance) bring validators and remote fetching that a scaffold
should not do (a document is input from outside: following a remote ``$ref`` would fetch a URL
the author chose), and no OpenAPI library is a dependency yet. A remote ``$ref`` is left as
an opaque schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apilink.config.bounds import ConfigLimits, safe_load_bounded
from apilink.errors import ConfigError
from apilink.scaffold.draft import AuthDraft, SideDraft

__all__ = ["OpenApiDocument", "Operation", "load_document", "record_properties", "side_from"]

METHODS = ("get", "post", "put", "patch", "delete")
_LIMITS = ConfigLimits(max_bytes=32 * 1024 * 1024, max_nodes=5_000_000, max_aliases=10_000)
_MAX_REF_HOPS = 32
_CURSOR_PARAMS = ("cursor", "after", "page_token", "pagetoken", "next_token", "starting_after")
_CURSOR_FIELDS = ("next_cursor", "nextcursor", "next_page_token", "nextpagetoken", "cursor", "next")
_SIZE_PARAMS = ("per_page", "perpage", "page_size", "pagesize", "limit", "size", "count")
_RECORD_LISTS = ("data", "items", "results", "records", "entries", "values", "content")
_TOTAL_FIELDS = ("total", "total_count", "totalcount", "count")


@dataclass(frozen=True)
class Operation:
    """One operation of a document: ``method`` (upper case), ``path``, and its object."""

    method: str
    path: str
    spec: dict[str, Any]
    path_item: dict[str, Any]


@dataclass
class OpenApiDocument:
    """A parsed OpenAPI 3 document."""

    source: str
    data: dict[str, Any]

    def resolve(self, node: Any) -> Any:
        """``node`` with its local ``$ref`` followed (a chain of them too)."""
        for _ in range(_MAX_REF_HOPS):
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                return node
            ref: str = node["$ref"]
            if not ref.startswith("#/"):
                return {}  # remote refs are never fetched
            target: Any = self.data
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, dict) else None
            if target is None:
                raise ConfigError(f"{self.source}: `$ref: {ref}` points at nothing", source=ref)
            node = target
        raise ConfigError(f"{self.source}: `$ref` chain longer than {_MAX_REF_HOPS} hops")

    def operations(self) -> list[str]:
        """Every operation as ``METHOD:/path``."""
        found = []
        for path, item in (self.data.get("paths") or {}).items():
            for method in METHODS:
                if isinstance(item, dict) and method in item:
                    found.append(f"{method.upper()}:{path}")
        return found

    def operation(self, name: str) -> Operation:
        """The operation ``METHOD:/path``.

        Raises:
            ConfigError: malformed or unknown, listing the document's operations.
        """
        method, _, path = name.partition(":")
        item = (self.data.get("paths") or {}).get(path)
        spec = item.get(method.lower()) if isinstance(item, dict) else None
        if not path or not isinstance(spec, dict):
            listed = ", ".join(self.operations()) or "(none)"
            raise ConfigError(
                f"{self.source}: no operation {name!r}; give METHOD:/path, one of: {listed}",
                source=self.source,
            )
        return Operation(method.upper(), path, spec, self.resolve(item))


def load_document(path: Path) -> OpenApiDocument:
    """Read an OpenAPI 3 document (YAML or JSON).

    Raises:
        ConfigError: unreadable, not YAML, too large, or not OpenAPI 3.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such OpenAPI document", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})", source=str(path)) from None
    data = safe_load_bounded(text, source=str(path), limits=_LIMITS)
    version = str(data.get("openapi", "")) if isinstance(data, dict) else ""
    if not version.startswith("3."):
        found = f"`openapi: {version}`" if version else "no `openapi:` key"
        raise ConfigError(
            f"{path}: not an OpenAPI 3 document ({found}; Swagger 2 documents are not read)",
            source=str(path),
        )
    return OpenApiDocument(str(path), data)


def side_from(document: OpenApiDocument, operation: Operation, role: str) -> SideDraft:
    """The config side (``source`` or ``target``) that calls ``operation``."""
    variable = role.upper()
    side = SideDraft(
        role=role,
        base_url=f"${{{variable}_BASE_URL}}",
        endpoint=_endpoint_name(operation),
        path=operation.path,
        method=operation.method,
        comments=[f"From {Path(document.source).name}: {operation.method} {operation.path}"],
    )
    server = _server_url(document, operation)
    if server and server.startswith(("https://", "http://")):
        side.base_url = server.rstrip("/")
    else:
        shown = f"`{server}` (relative)" if server else "not given"
        side.comments.append(f"The document's server is {shown}: set {variable}_BASE_URL.")
    side.auth, notes = _auth(document, operation, variable)
    side.comments += notes
    if role == "source":
        body = _response_schema(document, operation)
        side.records_path = _records_path(document, body)
        side.pagination, notes = _pagination(document, operation, body)
        side.comments += notes
        if body and body.get("type") != "array" and side.records_path is None:
            side.comments.append(
                "The response is one object, not a list: set `response_path` to where "
                "the records are, or pick an operation that lists records."
            )
    if "{" in operation.path and role == "source":
        side.comments.append("The path has parameters: replace each `{name}` by its value.")
    return side


def record_properties(document: OpenApiDocument, operation: Operation, role: str) -> dict[str, Any]:
    """The properties of one record: read from a source's response, sent in a target's body.

    Nested objects are flattened one level (``category.name``); ``required`` names are kept
    under the key ``"__required__"``.
    """
    if role == "source":
        body = _response_schema(document, operation)
        path = _records_path(document, body)
        schema = _property(document, body, path) if path else body
    else:
        schema = _body_schema(document, operation.spec.get("requestBody"))
    schema = document.resolve(schema)
    if schema.get("type") == "array" or "items" in schema:
        schema = document.resolve(schema.get("items", {}))
    merged = _merged(document, schema)
    flat: dict[str, Any] = {"__required__": list(merged.get("required", []))}
    for name, prop in merged.get("properties", {}).items():
        prop = document.resolve(prop)
        inner = _merged(document, prop).get("properties") if prop.get("type") != "array" else None
        if inner:
            for child in inner:
                flat[f"{name}.{child}"] = document.resolve(inner[child])
        else:
            flat[name] = prop
    return flat


def _merged(document: OpenApiDocument, schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its ``allOf`` members' properties and required names merged in."""
    schema = document.resolve(schema)
    properties = dict(schema.get("properties") or {})
    required = list(schema.get("required") or [])
    for member in schema.get("allOf") or []:
        inner = _merged(document, member)
        properties.update(inner.get("properties", {}))
        required += inner.get("required", [])
    return {"properties": properties, "required": required}


def _endpoint_name(operation: Operation) -> str:
    raw = operation.spec.get("operationId") or f"{operation.method}_{operation.path}"
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(raw))
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_") or "endpoint"


def _server_url(document: OpenApiDocument, operation: Operation) -> str | None:
    for holder in (operation.spec, operation.path_item, document.data):
        servers = holder.get("servers")
        if isinstance(servers, list) and servers and isinstance(servers[0], dict):
            url = str(servers[0].get("url", ""))
            for name, spec in (servers[0].get("variables") or {}).items():
                url = url.replace(f"{{{name}}}", str(spec.get("default", "")))
            return url
    return None


def _responses(document: OpenApiDocument, operation: Operation) -> list[dict[str, Any]]:
    responses = {str(code): spec for code, spec in (operation.spec.get("responses") or {}).items()}
    codes = [*sorted(c for c in responses if c.startswith("2")), "default"]
    return [document.resolve(responses[c]) for c in codes if c in responses]


def _response_schema(document: OpenApiDocument, operation: Operation) -> dict[str, Any]:
    for response in _responses(document, operation):
        schema = _body_schema(document, response)
        if schema:
            return schema
    return {}


def _body_schema(document: OpenApiDocument, holder: Any) -> dict[str, Any]:
    content = (document.resolve(holder) or {}).get("content") or {}
    for media, spec in content.items():
        if "json" in media and isinstance(spec, dict):
            return dict(document.resolve(spec.get("schema") or {}))
    return {}


def _property(document: OpenApiDocument, schema: dict[str, Any], path: str) -> dict[str, Any]:
    return dict(document.resolve(_merged(document, schema)["properties"].get(path, {})))


def _records_path(document: OpenApiDocument, body: dict[str, Any]) -> str | None:
    """Where the records sit: nowhere (the body is the list) or a list property such as
    ``data``; any other object is taken for one record (an array inside it is its field)."""
    if body.get("type") == "array" or not body:
        return None
    arrays = [
        name
        for name, prop in _merged(document, body)["properties"].items()
        if document.resolve(prop).get("type") == "array" and name.lower() in _RECORD_LISTS
    ]
    return arrays[0] if arrays else None


def _parameters(document: OpenApiDocument, operation: Operation) -> dict[str, str]:
    """Query parameter names by their lower-case spelling."""
    found: dict[str, str] = {}
    for holder in (operation.path_item, operation.spec):
        for parameter in holder.get("parameters") or []:
            parameter = document.resolve(parameter)
            if parameter.get("in") == "query" and parameter.get("name"):
                found[str(parameter["name"]).lower()] = str(parameter["name"])
    return found


def _pagination(
    document: OpenApiDocument, operation: Operation, body: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[str]]:
    params = _parameters(document, operation)
    headers = {
        str(name).lower()
        for response in _responses(document, operation)
        for name in (response.get("headers") or {})
    }
    fields = {name.lower(): name for name in _body_paths(document, body)}
    size = next((params[p] for p in _SIZE_PARAMS if p in params), None)
    options: dict[str, Any]
    if cursor := next((params[p] for p in _CURSOR_PARAMS if p in params), None):
        found = next(
            (fields[f] for f in fields if f.rsplit(".", 1)[-1] in _CURSOR_FIELDS), "next_cursor"
        )
        options = {"type": "cursor", "cursor_param": cursor, "cursor_path": found}
    elif "offset" in params:
        options = {"type": "offset", "offset_param": params["offset"]}
        options |= {"limit_param": size, "limit": 100} if size else {}
    elif page := next(
        (params[p] for p in ("page", "page_number", "pagenumber") if p in params), None
    ):
        options = {"type": "page_number", "page_param": page}
        options |= {"page_size_param": size, "page_size": 100} if size else {}
    elif "link" in headers:
        options = {"type": "link_header"}
    else:
        return None, ["No pagination parameters in the document: the endpoint is read as one page."]
    if "x-total-count" in headers:
        options["total_header"] = "X-Total-Count"
    elif total := next((fields[f] for f in fields if f.rsplit(".", 1)[-1] in _TOTAL_FIELDS), None):
        options["total_path"] = total
    return options, [f"Pagination `{options['type']}` guessed from the document; check it."]


def _body_paths(document: OpenApiDocument, body: dict[str, Any]) -> list[str]:
    """The body's property names, and one level below (``meta.next_cursor``)."""
    if not body or body.get("type") == "array":
        return []
    paths = []
    for name, prop in _merged(document, body)["properties"].items():
        paths.append(name)
        paths += [f"{name}.{inner}" for inner in _merged(document, prop)["properties"]]
    return paths


def _auth(
    document: OpenApiDocument, operation: Operation, variable: str
) -> tuple[AuthDraft | None, list[str]]:
    """The first security alternative apilink can do, or none and a note saying why."""
    requirements = operation.spec.get("security", document.data.get("security")) or []
    schemes = (document.data.get("components") or {}).get("securitySchemes") or {}
    offered: list[str] = []
    for requirement in requirements:
        for name in requirement or {}:
            scheme = document.resolve(schemes.get(name, {}))
            draft = _auth_for(scheme, variable)
            if draft is not None:
                draft.comment = f"From the document's security scheme `{name}`."
                return draft, []
            offered.append(f"`{name}` ({_describe(scheme)})")
    if offered:
        return None, [
            "The document secures this operation with "
            + ", ".join(offered)
            + ", which apilink does not do: add the `auth:` the API also accepts "
            "(docs/config.md lists the types)."
        ]
    return None, []


def _auth_for(scheme: dict[str, Any], variable: str) -> AuthDraft | None:
    kind = scheme.get("type")
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
        return AuthDraft("bearer", secrets={"token": f"{variable}_TOKEN"})
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
        return AuthDraft(
            "basic",
            settings={"username": f"${{{variable}_USERNAME}}"},
            secrets={"password": f"{variable}_PASSWORD"},
        )
    if kind == "apiKey" and scheme.get("in") in ("header", "query"):
        settings: dict[str, Any] = (
            {"header": scheme.get("name", "X-API-Key")}
            if scheme.get("in") == "header"
            else {"in": "query", "param_name": scheme.get("name", "api_key")}
        )
        return AuthDraft("api_key", settings=settings, secrets={"key": f"{variable}_API_KEY"})
    flows = scheme.get("flows") or {} if kind == "oauth2" else {}
    client = {"client_id": f"${{{variable}_CLIENT_ID}}"}
    if "clientCredentials" in flows:
        flow = flows["clientCredentials"]
        return AuthDraft(
            "oauth2_client_credentials",
            settings={**client, "token_url": flow.get("tokenUrl", ""), **_scope(flow)},
            secrets={"client_secret": f"{variable}_CLIENT_SECRET"},
        )
    if "authorizationCode" in flows:
        flow = flows["authorizationCode"]
        return AuthDraft(
            "oauth2_pkce",
            settings={
                **client,
                "authorization_url": flow.get("authorizationUrl", ""),
                "token_url": flow.get("tokenUrl", ""),
                "redirect_uri": "http://127.0.0.1:8765/callback",
                **_scope(flow),
            },
        )
    return None


def _scope(flow: dict[str, Any]) -> dict[str, str]:
    scopes = list(flow.get("scopes") or {})
    return {"scope": " ".join(scopes)} if scopes else {}


def _describe(scheme: dict[str, Any]) -> str:
    kind = str(scheme.get("type", "unknown"))
    if kind == "oauth2":
        return "oauth2 " + "/".join(scheme.get("flows") or {}) + " flow"
    if kind == "apiKey":
        return f"apiKey in {scheme.get('in')}"
    return kind
