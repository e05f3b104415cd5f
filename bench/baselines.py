"""Hand-written baselines: the same sync as apilink's, with no framework around it.

Both read the source page by page, check the same rules, map the same five fields, and post to
the target with bounded concurrency while the next page is read:

- ``per-record``: bare aiohttp, one POST per record;
- ``batch``: bare httpx, one POST per ``batch_size`` records.

Run one with ``python -m bench.baselines per-record|batch --source URL --target URL --limit N``;
it prints the counts as one JSON line, like ``apilink sync --json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
import httpx

from bench.users import PAGE_SIZE, map_user, user_passes_rules

__all__ = ["Counts", "run_batch", "run_per_record"]

Post = Callable[[Any], Awaitable[bool]]


@dataclass
class Counts:
    extracted: int = 0
    valid: int = 0
    quarantined: int = 0
    loaded: int = 0
    failed: int = 0


async def _deliver(
    pages: AsyncIterator[list[dict[str, Any]]],
    post: Post,
    *,
    concurrency: int,
    batch_size: int | None,
) -> Counts:
    """Check, map and post what ``pages`` yields through ``concurrency`` workers."""
    counts = Counts()
    queue: asyncio.Queue[tuple[Any, int] | None] = asyncio.Queue(maxsize=concurrency * 2)

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            body, size = item
            if await post(body):
                counts.loaded += size
            else:
                counts.failed += size

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    async for page in pages:
        counts.extracted += len(page)
        mapped = [map_user(record) for record in page if user_passes_rules(record)]
        counts.valid += len(mapped)
        counts.quarantined += len(page) - len(mapped)
        if batch_size is None:
            for record in mapped:
                await queue.put((record, 1))
        else:
            for start in range(0, len(mapped), batch_size):
                group = mapped[start : start + batch_size]
                await queue.put((group, len(group)))
    for _ in workers:
        await queue.put(None)
    await asyncio.gather(*workers)
    return counts


async def run_per_record(source: str, target: str, limit: int, concurrency: int) -> Counts:
    """Bare aiohttp: one POST per valid record."""
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(source, timeout=timeout) as reader,
        aiohttp.ClientSession(
            target, timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)
        ) as writer,
    ):

        async def pages() -> AsyncIterator[list[dict[str, Any]]]:
            page: int | None = 1
            while page is not None:
                params = {"page": page, "per_page": PAGE_SIZE, "limit": limit}
                async with reader.get("/users", params=params) as response:
                    response.raise_for_status()
                    body = await response.json()
                yield body["data"]
                page = body["meta"]["next_page"]

        async def post(record: Any) -> bool:
            async with writer.post("/records", json=record) as response:
                await response.read()
                return response.status < 300

        return await _deliver(pages(), post, concurrency=concurrency, batch_size=None)


async def run_batch(
    source: str, target: str, limit: int, concurrency: int, batch_size: int
) -> Counts:
    """Bare httpx: one POST per ``batch_size`` valid records."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with (
        httpx.AsyncClient(base_url=source, timeout=60) as reader,
        httpx.AsyncClient(base_url=target, timeout=60, limits=limits) as writer,
    ):

        async def pages() -> AsyncIterator[list[dict[str, Any]]]:
            page: int | None = 1
            while page is not None:
                params = {"page": page, "per_page": PAGE_SIZE, "limit": limit}
                response = await reader.get("/users", params=params)
                response.raise_for_status()
                body = response.json()
                yield body["data"]
                page = body["meta"]["next_page"]

        async def post(group: Any) -> bool:
            response = await writer.post("/records", json=group)
            return response.is_success

        return await _deliver(pages(), post, concurrency=concurrency, batch_size=batch_size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines")
    parser.add_argument("case", choices=["per-record", "batch"])
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--limit", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args(argv)
    if args.case == "per-record":
        work = run_per_record(args.source, args.target, args.limit, args.concurrency)
    else:
        work = run_batch(args.source, args.target, args.limit, args.concurrency, args.batch_size)
    counts = asyncio.run(work)
    sys.stdout.write(json.dumps(asdict(counts)) + "\n")


if __name__ == "__main__":
    main()
