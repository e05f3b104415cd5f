"""A source and a target API that misbehave on purpose, deterministically.

Faults are drawn per request from ``random.Random(f"{seed}:{n}")`` where ``n`` counts the
requests, so a seed names a run. One page or one idempotency key is faulted at most
``max_per_key`` times, so enough retries always get through.

Kinds of fault:

- ``429``: Too Many Requests with ``Retry-After: <seconds>``;
- ``503``: Service Unavailable with ``Retry-After: <HTTP date>``;
- ``drop``: the connection is cut mid-response; the target has *already stored* the records,
  so only the idempotency key keeps the retry from duplicating them;
- ``slow``: the answer comes after ``slow_seconds`` (longer than the client's read timeout in
  the tests), and the target stores the records once the wait is over.

The target stores records under their ``Idempotency-Key`` (a repeat is acknowledged and
ignored; with ``honour_keys=False`` it is stored again, as most real APIs would),
refuses records whose ``name`` starts with ``REJECT`` with a 422 whose body echoes
the request's ``Authorization`` header (a careless API), can hold requests at a gate so a
test can kill its client mid-run, and can answer 403 to everything once ``forbid_after``
records are stored (a key whose permission is withdrawn mid-run).

The source writes ``NaN`` and ``Infinity`` as Python's ``json`` does (many Python APIs do), so
a test can plant a number that has no JSON form.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

__all__ = [
    "FaultPlan",
    "FaultyTarget",
    "TokenEndpointLog",
    "items",
    "make_faulty_source",
    "make_faulty_target",
    "make_faulty_token_endpoint",
]

KINDS = ("429", "503", "drop", "slow")


class _LaxJSON(JSONResponse):
    """JSON as ``json.dumps`` writes it by default: ``NaN`` and ``Infinity`` included."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()


class DroppedConnection(Exception):
    """Raised after a partial response so uvicorn cuts the connection."""


@dataclass
class FaultPlan:
    """Which requests fail, and how."""

    seed: int = 0
    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    max_per_key: int = 2
    slow_seconds: float = 0.6
    retry_after_seconds: int = 2
    requests: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    per_key: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def decide(self, key: str) -> str | None:
        with self.lock:
            n = self.requests
            self.requests += 1
            rng = random.Random(f"{self.seed}:{n}")
            if not self.kinds or rng.random() >= self.rate or self.per_key[key] >= self.max_per_key:
                return None
            kind = self.kinds[rng.randrange(len(self.kinds))]
            self.per_key[key] += 1
            self.injected[kind] += 1
            return kind


def items(
    count: int, *, bad_every: int = 0, reject: set[int] | None = None
) -> list[dict[str, Any]]:
    """Source records ``{id, seq, name, email}``; every ``bad_every``-th has a bad email."""
    out = []
    for i in range(1, count + 1):
        bad = bad_every and i % bad_every == 0
        name = f"REJECT {i}" if reject and i in reject else f"item {i}"
        out.append(
            {
                "id": i,
                "seq": i * 10,
                "name": name,
                "email": f"item{i}-at-example" if bad else f"item{i}@example.com",
            }
        )
    return out


def _faulted(kind: str, plan: FaultPlan) -> Response:
    if kind == "429":
        return JSONResponse(
            {"error": "slow down"},
            status_code=429,
            headers={"Retry-After": str(plan.retry_after_seconds)},
        )
    if kind == "503":
        when = datetime.now(UTC) + timedelta(seconds=plan.retry_after_seconds)
        return JSONResponse(
            {"error": "unavailable"},
            status_code=503,
            headers={"Retry-After": format_datetime(when, usegmt=True)},
        )
    raise AssertionError(kind)


class _Drop(Response):
    """Starts a response, then fails, so the client sees a connection cut mid-body."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1000"), (b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"partial', "more_body": True})
        raise DroppedConnection("dropped on purpose")


def make_faulty_source(
    records: list[dict[str, Any]], plan: FaultPlan, *, page_size: int = 10
) -> tuple[Starlette, list[dict[str, Any]]]:
    """``GET /items?page=N&per_page=M[&since=SEQ]``; returns the app and its request log.

    ``since`` keeps records whose ``seq`` is greater; the log holds each answered page as
    ``{"page": N, "since": SEQ}``.
    """
    log: list[dict[str, Any]] = []

    async def list_items(request: Request) -> Response:
        page = int(request.query_params.get("page", "1"))
        size = int(request.query_params.get("per_page", str(page_size)))
        since = request.query_params.get("since")
        kind = plan.decide(f"page:{page}:{since}")
        if kind == "drop":
            return _Drop()
        if kind == "slow":
            await asyncio.sleep(plan.slow_seconds)
        elif kind is not None:
            return _faulted(kind, plan)
        chosen = [r for r in records if since is None or r["seq"] > float(since)]
        start = (page - 1) * size
        chunk = chosen[start : start + size]
        log.append({"page": page, "since": since})
        more = start + size < len(chosen)
        return _LaxJSON({"data": chunk, "meta": {"page": page, "more": more}})

    return Starlette(routes=[Route("/items", list_items)]), log


@dataclass
class FaultyTarget:
    """What the target stored, and its gate."""

    plan: FaultPlan
    token: str
    stored: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    gate_after: int | None = None
    forbid_after: int | None = None
    honour_keys: bool = True
    gate: threading.Event = field(default_factory=threading.Event)
    reached_gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for batch in self.stored.values() for r in batch]

    def store(self, key: str, records: list[dict[str, Any]]) -> bool:
        with self.lock:
            if key in self.stored:
                if self.honour_keys:
                    self.duplicates += 1
                    return False
                key = f"{key}#{len(self.stored)}"  # like most real APIs: stored again
            self.stored[key] = records
            return True


def make_faulty_target(target: FaultyTarget) -> Starlette:
    """``POST /items`` (an object or a list, ``Idempotency-Key`` required, bearer token)."""

    async def create(request: Request) -> Response:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {target.token}".encode()):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        with target.lock:
            stored = sum(map(len, target.stored.values()))
            forbidden = target.forbid_after is not None and stored >= target.forbid_after
        if forbidden:
            return JSONResponse({"error": "this key may no longer write"}, status_code=403)
        key = request.headers.get("idempotency-key")
        if not key:
            return JSONResponse({"error": "Idempotency-Key required"}, status_code=400)
        body = await request.json()
        records = body if isinstance(body, list) else [body]
        with target.lock:
            target.attempts[key] += 1
        if any(str(r.get("name", "")).startswith("REJECT") for r in records):
            # A careless API that echoes the credentials it was sent.
            return JSONResponse(
                {"error": "name refused", "debug": {"authorization": sent}}, status_code=422
            )
        kind = target.plan.decide(f"key:{key}")
        if kind in {"429", "503"}:
            return _faulted(kind, target.plan)
        await _wait_at_gate(target)
        if kind == "slow":
            await asyncio.sleep(target.plan.slow_seconds)
        fresh = target.store(key, records)
        if kind == "drop":
            return _Drop()
        return JSONResponse({"accepted": len(records), "replayed": not fresh}, status_code=201)

    return Starlette(routes=[Route("/items", create, methods=["POST"])])


async def _wait_at_gate(target: FaultyTarget) -> None:
    if target.gate_after is None:
        return
    with target.lock:
        reached = len(target.stored) >= target.gate_after
    if not reached:
        return
    target.reached_gate.set()
    while not target.gate.is_set():
        await asyncio.sleep(0.01)


@dataclass
class TokenEndpointLog:
    """What a faulty token endpoint saw: how many token requests."""

    requests: int = 0


def gzip_bomb(inflated: int) -> bytes:
    """A gzip stream of a JSON token padded with spaces to ``inflated`` bytes (~1/1000 of that
    on the wire)."""
    import zlib

    head = b'{"access_token": "bomb", "token_type": "Bearer", "pad": "'
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(head)]
    block = b" " * (1024 * 1024)
    left = inflated - len(head) - 2
    while left > 0:
        parts.append(packer.compress(block[: min(left, len(block))]))
        left -= len(block)
    parts.append(packer.compress(b'"}'))
    parts.append(packer.flush())
    return b"".join(parts)


def make_faulty_token_endpoint(
    kind: str, *, inflated: int = 400 * 1024 * 1024, delay: float = 12.0
) -> tuple[Starlette, TokenEndpointLog]:
    """A token endpoint at ``/token`` that misbehaves: ``gzip_bomb`` answers a small gzip body
    that inflates to ``inflated`` bytes; ``slow`` answers a good token after ``delay`` seconds.
    """
    log = TokenEndpointLog()
    bomb = gzip_bomb(inflated) if kind == "gzip_bomb" else b""

    async def token(request: Request) -> Response:
        await request.body()
        log.requests += 1
        if kind == "gzip_bomb":
            return Response(
                bomb,
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        await asyncio.sleep(delay)
        return JSONResponse({"access_token": "late", "token_type": "Bearer", "expires_in": 60})

    return Starlette(routes=[Route("/token", token, methods=["POST"])]), log
