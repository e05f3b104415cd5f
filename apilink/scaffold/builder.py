"""Put a config draft together: from two OpenAPI operations, or from answers to prompts."""

from __future__ import annotations

import re
from typing import Any

from apilink.scaffold.draft import AuthDraft, ConfigDraft, FieldDraft, SideDraft
from apilink.scaffold.openapi import OpenApiDocument, Operation, record_properties, side_from

__all__ = [
    "AUTH_TYPES",
    "auth_placeholders",
    "draft_from_answers",
    "draft_from_openapi",
    "match_fields",
]

AUTH_TYPES = ("none", "bearer", "api_key", "basic", "oauth2_client_credentials")


def draft_from_openapi(
    name: str,
    source: tuple[OpenApiDocument, Operation],
    target: tuple[OpenApiDocument, Operation],
) -> ConfigDraft:
    """A draft that reads ``source``'s operation and writes ``target``'s."""
    source_side = side_from(*source, role="source")
    target_side = side_from(*target, role="target")
    if target_side.endpoint == source_side.endpoint:
        target_side.endpoint += "_target"
    fields = match_fields(
        record_properties(*source, role="source"), record_properties(*target, role="target")
    )
    return ConfigDraft(name=name, source=source_side, target=target_side, fields=fields)


def match_fields(source: dict[str, Any], target: dict[str, Any]) -> list[FieldDraft]:
    """Target fields from source fields of the same name (case, ``_`` and ``-`` aside).

    Unmatched target fields become commented suggestions (those the target requires say so).
    """
    by_key = {_key(name): name for name in source if name != "__required__"}
    required = set(target.get("__required__", []))
    matched: list[FieldDraft] = []
    missing: list[FieldDraft] = []
    for name in target:
        if name == "__required__" or target[name].get("readOnly"):
            continue
        found = by_key.get(_key(name))
        if found is not None:
            matched.append(FieldDraft(source=found, target=name))
        else:
            note = (
                "required by the target; no source field of that name" if name in required else ""
            )
            missing.append(FieldDraft(source="?", target=name, commented=True, note=note))
    return matched + missing


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9.]", "", name.lower())


def auth_placeholders(kind: str, role: str, token_url: str = "") -> AuthDraft | None:
    """An auth section of type ``kind`` whose every credential is a ``${ROLE_...}`` variable."""
    variable = role.upper()
    if kind == "bearer":
        return AuthDraft("bearer", secrets={"token": f"{variable}_TOKEN"})
    if kind == "api_key":
        return AuthDraft(
            "api_key", settings={"header": "X-API-Key"}, secrets={"key": f"{variable}_API_KEY"}
        )
    if kind == "basic":
        return AuthDraft(
            "basic",
            settings={"username": f"${{{variable}_USERNAME}}"},
            secrets={"password": f"{variable}_PASSWORD"},
        )
    if kind == "oauth2_client_credentials":
        return AuthDraft(
            "oauth2_client_credentials",
            settings={"client_id": f"${{{variable}_CLIENT_ID}}", "token_url": token_url},
            secrets={"client_secret": f"{variable}_CLIENT_SECRET"},
        )
    return None


def draft_from_answers(answers: dict[str, Any]) -> ConfigDraft:
    """A draft from the answers ``apilink init`` asks for (keys as in its prompts)."""
    sides = {}
    for role in ("source", "target"):
        path = str(answers[f"{role}_path"])
        last = [part for part in path.split("/") if part and "{" not in part]
        verb = "list" if role == "source" else "send"
        side = SideDraft(
            role=role,
            base_url=str(answers[f"{role}_url"]).rstrip("/"),
            endpoint=f"{verb}_{_key(last[-1]) if last else 'records'}".replace(".", "_"),
            path=path,
            method=str(answers.get(f"{role}_method", "GET")).upper(),
            auth=auth_placeholders(
                str(answers.get(f"{role}_auth", "none")),
                role,
                str(answers.get(f"{role}_token_url", "")),
            ),
        )
        sides[role] = side
    source = sides["source"]
    kind = str(answers.get("pagination", "single"))
    source.pagination = None if kind == "single" else {"type": kind}
    source.records_path = str(answers.get("records_path") or "") or None
    fields = [
        FieldDraft(
            source=pair.partition("=")[0].strip(),
            target=(pair.partition("=")[2] or pair.partition("=")[0]).strip(),
        )
        for pair in str(answers.get("fields", "")).split(",")
        if pair.strip()
    ]
    return ConfigDraft(
        name=str(answers.get("name") or "sync"),
        source=source,
        target=sides["target"],
        fields=fields,
    )
