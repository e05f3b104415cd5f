"""Strategies that follow the next page's URL as the server gives it.

``next_url`` reads it from the body (``{"next": "/items?page=2"}``), ``link_header`` from an
RFC 8288 ``Link: <...>; rel="next"`` header. A relative URL is resolved against the URL of the
page that named it. The next URL must stay on the origin (scheme, host and port) the first page
came from: the client sends the source's credentials with every request, so a page that points
elsewhere would hand them to another server. Such a URL is refused with a
:class:`~apilink.errors.PaginationError` that names the two origins, never the URL (it may be
signed).
"""

from __future__ import annotations

from typing import Any

import httpx

from apilink.errors import PaginationError
from apilink.mapping.paths import MISSING, get_path
from apilink.pagination.base import (
    LoopGuard,
    OptionsT,
    PageRequest,
    Paginator,
    PaginatorOptions,
    register_paginator,
)
from apilink.pagination.rfc8288 import find_link

__all__ = [
    "LinkHeaderOptions",
    "LinkHeaderPaginator",
    "NextUrlOptions",
    "NextUrlPaginator",
    "origin_of",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx.URL) -> str:
    """``scheme://host:port`` of ``url``, with the scheme's default port made explicit."""
    port = url.port or _DEFAULT_PORTS.get(url.scheme)
    return f"{url.scheme}://{url.host}:{port}"


class _FollowingPaginator(Paginator[OptionsT]):
    """Shared part of the URL-following strategies: resolve, check the origin, guard loops."""

    def __init__(self, options: OptionsT) -> None:
        super().__init__(options)
        self.next_url: str | None = None
        self._origin: str | None = None
        self._guard = LoopGuard(f"next-page URL ({self._where})")

    @property
    def _where(self) -> str:
        raise NotImplementedError

    def _accept(self, response: httpx.Response, raw: Any) -> None:
        if raw is MISSING or raw is None or raw == "":
            self.has_next_page = False
            return
        if not isinstance(raw, str):
            raise PaginationError(
                f"the next-page URL ({self._where}) is {type(raw).__name__}, not a string"
            )
        current = response.request.url
        if self._origin is None:
            self._origin = origin_of(current)
        try:
            resolved = current.join(raw.strip())
        except httpx.InvalidURL:
            raise PaginationError(f"the next-page URL ({self._where}) is not a URL") from None
        if resolved.scheme not in _DEFAULT_PORTS or origin_of(resolved) != self._origin:
            raise PaginationError(
                f"refusing the next-page URL ({self._where}): it leaves the source's origin "
                f"{self._origin} for {resolved.scheme}://{resolved.host}; the source's "
                "credentials are only sent to its own origin"
            )
        # The fragment never reaches the server, so it cannot tell two pages apart.
        resolved = resolved.copy_with(fragment=None)
        self._guard.check(str(resolved))
        self.next_url = str(resolved)

    def update_request(self, request: PageRequest) -> None:
        assert self.next_url is not None
        request.follow(self.next_url)


class NextUrlOptions(PaginatorOptions):
    """``type: next_url``.

    Attributes:
        next_url_path: where the next page's URL (absolute or relative) sits in the body;
            absent, null or ``""`` ends.
    """

    next_url_path: str = "next"


@register_paginator("next_url")
class NextUrlPaginator(_FollowingPaginator[NextUrlOptions]):
    """Follows the URL the body names, on the source's origin only."""

    options_model = NextUrlOptions

    @property
    def _where(self) -> str:
        return f"body `{self.options.next_url_path}`"

    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        self._accept(response, get_path(body, self.options.next_url_path))


class LinkHeaderOptions(PaginatorOptions):
    """``type: link_header``.

    Attributes:
        rel: the relation type to follow.
    """

    rel: str = "next"


@register_paginator("link_header")
class LinkHeaderPaginator(_FollowingPaginator[LinkHeaderOptions]):
    """Follows the ``Link`` header's ``rel="next"`` target, on the source's origin only."""

    options_model = LinkHeaderOptions

    @property
    def _where(self) -> str:
        return f'Link header rel="{self.options.rel}"'

    def update_state(self, response: httpx.Response, records: list[Any], body: Any) -> None:
        target = find_link(response.headers.get_list("link"), self.options.rel)
        self._accept(response, target)
