"""``make bench``, plan and apply: a second run over an unchanged source sends nothing.

Usage: ``python -m bench.plan_apply [--scale 1.0] [--rounds 2]`` (full size: 100,000 records).

The sync is ``mode: upsert`` keyed on ``external_id``; its creates go in batches. Measured, each
as a user runs it (``apilink sync -c FILE --json`` against a started Prefect server):

1. the first run, which creates every record;
2. a second run over the same source: every record unchanged, **zero** requests to the target;
3. ``--dry-run`` over the same source (reads, validates and maps; sends nothing, plans nothing).

The figure that matters is the ratio of 2 to 3: what planning adds to reading the source.
Rounds alternate the two, so machine noise falls on both alike. The peak RSS of each is shown
too (the plan holds a chunk's keys, never the run's).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from apilink.run.plan import record_digest
from apilink.storage.delivered.sqlite import SQLiteDeliveredStore
from bench.configs import sync_config, write_sync_config
from bench.processes import apilink_command, compile_bytecode, prefect_server, run_measured
from bench.servers import ApiServer
from bench.users import valid_count

__all__ = ["main"]

FULL_SIZE = 100_000
RATIO_TARGET = 1.5


def _config(source: str, target: str, limit: int) -> dict[str, Any]:
    config = sync_config(
        name="bench-upsert",
        source_url=source,
        target_url=target,
        limit=limit,
        batch=True,
        concurrency=8,
    )
    config["target"]["endpoints"]["update_record"] = {
        "path": "/records/{external_id}",
        "method": "PATCH",
    }
    config["mapping"][0] |= {"mode": "upsert", "key": "external_id", "update": "update_record"}
    return config


async def _store_size(keys: int, folder: Path) -> None:
    """A million keys in the local store: its size on disk, and a chunk's lookup."""
    store = SQLiteDeliveredStore(folder / "delivered.sqlite3")
    started = time.perf_counter()
    step = 20_000
    for first in range(0, keys, step):
        chunk = [str(n) for n in range(first, min(first + step, keys))]
        await store.record("bench:keys", [(k, record_digest({"id": k})) for k in chunk])
    wrote = time.perf_counter() - started
    probe = [str(n) for n in range(keys // 2, keys // 2 + step)]
    started = time.perf_counter()
    found = await store.lookup("bench:keys", probe)
    looked = time.perf_counter() - started
    await store.aclose()
    size = sum(p.stat().st_size for p in folder.glob("delivered.sqlite3*")) / 1e6
    rss = psutil.Process().memory_info().rss / 1e6
    print(
        f"  store: {keys:,} keys in {size:.0f} MB on disk (written in {wrote:.1f} s); "
        f"a 20,000-key lookup {looked * 1000:.0f} ms ({len(found):,} found); "
        f"this process {rss:.0f} MB RSS"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=float(os.environ.get("APILINK_BENCH_SCALE", 1))
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keys", type=int, default=1_000_000, help="Keys for the store figure.")
    args = parser.parse_args(argv)
    limit = max(1000, int(FULL_SIZE * args.scale))
    compile_bytecode()
    print(f"plan/apply: {limit:,} records, mode upsert, {args.rounds} rounds")
    failed = False
    with tempfile.TemporaryDirectory(prefix="apilink-bench-plan-") as folder:
        workdir = Path(folder)
        source_server, target_server = ApiServer("source"), ApiServer("target")
        with (
            prefect_server(workdir / "prefect") as prefect_env,
            source_server as source,
            target_server as target,
        ):
            env = {**prefect_env, "APILINK_STATE_DIR": str(workdir / "state")}
            path = write_sync_config(workdir, _config(source, target, limit))
            httpx.post(f"{target}/reset", params={"limit": limit}).raise_for_status()
            first = run_measured(apilink_command(path), env)
            counts = first.json_line()
            created = counts.get("created")
            print(
                f"  first run (creates):  {first.seconds:6.2f} s  {first.peak_rss_mb:5.0f} MB  "
                f"created {created}"
            )
            if created != valid_count(limit):
                print(f"  FAIL: created {created}, expected {valid_count(limit)}")
                failed = True
            unchanged_s: list[float] = []
            dry_s: list[float] = []
            rss: dict[str, float] = {"unchanged": 0.0, "dry-run": 0.0}
            for _ in range(args.rounds):
                before = httpx.get(f"{target}/stats").json()["requests"]
                again = run_measured(apilink_command(path), env)
                sent = httpx.get(f"{target}/stats").json()["requests"] - before
                outcome = again.json_line()
                if sent or outcome.get("unchanged") != valid_count(limit):
                    print(f"  FAIL: the unchanged run sent {sent} requests: {outcome}")
                    failed = True
                unchanged_s.append(again.seconds)
                rss["unchanged"] = max(rss["unchanged"], again.peak_rss_mb)
                dry = run_measured([*apilink_command(path), "--dry-run"], env)
                dry.json_line()
                dry_s.append(dry.seconds)
                rss["dry-run"] = max(rss["dry-run"], dry.peak_rss_mb)
            ours, base = statistics.median(unchanged_s), statistics.median(dry_s)
            ratio = ours / base
            print(
                f"  unchanged second run: {ours:6.2f} s  {rss['unchanged']:5.0f} MB  "
                "0 requests to the target"
            )
            print(f"  --dry-run, same source: {base:6.2f} s  {rss['dry-run']:5.0f} MB")
            verdict = "ok" if ratio <= RATIO_TARGET else "MISSED"
            print(f"  unchanged run / dry run: {ratio:.2f}x (target <= {RATIO_TARGET}x)  {verdict}")
        (workdir / "keys").mkdir()
        asyncio.run(_store_size(args.keys, workdir / "keys"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
