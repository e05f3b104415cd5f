"""``make bench``: apilink against hand-written baselines, plus memory and start-up figures.

Usage: ``python -m bench.run [--scale 0.1] [--rounds N] [--cases per-record,batch,...]``
(``APILINK_BENCH_SCALE`` sets the scale too). Full sizes: per-record 100,000 records, batch
1,000,000, memory 100,000 and 1,000,000. apilink runs as a user runs it, ``apilink sync -c FILE
--json`` in a subprocess against a Prefect server started first; each case alternates baseline
and apilink runs. Every run is checked at the target: every valid record exactly once. A failed
check prints FAIL and the exit status is 1; figures that miss a target are only reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.configs import sync_config, write_sync_config
from bench.processes import (
    CpuMeter,
    Finished,
    apilink_command,
    compile_bytecode,
    prefect_server,
    run_measured,
)
from bench.servers import ApiServer
from bench.users import PAGE_SIZE, valid_count

__all__ = ["main"]

CASES = ("startup", "per-record", "batch", "memory")
PER_RECORD_TARGET = 0.8
BATCH_TARGET = 0.6
RSS_GROWTH_TARGET = 1.2
RSS_CEILING_MB = 400.0
STARTUP_TARGET_S = 2.0


@dataclass(frozen=True)
class Sizes:
    per_record: int
    batch: int
    memory_small: int
    memory_large: int

    @classmethod
    def scaled(cls, scale: float) -> Sizes:
        def size(n: int) -> int:
            return max(PAGE_SIZE, int(n * scale))

        return cls(size(100_000), size(1_000_000), size(100_000), size(1_000_000))


@dataclass(frozen=True)
class Measured:
    """One checked run of apilink or a baseline."""

    who: str
    records: int
    finished: Finished
    target: dict[str, Any]
    cpu: dict[str, float]

    @property
    def rate(self) -> float:
        return self.records / self.finished.seconds

    @property
    def steady_rate(self) -> float:
        """Records received per second between the first and the last POST at the target."""
        first, last = self.target.get("first_at"), self.target.get("last_at")
        if not first or not last or last <= first:
            return float("nan")
        return float(self.target["received"]) / (last - first)


@dataclass
class Bench:
    source: str
    target: str
    pids: dict[str, int]
    prefect_env: dict[str, str]
    workdir: Path
    args: argparse.Namespace
    failures: list[str] = field(default_factory=list)
    peaks: dict[tuple[str, int], list[float]] = field(default_factory=dict)

    # -- running one measured sync -------------------------------------------------------

    def _apilink(self, name: str, limit: int, *, batch: bool, concurrency: int) -> Measured:
        config = sync_config(
            name=name,
            source_url=self.source,
            target_url=self.target,
            limit=limit,
            batch=batch,
            concurrency=concurrency,
            chunk_size=self.args.chunk_size,
        )
        path = write_sync_config(self.workdir, config)
        measured = self._measure("apilink", limit, apilink_command(path), self.prefect_env)
        mode = "batch" if batch else "per-record"
        self.peaks.setdefault((mode, limit), []).append(measured.finished.peak_rss_mb)
        return measured

    def _baseline(self, case: str, limit: int, concurrency: int) -> Measured:
        command = [
            sys.executable,
            "-m",
            "bench.baselines",
            case,
            "--source",
            self.source,
            "--target",
            self.target,
            "--limit",
            str(limit),
            "--concurrency",
            str(concurrency),
            "--batch-size",
            str(PAGE_SIZE),
        ]
        who = "aiohttp" if case == "per-record" else "httpx"
        return self._measure(who, limit, command, dict(os.environ))

    def _measure(self, who: str, limit: int, command: list[str], env: dict[str, str]) -> Measured:
        httpx.post(f"{self.target}/reset", params={"limit": limit}).raise_for_status()
        meter = CpuMeter(self.pids)
        meter.start()
        finished = run_measured(command, env)
        cpu = meter.stop()
        stats = httpx.get(f"{self.target}/stats").json()
        measured = Measured(who, limit, finished, stats, cpu)
        self._check(measured)
        return measured

    def _check(self, run: Measured) -> None:
        """Every valid record at the target exactly once, and the counts add up."""
        expected = valid_count(run.records)
        problems: list[str] = []
        if run.finished.returncode != 0:
            problems.append(f"exit status {run.finished.returncode}")
        try:
            counts = run.finished.json_line()
        except (RuntimeError, ValueError) as exc:
            problems.append(str(exc))
            counts = {}
        want = {
            "extracted": run.records,
            "valid": expected,
            "quarantined": run.records - expected,
            "loaded": expected,
            "failed": 0,
        }
        for key, value in want.items():
            if counts and counts.get(key) != value:
                problems.append(f"reported {key}={counts.get(key)}, expected {value}")
        stats = run.target
        for key, value in (("unique", expected), ("received", expected)):
            if stats[key] != value:
                problems.append(f"target {key}={stats[key]}, expected {value}")
        for key in ("duplicates", "unexpected", "malformed"):
            if stats[key]:
                problems.append(f"target {key}={stats[key]}, expected 0")
        if problems:
            tail = run.finished.stderr.strip().splitlines()[-15:]
            message = f"{run.who} at {run.records:,} records: " + "; ".join(problems)
            self.failures.append(message)
            print(f"  FAIL {message}\n    " + "\n    ".join(tail), flush=True)

    def _report(self, case: str, run: Measured) -> None:
        wall = run.finished.seconds
        cpu = " ".join(f"{name} {100 * used / wall:.0f}%" for name, used in run.cpu.items())
        print(
            f"  {case:<10} {run.who:<8} {run.records:>9,} records  {run.rate:>9,.0f} rec/s "
            f"({run.finished.seconds:6.2f} s; at target {run.steady_rate:>9,.0f} rec/s)  "
            f"peak RSS {run.finished.peak_rss_mb:6.0f} MB  server CPU: {cpu}",
            flush=True,
        )

    # -- cases ---------------------------------------------------------------------------

    def startup(self) -> float:
        """Wall time of a one-page sync, start-up included (median of ``--rounds`` + 2)."""
        times: list[float] = []
        for _ in range(self.args.rounds + 2):
            run = self._apilink("bench-one-page", PAGE_SIZE, batch=True, concurrency=8)
            times.append(run.finished.seconds)
            print(
                f"  one-page   apilink  {PAGE_SIZE:>9,} records  {run.finished.seconds:6.2f} s "
                f"wall  peak RSS {run.finished.peak_rss_mb:6.0f} MB",
                flush=True,
            )
        return statistics.median(times)

    def compare(self, case: str, limit: int, concurrency: int) -> tuple[float, float, float]:
        """Alternate baseline and apilink; median rates (baseline, apilink) and their ratio."""
        baseline_rates: list[float] = []
        apilink_rates: list[float] = []
        for _ in range(self.args.rounds):
            base = self._baseline(case, limit, concurrency)
            self._report(case, base)
            baseline_rates.append(base.rate)
            ours = self._apilink(
                f"bench-{case}", limit, batch=case == "batch", concurrency=concurrency
            )
            self._report(case, ours)
            apilink_rates.append(ours.rate)
        base_rate = statistics.median(baseline_rates)
        our_rate = statistics.median(apilink_rates)
        return base_rate, our_rate, our_rate / base_rate

    def memory(self, small: int, large: int) -> tuple[float, float]:
        """Peak RSS of apilink batch syncs of ``small`` and ``large`` records."""
        for limit in (small, large):
            if ("batch", limit) not in self.peaks:
                run = self._apilink("bench-memory", limit, batch=True, concurrency=8)
                self._report("memory", run)
        return max(self.peaks[("batch", small)]), max(self.peaks[("batch", large)])


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--scale",
        type=float,
        default=float(os.environ.get("APILINK_BENCH_SCALE", "1")),
        help="Multiply every size (default 1: 100k per-record, 1M batch).",
    )
    parser.add_argument("--rounds", type=int, default=1, help="Baseline/apilink pairs per case.")
    parser.add_argument("--cases", default=",".join(CASES), help="Comma-separated subset.")
    parser.add_argument("--per-record-concurrency", type=int, default=32)
    parser.add_argument("--batch-concurrency", type=int, default=8)
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="apilink chunk_size (default: its own)."
    )
    args = parser.parse_args(argv)
    unknown = set(args.cases.split(",")) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; valid: {', '.join(CASES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    cases = args.cases.split(",")
    sizes = Sizes.scaled(args.scale)
    print(f"apilink bench: scale {args.scale}, {args.rounds} round(s), {os.cpu_count()} CPUs")
    print(f"  sizes: {sizes}")
    print(f"  bytecode compiled in {compile_bytecode():.1f} s (not counted)", flush=True)
    results: list[str] = []
    with tempfile.TemporaryDirectory(prefix="apilink-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "prefect").mkdir()
        started = time.perf_counter()
        source_server, target_server = ApiServer("source"), ApiServer("target")
        with (
            prefect_server(workdir / "prefect") as prefect_env,
            source_server as source,
            target_server as target,
        ):
            print(f"  prefect server up in {time.perf_counter() - started:.1f} s (not counted)")
            bench = Bench(
                source=source,
                target=target,
                pids={"source": source_server.pid, "target": target_server.pid},
                prefect_env=prefect_env,
                workdir=workdir,
                args=args,
            )
            if "startup" in cases:
                seconds = bench.startup()
                results.append(
                    f"one-page sync, start-up included: {seconds:.2f} s   "
                    f"(target <= {STARTUP_TARGET_S:.0f} s)  {_verdict(seconds <= STARTUP_TARGET_S)}"
                )
            for case, limit, concurrency, goal in (
                ("per-record", sizes.per_record, args.per_record_concurrency, PER_RECORD_TARGET),
                ("batch", sizes.batch, args.batch_concurrency, BATCH_TARGET),
            ):
                if case not in cases:
                    continue
                base, ours, ratio = bench.compare(case, limit, concurrency)
                who = "aiohttp" if case == "per-record" else "httpx"
                results.append(
                    f"{case} ({limit:,} records, concurrency {concurrency}): apilink "
                    f"{ours:,.0f} rec/s, {who} baseline {base:,.0f} rec/s, ratio {ratio:.2f}x   "
                    f"(target >= {goal}x)  {_verdict(ratio >= goal)}"
                )
            if "memory" in cases:
                small, large = bench.memory(sizes.memory_small, sizes.memory_large)
                growth = large / small
                results.append(
                    f"peak RSS: {small:.0f} MB at {sizes.memory_small:,}, {large:.0f} MB at "
                    f"{sizes.memory_large:,}, growth {growth:.2f}x   (target <= "
                    f"{RSS_GROWTH_TARGET}x and <= {RSS_CEILING_MB:.0f} MB)  "
                    f"{_verdict(growth <= RSS_GROWTH_TARGET and large <= RSS_CEILING_MB)}"
                )
    print("\nResults (rates are source records per second of wall time, start-up included)")
    for line in results:
        print(f"  {line}")
    if bench.failures:
        print(f"\nFAILED: {len(bench.failures)} run(s) did not deliver exactly once:")
        for failure in bench.failures:
            print(f"  {failure}")
        return 1
    print("\nEvery run delivered every valid record exactly once.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
