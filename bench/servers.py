"""The benchmark's source and target APIs, each served by aiohttp.web in its own process.

Source: ``GET /users?page=N&per_page=M&limit=L`` answers users ``(N-1)*M+1 ..`` (at most ``L``
in all) as ``{"data": [...], "meta": {"page": N, "next_page": N+1 | null}}``; users are
generated per page, so the source's memory does not grow with ``L``.

Target: ``POST /records`` takes one record or a JSON list, marks each ``external_id`` in a
bytearray (one byte per id) and counts duplicates, ids that should have been quarantined, and
records whose mapping is wrong. ``GET /stats`` returns the counters, ``POST /reset?limit=L``
clears them for a run of ``L`` source users.

Run one with ``python -m bench.servers source|target``; it prints its port on the first line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

from bench.users import PAGE_SIZE, is_valid_user, user

__all__ = ["ApiServer", "TargetLedger", "make_source_app", "make_target_app"]

_JSON = "application/json"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=_JSON)


def make_source_app() -> web.Application:
    """The users API."""

    async def list_users(request: web.Request) -> web.Response:
        query = request.rel_url.query
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", str(PAGE_SIZE)))
            limit = int(query["limit"])
        except (KeyError, ValueError):
            return _json({"error": "page, per_page and limit are integers"}, 400)
        first = (page - 1) * per_page + 1
        last = min(first + per_page - 1, limit)
        data = [user(i) for i in range(first, last + 1)]
        next_page = page + 1 if last < limit else None
        return _json({"data": data, "meta": {"page": page, "next_page": next_page}})

    app = web.Application()
    app.router.add_get("/users", list_users)
    return app


@dataclass
class TargetLedger:
    """What the target received, in a structure that stays small at a million records."""

    seen: bytearray = field(default_factory=bytearray)
    requests: int = 0
    received: int = 0
    unique: int = 0
    duplicates: int = 0
    unexpected: int = 0
    malformed: int = 0
    first_at: float | None = None
    last_at: float | None = None

    def reset(self, limit: int) -> None:
        """Forget everything; ids ``1..limit`` may arrive next."""
        self.seen = bytearray(limit + 1)
        self.requests = self.received = self.unique = 0
        self.duplicates = self.unexpected = self.malformed = 0
        self.first_at = self.last_at = None

    def accept(self, record: Any) -> None:
        self.received += 1
        try:
            ident = record["external_id"]
            email = record["contact"]["email"]
            first = record["name"]["first"]
            stamp = record["created_ts"]
        except (KeyError, TypeError):
            self.malformed += 1
            return
        if (
            type(ident) is not int
            or type(stamp) is not int
            or email != email.lower()
            or first != first.strip()
        ):
            self.malformed += 1
        if not 0 < ident < len(self.seen) or not is_valid_user(ident):
            self.unexpected += 1
            return
        if self.seen[ident]:
            self.duplicates += 1
        else:
            self.seen[ident] = 1
            self.unique += 1

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "received": self.received,
            "unique": self.unique,
            "duplicates": self.duplicates,
            "unexpected": self.unexpected,
            "malformed": self.malformed,
            "first_at": self.first_at,
            "last_at": self.last_at,
        }


def make_target_app(ledger: TargetLedger | None = None) -> web.Application:
    """The records API, checking exactly-once delivery by ``external_id``."""
    book = ledger or TargetLedger()

    async def create(request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _json({"error": "body is not JSON"}, 400)
        now = time.time()
        book.first_at = book.first_at or now
        book.last_at = now
        book.requests += 1
        records = body if isinstance(body, list) else [body]
        for record in records:
            book.accept(record)
        return _json({"accepted": len(records)}, 201)

    async def stats(request: web.Request) -> web.Response:
        return _json(book.stats())

    async def reset(request: web.Request) -> web.Response:
        book.reset(int(request.rel_url.query.get("limit", "0")))
        return _json({"limit": len(book.seen) - 1})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/records", create)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    return app


async def _serve(role: str) -> None:
    app = make_source_app() if role == "source" else make_target_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock, backlog=1024).start()
    print(sock.getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


class ApiServer:
    """One benchmark API in its own process; ``with ApiServer("target") as url: ...``.

    Attributes:
        url: ``http://127.0.0.1:PORT`` once started.
        pid: the server process's id (to read its CPU time).
    """

    def __init__(self, role: str, *, start_timeout: float = 30.0) -> None:
        if role not in ("source", "target"):
            raise ValueError(f"role is `source` or `target`, not {role!r}")
        self.role = role
        self.start_timeout = start_timeout
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> str:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.servers", self.role],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._process = process
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.isdigit():
            process.kill()
            process.wait(self.start_timeout)
            raise RuntimeError(f"the {self.role} API did not start (said {line!r})")
        self.url = f"http://127.0.0.1:{line}"
        return self.url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        if process is None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("source", "target"):
        sys.exit("usage: python -m bench.servers source|target")
    asyncio.run(_serve(sys.argv[1]))
