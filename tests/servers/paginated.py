"""A loopback API that serves the same records with every pagination style, well or badly.

Every route serves ``ApiState.records`` (``{"id": n, "name": "item-n"}``), ``size`` per page
(``?size=`` overrides), and records each request it receives (path, query, Host and the
``X-Cursor`` header) so tests can assert what was asked for and what never reached it.

``?mode=`` makes a route misbehave:

- ``repeat``   - every page names page 2 as the next one (the loop guard must stop it);
- ``ignore``   - page_number and offset: the page parameter is ignored (same page forever);
- ``endless``  - page_number: pages past the end are empty, but nothing else says "last page";
- ``cross``    - next_url and link_header: the next URL names another origin
  (``localhost`` instead of ``127.0.0.1``, same port);
- ``absolute`` - next_url and link_header: absolute next URLs instead of relative ones.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["ApiState", "SeenRequest", "make_paginated_app"]


@dataclass(frozen=True)
class SeenRequest:
    path: str
    query: dict[str, str]
    host: str
    cursor_header: str | None


@dataclass
class ApiState:
    """The records served and the requests received (safe to read from the test thread)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    size: int = 10
    requests: list[SeenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, request: Request) -> None:
        with self.lock:
            self.requests.append(
                SeenRequest(
                    request.url.path,
                    dict(request.query_params),
                    request.headers.get("host", ""),
                    request.headers.get("x-cursor"),
                )
            )

    def reset(self, count: int) -> None:
        with self.lock:
            self.records = [{"id": n, "name": f"item-{n}"} for n in range(1, count + 1)]
            self.requests.clear()


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode(cursor: str | None) -> int:
    if not cursor:
        return 0
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)[1])


def make_paginated_app(state: ApiState) -> Starlette:
    """The app; see the module docstring for its routes and modes."""

    def window(request: Request, start: int) -> tuple[list[dict[str, Any]], int, bool]:
        size = int(request.query_params.get("size", state.size))
        chunk = state.records[start : start + size]
        return chunk, size, start + size < len(state.records)

    async def page_number(request: Request) -> Response:
        state.seen(request)
        mode = request.query_params.get("mode")
        page = 1 if mode == "ignore" else int(request.query_params.get("page", "1"))
        size = int(request.query_params.get("size", state.size))
        chunk, size, more = window(request, (page - 1) * size)
        if mode == "endless":
            return JSONResponse({"data": chunk})
        pages = -(-len(state.records) // size)
        meta = {"has_more": more, "total": len(state.records), "total_pages": pages}
        return JSONResponse({"data": chunk, "meta": meta})

    async def offset(request: Request) -> Response:
        state.seen(request)
        mode = request.query_params.get("mode")
        start = 0 if mode == "ignore" else int(request.query_params.get("offset", "0"))
        limit = int(request.query_params.get("limit", state.size))
        # A server that caps the page size below what was asked, as many do.
        limit = min(limit, int(request.query_params.get("cap", limit)))
        chunk = state.records[start : start + limit]
        return JSONResponse({"items": chunk, "total": len(state.records)})

    async def cursor(request: Request) -> Response:
        state.seen(request)
        start = _decode(request.query_params.get("cursor"))
        chunk, size, more = window(request, start)
        if request.query_params.get("mode") == "repeat":
            return JSONResponse({"data": chunk, "next_cursor": _encode(size)})
        return JSONResponse({"data": chunk, "next_cursor": _encode(start + size) if more else None})

    def next_link(request: Request, page: int) -> str:
        query = {k: v for k, v in request.query_params.items() if k != "page"}
        mode = query.get("mode")
        if mode == "repeat":
            page = 2
        relative = f"{request.url.path}?{urlencode({**query, 'page': page})}"
        if mode == "cross":
            return f"http://localhost:{request.url.port}{relative}"
        if mode == "absolute":
            return f"{request.url.scheme}://{request.url.netloc}{relative}"
        return relative

    async def next_url(request: Request) -> Response:
        state.seen(request)
        page = int(request.query_params.get("page", "1"))
        chunk, _, more = window(request, (page - 1) * state.size)
        return JSONResponse(
            {"results": chunk, "links": {"next": next_link(request, page + 1) if more else None}}
        )

    async def link_header(request: Request) -> Response:
        state.seen(request)
        page = int(request.query_params.get("page", "1"))
        chunk, _, more = window(request, (page - 1) * state.size)
        # Deliberately awkward but valid RFC 8288: several headers, a title holding a comma
        # and a semicolon, REL in capitals, a bare value, the next link not first.
        headers = [
            ("link", f'<{next_link(request, 1)}>; title="first, oldest; page"; rel=first'),
        ]
        if more:
            following = next_link(request, page + 1)
            headers.append(("link", f'</docs/paging>; rel="help", <{following}>; REL="next"'))
        response = JSONResponse(chunk)
        for name, value in headers:
            response.headers.append(name, value)
        return response

    async def header_cursor(request: Request) -> Response:
        state.seen(request)
        sent = request.query_params.get("cursor") or request.headers.get("x-cursor")
        start = _decode(sent)
        chunk, size, more = window(request, start)
        response = JSONResponse({"data": chunk})
        if request.query_params.get("mode") == "repeat":
            response.headers["X-Next-Cursor"] = _encode(size)
        elif more:
            response.headers["X-Next-Cursor"] = _encode(start + size)
        return response

    async def single(request: Request) -> Response:
        state.seen(request)
        return JSONResponse(state.records)

    return Starlette(
        routes=[
            Route("/page", page_number),
            Route("/offset", offset),
            Route("/cursor", cursor),
            Route("/next-url", next_url),
            Route("/link", link_header),
            Route("/header-cursor", header_cursor),
            Route("/single", single),
        ]
    )
