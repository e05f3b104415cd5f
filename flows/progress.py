"""The progress artifact of a sync run: one bar in the Prefect UI, moved after every chunk."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact

from apilink.errors import StateError
from apilink.run.pipeline import Progress
from apilink.run.session import MappingRun
from apilink.run.summary import SyncSummary
from tasks.checkpoint import UNANSWERED

__all__ = ["ARTIFACT_SECONDS", "RunProgress", "artifact_key", "watched_by", "watching"]

# The longest a progress write may take. The bar is for people watching: a Prefect API that
# does not answer in this time is not waited for again (the run's checkpoint, not the bar,
# decides whether it can go on).
ARTIFACT_SECONDS = 5.0

logger = logging.getLogger("apilink.progress")


_WATCHERS: ContextVar[tuple[Progress, ...]] = ContextVar("apilink_watchers", default=())


@contextmanager
def watching(*watchers: Progress) -> Iterator[None]:
    """``api_sync`` runs started in this block (in this process) are also watched by
    ``watchers``: how ``apilink sync`` draws its terminal bar. Not a flow parameter: a watcher
    is a live object of the caller's process."""
    token = _WATCHERS.set(watchers)
    try:
        yield
    finally:
        _WATCHERS.reset(token)


def watched_by() -> tuple[Progress, ...]:
    """The watchers :func:`watching` set for runs started here."""
    return _WATCHERS.get()


def artifact_key(name: str) -> str:
    """A Prefect artifact key from a sync name (lowercase letters, digits and dashes)."""
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "sync"


class RunProgress:
    """How far a run is, as a percentage.

    Each mapping is an equal share of the bar. Within a mapping, the share read so far comes
    from the paginator when a page stated a total (or ``max_pages`` bounds it); otherwise the
    bar moves when the mapping ends and the description carries the running counts.

    The artifact is written at most once per ``every`` seconds (each write is a request to the
    Prefect API, and a fast run ends chunks several times a second), and always at the end. A
    write that fails or takes longer than :data:`ARTIFACT_SECONDS` ends the updates
    (:attr:`lost` is then true): a Prefect API outage must not stall the sync.

    Args:
        name: the sync's name (the artifact key is ``<name>-progress``).
        mappings: how many mappings the run goes through.
        every: the fewest seconds between two writes before the end.
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        name: str,
        mappings: int,
        *,
        every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.key = f"{artifact_key(name)}-progress"
        self.mappings = max(1, mappings)
        self.percent = 0.0
        self.every = every
        self._clock = clock
        self._sent_at: float | None = None
        self._artifact: UUID | None = None
        self.lost = False

    async def start(self) -> None:
        self._artifact = await acreate_progress_artifact(
            0.0, key=self.key, description=f"apilink sync `{self.name}`: starting"
        )
        self._sent_at = self._clock()

    async def update(
        self, mapping: int, within: float | None, summary: SyncSummary, *, what: str = ""
    ) -> None:
        """After a chunk of the ``mapping``-th mapping (from 0), ``within`` of it read."""
        share = (mapping + min(1.0, max(0.0, within or 0.0))) / self.mappings
        # Never backwards, never 100 before the run is over.
        self.percent = max(self.percent, min(99.0, round(share * 100, 1)))
        now = self._clock()
        if self._sent_at is not None and now - self._sent_at < self.every:
            return
        await self._send(f"{what}{_counts(summary)}")

    def mapping_started(self, mapping: int, work: MappingRun) -> None:
        return None  # the bar moves per chunk

    def checkpoint_failed(self, error: StateError) -> None:
        """A checkpoint that the Prefect API did not take: the bar, on the same API, is not
        waited for again."""
        if UNANSWERED in str(error):
            self.lost = True

    async def finish(self, summary: SyncSummary, *, completed: bool) -> None:
        """The run ended: 100 when it completed, else the bar stays where it stopped."""
        if completed:
            self.percent = 100.0
            await self._send(f"done: {summary.balance()}")
        else:
            await self._send(f"stopped at {self.percent:g}%: {summary.balance()}")

    async def _send(self, text: str) -> None:
        if self._artifact is None or self.lost:
            return
        self._sent_at = self._clock()
        update = aupdate_progress_artifact(
            self._artifact, self.percent, description=f"apilink sync `{self.name}`: {text}"
        )
        try:
            await asyncio.wait_for(update, ARTIFACT_SECONDS)
        except Exception as exc:
            self.lost = True
            logger.warning(
                "progress artifact not updated (%s); no more updates this run", type(exc).__name__
            )


def _counts(summary: SyncSummary) -> str:
    return (
        f"extracted {summary.extracted}, loaded {summary.loaded}, quarantined "
        f"{summary.quarantined}, dead-lettered {summary.failed}, skipped {summary.skipped}"
    )
