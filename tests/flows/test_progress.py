"""The progress artifact: written at most once per interval, always at the end."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prefect.client.orchestration import get_client

from apilink.run.summary import SyncSummary
from flows.progress import RunProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _read(key: str) -> Any:
    async with get_client() as client:
        return {a.key: a for a in await client.read_latest_artifacts()}[key]


@pytest.mark.usefixtures("prefect_harness")
def test_updates_within_the_interval_wait_and_the_end_is_always_written() -> None:
    async def scenario() -> list[tuple[float, str]]:
        clock = FakeClock()
        progress = RunProgress("throttled sync", 1, every=1.0, clock=clock)
        await progress.start()
        seen = []
        summary = SyncSummary(extracted=10, loaded=10)
        await progress.update(0, 0.2, summary)  # too soon after start: not written
        seen.append(await _read(progress.key))
        clock.now = 1.5
        await progress.update(0, 0.5, summary)  # written
        seen.append(await _read(progress.key))
        await progress.update(0, 0.7, summary)  # too soon: not written, but remembered
        seen.append(await _read(progress.key))
        assert progress.percent == 70.0
        await progress.finish(summary, completed=True)  # always written
        seen.append(await _read(progress.key))
        return [(float(a.data), a.description or "") for a in seen]

    first, second, third, last = asyncio.run(scenario())
    assert first[0] == 0.0 and "starting" in first[1]
    assert second[0] == 50.0 and "extracted 10" in second[1]
    assert third == second
    assert last[0] == 100.0 and "done" in last[1]
