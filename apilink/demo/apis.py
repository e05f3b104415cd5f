"""The demo's source and target APIs (Starlette apps), also used by the tests.

The source serves paginated users behind a bearer token; some users have a bad email. The
target accepts profiles one at a time or as a JSON list, ignores a repeated
``Idempotency-Key`` (so a resend is harmless), and tells what it received.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["TargetInbox", "demo_users", "make_source_app", "make_target_app"]


def demo_users(count: int = 120, bad_every: int = 15) -> list[dict[str, Any]]:
    """Users with nested names; every ``bad_every``-th has an email that is not one."""
    users = []
    for i in range(1, count + 1):
        email = f"User{i}@Example.COM" if i % bad_every else f"user{i}-at-example.com"
        users.append(
            {
                "id": i,
                "email": email,
                "profile": {"first_name": f" Ada{i} ", "last_name": f"Lovelace{i}"},
                "created_at": f"2024-01-{(i % 28) + 1:02d}T12:00:00Z",
                "tags": [{"name": "demo"}],
            }
        )
    return users


def _authorized(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    sent = request.headers.get("authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


def make_source_app(
    users: list[dict[str, Any]],
    *,
    page_size: int = 25,
    token: str | None = None,
    accept_token: Callable[[str], bool] | None = None,
    on_page: Callable[[int], None] | None = None,
) -> Starlette:
    """``GET /users?page=N&per_page=M`` -> ``{"data": [...], "meta": {"page", "next_page"}}``.

    Args:
        users: what the API serves.
        page_size: the page size when ``per_page`` is not given.
        token: the one bearer token accepted (``None`` with no ``accept_token``: no auth).
        accept_token: decides instead whether a bearer token is good (an OAuth server's view).
        on_page: called with each page number served successfully.
    """

    def authorized(request: Request) -> bool:
        if accept_token is None:
            return _authorized(request, token)
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and accept_token(value)

    async def list_users(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse(
                {"error": "invalid_token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        try:
            page = int(request.query_params.get("page", "1"))
            size = int(request.query_params.get("per_page", str(page_size)))
        except ValueError:
            return JSONResponse({"error": "page and per_page are integers"}, status_code=400)
        start = (page - 1) * size
        chunk = users[start : start + size]
        next_page = page + 1 if start + size < len(users) else None
        if on_page is not None:
            on_page(page)
        return JSONResponse(
            {"data": chunk, "meta": {"page": page, "next_page": next_page, "total": len(users)}}
        )

    return Starlette(routes=[Route("/users", list_users)])


@dataclass
class TargetInbox:
    """What the target API received, safe to read from the test thread."""

    records: list[dict[str, Any]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    requests: int = 0
    duplicates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, key: str | None, records: list[dict[str, Any]]) -> bool:
        """Store ``records`` unless ``key`` was seen; returns whether they were new."""
        with self.lock:
            self.requests += 1
            if key is not None and key in self.keys:
                self.duplicates += 1
                return False
            if key is not None:
                self.keys.add(key)
            self.records.extend(records)
            return True


def make_target_app(inbox: TargetInbox, *, token: str | None = None) -> Starlette:
    """``POST /profiles`` (an object or a list) and ``GET /profiles`` (what was received)."""

    async def create(request: Request) -> Response:
        if not _authorized(request, token):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        records = body if isinstance(body, list) else [body]
        if not all(isinstance(r, dict) for r in records):
            return JSONResponse({"error": "records are JSON objects"}, status_code=422)
        fresh = inbox.accept(request.headers.get("idempotency-key"), records)
        return JSONResponse({"accepted": len(records), "replayed": not fresh}, status_code=201)

    async def received(request: Request) -> Response:
        with inbox.lock:
            return JSONResponse({"count": len(inbox.records), "records": inbox.records})

    return Starlette(
        routes=[Route("/profiles", create, methods=["POST"]), Route("/profiles", received)]
    )
