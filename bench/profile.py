"""Where an apilink run spends its time and memory: the api_sync flow run in this process.

Usage: ``python -m bench.profile [--records N] [--batch] [--memory] [--out FILE]``.

Starts the benchmark's APIs and a Prefect server, then runs ``api_sync`` once under cProfile
(or, with ``--memory``, under tracemalloc with an RSS sampler). Prints CPU time by package
(``prefect``, ``httpx``, ``great_expectations``, ``apilink`` ...), the costliest functions, and the
split between the main thread (the flow) and Prefect's background threads.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import threading
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.configs import sync_config, write_sync_config
from bench.processes import prefect_server
from bench.servers import ApiServer

__all__ = ["main", "time_by_package"]


def _package(filename: str) -> str:
    """``prefect``, ``httpx``, ``apilink`` ... for a code file; ``<builtin>`` for C code."""
    if filename.startswith(("~", "<")):
        return "<builtin>"
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    for first_party in ("apilink", "tasks", "flows", "bench"):
        if first_party in parts:
            return first_party
    return f"stdlib:{path.stem}"


def time_by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own time (tottime) summed per package, largest first."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), row in stats.stats.items():  # type: ignore[attr-defined]
        totals[_package(filename)] += row[2]
    return sorted(totals.items(), key=lambda item: -item[1])


class RssSampler:
    """Samples this process's RSS every ``interval`` seconds in a thread."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        process = psutil.Process()
        start = time.perf_counter()
        while not self._stop.is_set():
            self.samples.append((time.perf_counter() - start, process.memory_info().rss / 2**20))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _run_flow(config: Path) -> dict[str, Any]:
    from cli.running import run_sync_flow

    outcome = run_sync_flow(config_path=str(config))
    if outcome.error is not None:
        raise outcome.error
    assert outcome.summary is not None
    return outcome.summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--memory", action="store_true", help="tracemalloc + RSS, no cProfile")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--out", type=Path, default=None, help="Also dump the pstats here.")
    args = parser.parse_args(argv)
    concurrency = args.concurrency or (8 if args.batch else 32)
    with tempfile.TemporaryDirectory(prefix="apilink-profile-") as tmp:
        workdir = Path(tmp)
        (workdir / "prefect").mkdir()
        source_server, target_server = ApiServer("source"), ApiServer("target")
        with (
            prefect_server(workdir / "prefect") as env,
            source_server as source,
            target_server as target,
        ):
            os.environ.update(env)
            config = write_sync_config(
                workdir,
                sync_config(
                    name="bench-profile",
                    source_url=source,
                    target_url=target,
                    limit=args.records,
                    batch=args.batch,
                    concurrency=concurrency,
                    chunk_size=args.chunk_size,
                ),
            )
            httpx.post(f"{target}/reset", params={"limit": args.records}).raise_for_status()
            started = time.perf_counter()
            cpu_started, main_started = time.process_time(), time.thread_time()
            if args.memory:
                tracemalloc.start(12)
                with RssSampler() as sampler:
                    summary = _run_flow(config)
                    snapshot = tracemalloc.take_snapshot()
                    _, traced_peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            else:
                profiler = cProfile.Profile()
                profiler.enable()
                summary = _run_flow(config)
                profiler.disable()
            wall = time.perf_counter() - started
            cpu, main_cpu = time.process_time() - cpu_started, time.thread_time() - main_started
            stats = httpx.get(f"{target}/stats").json()
    print(f"summary {summary}\ntarget {stats}")
    print(
        f"wall {wall:.2f} s, process CPU {cpu:.2f} s, main thread CPU {main_cpu:.2f} s, "
        f"other threads {cpu - main_cpu:.2f} s"
    )
    if args.memory:
        print(f"tracemalloc peak {traced_peak / 2**20:.1f} MiB")
        step = max(1, len(sampler.samples) // 25)
        print("RSS (s, MiB): " + ", ".join(f"{t:.0f}:{m:.0f}" for t, m in sampler.samples[::step]))
        print("\nlargest live allocations at the end, by file and line:")
        for stat in snapshot.statistics("lineno")[: args.top]:
            print(f"  {stat.size / 2**20:8.2f} MiB  {stat.count:>9} blocks  {stat.traceback[0]}")
        return
    pstat = pstats.Stats(profiler)
    if args.out is not None:
        pstat.dump_stats(str(args.out))
    print("\nown CPU time by package (main thread):")
    for package, seconds in time_by_package(pstat)[:20]:
        print(f"  {seconds:8.2f} s  {package}")
    for key in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(key).print_stats(args.top)
        print(f"\n--- top {args.top} by {key} ---")
        print("\n".join(text.getvalue().splitlines()[6:]))


if __name__ == "__main__":
    main()
