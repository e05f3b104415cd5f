"""Careless loopback APIs for the canary sweep: they echo the credentials they were sent in
their error bodies, so any error text the run keeps would carry a canary."""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "Inbox",
    "make_careless_source",
    "make_careless_target",
    "make_echo_source",
    "make_echo_target",
]


def make_careless_source(
    records: list[dict[str, Any]],
    *,
    token: str | None = None,
    accept_token: Callable[[str], bool] | None = None,
    malformed: bool = False,
    on_page: Callable[[int], None] | None = None,
) -> Starlette:
    """``GET /users?page=N&per_page=M`` -> ``{"data": [...], "meta": {"next_page": ...}}``.

    A refused bearer token is echoed in the 401 body; ``malformed`` answers 200 with a body that
    is not JSON, holding the token sent and a record.
    """

    def authorized(sent: str) -> bool:
        scheme, _, value = sent.partition(" ")
        if accept_token is not None:
            return scheme.lower() == "bearer" and accept_token(value)
        return token is None or hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())

    async def users(request: Request) -> Response:
        sent = request.headers.get("authorization", "")
        if not authorized(sent):
            return JSONResponse(
                {"error": "invalid_token", "you_sent": sent},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        page = int(request.query_params.get("page", "1"))
        size = int(request.query_params.get("per_page", "10"))
        chunk = records[(page - 1) * size : page * size]
        if malformed:
            body = '{"data": [' + json.dumps(chunk[:1]) + f', "auth": "{sent}" <<< truncated'
            return Response(body, status_code=200, media_type="application/json")
        if on_page is not None:
            on_page(page)
        more = page * size < len(records)
        return JSONResponse({"data": chunk, "meta": {"next_page": page + 1 if more else None}})

    return Starlette(routes=[Route("/users", users)])


@dataclass
class Inbox:
    """What the target accepted."""

    records: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_careless_target(inbox: Inbox, *, api_key: str) -> Starlette:
    """``POST /profiles``: needs the key in ``X-API-Key`` or the query parameter ``k``;
    refuses (422) a record whose ``name`` starts with ``REJECT``, echoing the key and the
    record it was sent."""

    async def create(request: Request) -> Response:
        sent = request.headers.get("x-api-key") or request.query_params.get("k", "")
        if not hmac.compare_digest(sent.encode(), api_key.encode()):
            return JSONResponse({"error": "bad key", "you_sent": sent}, status_code=401)
        body = await request.json()
        records = body if isinstance(body, list) else [body]
        if any(str(r.get("name", "")).startswith("REJECT") for r in records):
            with inbox.lock:
                inbox.refused += len(records)
            return JSONResponse(
                {"error": "name refused", "x-api-key": sent, "records": records}, status_code=422
            )
        with inbox.lock:
            inbox.records.extend(records)
        return JSONResponse({"accepted": len(records)}, status_code=201)

    return Starlette(routes=[Route("/profiles", create, methods=["POST"])])


async def _echo(request: Request) -> dict[str, Any]:
    """The request as a careless server repeats it: URL, every header (Authorization's
    base64 ``user:pass`` included) as pairs, and the body as text (JSON-escaped once more)."""
    raw = await request.body()
    common = {"host", "accept", "accept-encoding", "connection", "user-agent", "content-length"}
    headers = sorted(
        request.headers.items(), key=lambda pair: (pair[0] != "authorization", pair[0] in common)
    )
    # The interesting part first: an error excerpt that is cut short still holds it.
    return {
        "headers": [[k, v] for k, v in headers],
        "body": raw.decode("utf-8", "replace"),
        "url": str(request.url),
        "method": request.method,
    }


def make_echo_source(records: list[dict[str, Any]], *, failing_pages: set[int]) -> Starlette:
    """``GET /s/{segment}/users?page=N&per_page=M``: pages of ``records``; a page in
    ``failing_pages`` (the caller may change the set) answers 500 with the whole request
    echoed; a request without a ``tenant_ref`` parameter 400 with the same echo."""

    async def users(request: Request) -> Response:
        if "tenant_ref" not in request.query_params:
            return JSONResponse({"error": "no tenant_ref", "you_sent": await _echo(request)}, 400)
        page = int(request.query_params.get("page", "1"))
        if page in failing_pages:
            return JSONResponse({"error": "boom", "you_sent": await _echo(request)}, 500)
        size = int(request.query_params.get("per_page", "10"))
        chunk = records[(page - 1) * size : page * size]
        more = page * size < len(records)
        return JSONResponse({"data": chunk, "meta": {"next_page": page + 1 if more else None}})

    return Starlette(routes=[Route("/s/{segment}/users", users)])


def make_echo_target(inbox: Inbox) -> Starlette:
    """``POST /t/{tenant}/profiles``: refuses a record named ``REJECT...`` with 422 and one
    named ``FAIL...`` with 503, each time echoing the whole request (headers and body)."""

    async def create(request: Request) -> Response:
        body = await request.json()
        records = body if isinstance(body, list) else [body]
        names = [str(r.get("name", "")) for r in records]
        status = 422 if any(n.startswith("REJECT") for n in names) else 0
        status = status or (503 if any(n.startswith("FAIL") for n in names) else 0)
        if status:
            with inbox.lock:
                inbox.refused += len(records)
            return JSONResponse({"error": "refused", "you_sent": await _echo(request)}, status)
        with inbox.lock:
            inbox.records.extend(records)
        return JSONResponse({"accepted": len(records)}, status_code=201)

    return Starlette(routes=[Route("/t/{tenant}/profiles", create, methods=["POST"])])
