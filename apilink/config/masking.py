"""Secret values in a config's plain strings: remembered, and masked in reprs and dumps.

A ``SecretStr`` masks itself; a header, a query parameter or a URL path is a plain ``str``, so
a ``${VAR}`` or ``secret://`` value resolved into one would be shown in clear by ``repr()`` or
``model_dump()``. :class:`SecretBearing` models remember such values and mask them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Self

from pydantic import BaseModel, PrivateAttr

from apilink.redaction import MASK

__all__ = ["SecretBearing", "nested_secrets", "revealed_dump"]


class SecretBearing(BaseModel):
    """A model some of whose plain strings hold secrets: ``${VAR}`` and ``secret://`` values
    resolved into headers, params or a URL path.

    Those values are remembered (``secret_texts``, filled by the loader and the credential
    resolver) and masked in ``repr()``, ``model_dump()`` and ``model_dump_json()`` of this
    model and of every model that holds it. :func:`revealed_dump` is the one way to the clear
    values. Trusted: the worker's operator and the config's author; not trusted: anyone who
    reads logs, reprs or dumps of a config.
    """

    _secret_texts: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @property
    def secret_texts(self) -> frozenset[str]:
        """The secret values resolved into this model's plain strings (not nested models')."""
        return self._secret_texts

    def with_secret_texts(self, values: Iterable[str]) -> Self:
        """This model, remembering ``values`` as secret too (set in place: frozen fields stay)."""
        self._secret_texts = self._secret_texts | {v for v in values if v}
        return self

    def __repr_args__(self) -> Any:
        secrets = nested_secrets(self)
        for name, value in super().__repr_args__():
            yield name, _Masked(value, secrets) if secrets else value

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        dumped: dict[str, Any] = _mask(super().model_dump(**kwargs), nested_secrets(self))
        return dumped

    def model_dump_json(self, **kwargs: Any) -> str:
        text = super().model_dump_json(**kwargs)
        secrets = nested_secrets(self)
        return json.dumps(_mask(json.loads(text), secrets)) if secrets else text


def nested_secrets(model: BaseModel) -> frozenset[str]:
    """Every ``secret_texts`` value of ``model`` and the secret-bearing models inside it."""
    found: set[str] = set()
    stack: list[Any] = [model]
    while stack:
        item = stack.pop()
        if isinstance(item, SecretBearing):
            found |= item.secret_texts
        if isinstance(item, BaseModel):
            stack.extend(getattr(item, name) for name in type(item).model_fields)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return frozenset(found)


def _mask(value: Any, secrets: frozenset[str]) -> Any:
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {k: _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask(v, secrets) for v in value)
    return value


class _Masked:
    """A repr that shows ``value`` with its secret strings masked."""

    def __init__(self, value: Any, secrets: frozenset[str]) -> None:
        self._text: str = _mask(repr(value), secrets)

    def __repr__(self) -> str:
        return self._text


def revealed_dump(model: BaseModel, **kwargs: Any) -> dict[str, Any]:
    """``model.model_dump(**kwargs)`` with the values :class:`SecretBearing` masks in clear.

    For code that must rebuild a working config (never for logs, artifacts or parameters).
    """
    return BaseModel.model_dump(model, **kwargs)
