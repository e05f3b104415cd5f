"""``secret://name#field`` references in a sync config, replaced by stored values.

A reference is a whole value: ``secret://github_api#token`` reads field ``token`` of entry
``github_api``; ``secret://github_api`` reads the entry's only field (``expires_at`` aside).
References are looked for in the ``auth`` and ``tls`` sections, the ``headers`` and every
endpoint's ``params``, ``headers`` and protection keys (``encrypt``, ``sign``, ``decrypt``,
``verify``) of both ``source`` and ``target``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretStr

from apilink.config.models import ConnectionConfig, EndpointConfig, SyncConfig
from apilink.credentials.base import CredentialStore
from apilink.errors import CredentialError, CredentialNotFound

__all__ = ["SECRET_SCHEME", "SecretReference", "parse_reference", "resolve_references"]

SECRET_SCHEME = "secret://"
_REFERENCE = re.compile(r"secret://(?P<name>[A-Za-z0-9_.\-/]+)(?:#(?P<field>[A-Za-z0-9_.\-]+))?")


@dataclass(frozen=True)
class SecretReference:
    """A parsed ``secret://name#field``."""

    name: str
    field: str | None = None

    def __str__(self) -> str:
        return f"{SECRET_SCHEME}{self.name}" + (f"#{self.field}" if self.field else "")


def parse_reference(value: object) -> SecretReference | None:
    """The reference ``value`` holds, ``None`` if it is not one.

    Raises:
        CredentialError: it starts with ``secret://`` but is not a valid reference.
    """
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(text, str) or not text.startswith(SECRET_SCHEME):
        return None
    match = _REFERENCE.fullmatch(text)
    if match is None:
        raise CredentialError(
            "a malformed secret reference: write secret://name or secret://name#field "
            "(letters, digits, _ . - / in names)"
        )
    return SecretReference(match["name"], match["field"])


def resolve_references(config: SyncConfig, store: CredentialStore | None) -> SyncConfig:
    """A copy of ``config`` with every ``secret://`` reference replaced by its value.

    A ``SecretStr`` stays a ``SecretStr``; each entry is read from ``store`` once per call.

    Raises:
        CredentialError: a reference but no store, an unknown entry or a missing field; the
            message names the reference, never a value.
    """
    resolver = _Resolver(store)
    return config.model_copy(
        update={
            "source": resolver.connection(config.source, "source"),
            "target": resolver.connection(config.target, "target"),
        }
    )


class _Resolver:
    def __init__(self, store: CredentialStore | None) -> None:
        self._store = store
        self._entries: dict[str, dict[str, Any]] = {}

    def connection(self, conn: ConnectionConfig, where: str) -> ConnectionConfig:
        update: dict[str, Any] = {
            "headers": self._mapping(conn.headers, f"{where}.headers", as_text=True),
            "endpoints": {
                name: self._endpoint(endpoint, f"{where}.endpoints.{name}")
                for name, endpoint in conn.endpoints.items()
            },
        }
        if conn.auth is not None:
            update["auth"] = self._model(conn.auth, f"{where}.auth")
        if conn.tls is not None:
            update["tls"] = self._model(conn.tls, f"{where}.tls")
        copy = conn.model_copy(update=update)
        # A value read into a plain header is a secret the redactor and the repr must know.
        return copy.with_secret_texts(_changed(conn.headers, update["headers"]))

    def _endpoint(self, endpoint: EndpointConfig, where: str) -> EndpointConfig:
        update: dict[str, Any] = {
            "params": self._mapping(endpoint.params, f"{where}.params", as_text=False),
            "headers": self._mapping(endpoint.headers, f"{where}.headers", as_text=True),
        }
        for key in ("encrypt", "sign", "decrypt", "verify"):
            section = getattr(endpoint, key)
            if section is not None:
                update[key] = self._model(section, f"{where}.{key}")
        copy = endpoint.model_copy(update=update)
        return copy.with_secret_texts(
            [
                *_changed(endpoint.params, update["params"]),
                *_changed(endpoint.headers, update["headers"]),
            ]
        )

    def _model(self, model: BaseModel, where: str) -> BaseModel:
        update: dict[str, Any] = {}
        for key in type(model).model_fields:
            value = getattr(model, key)
            if isinstance(value, dict):
                update[key] = self._mapping(value, f"{where}.{key}", as_text=True)
            else:
                update[key] = self._value(value, f"{where}.{key}", as_text=True)
        return model.model_copy(update=update)

    def _mapping(self, values: dict[str, Any], where: str, *, as_text: bool) -> dict[str, Any]:
        return {k: self._value(v, f"{where}.{k}", as_text=as_text) for k, v in values.items()}

    def _value(self, value: Any, where: str, *, as_text: bool) -> Any:
        reference = parse_reference(value)
        if reference is None:
            return value
        resolved = self._lookup(reference, where)
        if isinstance(value, SecretStr):
            return SecretStr(_text(resolved))
        return _text(resolved) if as_text else resolved

    def _lookup(self, reference: SecretReference, where: str) -> Any:
        if self._store is None:
            raise CredentialError(
                f"`{where}` refers to {reference}, but no credential store is configured "
                "(add a `credentials:` section or `security.credential_storage_path`)"
            )
        entry = self._entries.get(reference.name)
        if entry is None:
            try:
                entry = self._store.get(reference.name)
            except CredentialNotFound:
                raise CredentialNotFound(
                    f"`{where}` refers to {reference}: no credential named "
                    f"{reference.name!r} in the store"
                ) from None
            self._entries[reference.name] = entry
        if reference.field is not None:
            if reference.field not in entry:
                raise CredentialError(
                    f"`{where}` refers to {reference}: credential {reference.name!r} has no "
                    f"field {reference.field!r} (fields: {', '.join(sorted(entry)) or 'none'})"
                )
            return entry[reference.field]
        fields = [k for k in entry if k != "expires_at"]
        if len(fields) != 1:
            raise CredentialError(
                f"`{where}` refers to {reference}, but credential {reference.name!r} has "
                f"{len(fields)} fields ({', '.join(sorted(fields)) or 'none'}); name one with "
                f"{reference}#field"
            )
        return entry[fields[0]]


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The values a reference was replaced with (as the text they travel as)."""
    return [_text(after[k]) for k, v in before.items() if after[k] is not v]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
