"""The paginator contract and the registry that picks one by ``pagination.type``.

A paginator is a small state machine, in the shape dlt's REST client made familiar:

- ``init_request(request)`` sets the first page's parameters;
- ``update_state(response, records)`` reads what the page says about the next one;
- ``has_next_page`` tells the extractor whether to go on;
- ``update_request(request)`` sets the next page's parameters.

It never sends a request itself, so every strategy is tested by feeding it responses. Register a
new strategy with :func:`register_paginator`; its options model is validated from the config.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

__all__ = [
    "PageRequest",
    "Paginator",
    "PaginatorOptions",
    "paginator_types",
    "register_paginator",
    "resolve_paginator",
]


class PaginatorOptions(BaseModel):
    """Options shared by every strategy; subclasses add their own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    max_pages: int | None = None
    data_path: str | None = None


@dataclass
class PageRequest:
    """The mutable parts of the next page's request."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


OptionsT = TypeVar("OptionsT", bound=PaginatorOptions)


class Paginator(ABC, Generic[OptionsT]):
    """Base class of pagination strategies."""

    options_model: ClassVar[type[PaginatorOptions]] = PaginatorOptions

    def __init__(self, options: OptionsT) -> None:
        self.options = options
        self.has_next_page = True
        self.pages_read = 0

    def init_request(self, request: PageRequest) -> None:  # noqa: B027 - optional hook
        """Set the first page's parameters; most strategies need nothing."""

    @abstractmethod
    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        """Read the page just received and decide whether there is another."""

    @abstractmethod
    def update_request(self, request: PageRequest) -> None:
        """Set the next page's parameters."""

    def advance(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        """Count the page, apply the strategy, then the stop conditions all strategies share."""
        self.pages_read += 1
        self.update_state(response, records, body)
        if self.options.max_pages is not None and self.pages_read >= self.options.max_pages:
            self.has_next_page = False


_REGISTRY: dict[str, type[Paginator[Any]]] = {}


def register_paginator(name: str) -> Callable[[type[Paginator[Any]]], type[Paginator[Any]]]:
    """Class decorator: make a strategy available as ``pagination: {type: name}``."""

    def decorate(cls: type[Paginator[Any]]) -> type[Paginator[Any]]:
        _REGISTRY[name] = cls
        return cls

    return decorate


def paginator_types() -> list[str]:
    """The registered strategy names, sorted."""
    return sorted(_REGISTRY)


def resolve_paginator(name: str) -> type[Paginator[Any]]:
    """The strategy registered as ``name``; a ``ValueError`` lists the valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join(paginator_types())
        raise ValueError(f"Received `type={name}`. Valid values are: {valid}") from None
