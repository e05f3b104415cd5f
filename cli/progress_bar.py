"""The live progress bar of ``apilink sync`` in a terminal (rich, which Prefect brings).

One bar per mapping: records read from the source, with a percentage and an ETA when the source
states its total; records per second, and the counts so far (loaded, quarantined,
dead-lettered). Rich redraws it ten times a second from the counters the reader and the loader
move with every page and request, so a sync that sends one request per record moves the bar
between chunks too. No bar when stderr is not a terminal, or with ``--json`` or ``--quiet``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from prefect.logging.handlers import PrefectConsoleHandler
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from apilink.errors import StateError
from apilink.run.session import MappingRun
from apilink.run.summary import SyncSummary
from cli.console import console_handlers

__all__ = ["TerminalProgress", "terminal_progress"]


class _Rate(ProgressColumn):
    """Records per second since the mapping started (rich's own speed column smooths over a
    window that a chunk-sized jump throws off)."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:,.0f} rec/s", style="progress.data.speed")


class _LiveBar(Progress):
    """A rich ``Progress`` that reads the run's counters each time it draws."""

    def __init__(
        self, before_drawing: Callable[[], None], *columns: ProgressColumn, **options: Any
    ):
        self._before_drawing = before_drawing
        super().__init__(*columns, **options)

    def get_renderables(self) -> Iterable[RenderableType]:
        self._before_drawing()
        yield from super().get_renderables()


class TerminalProgress:
    """A :class:`~apilink.run.pipeline.Progress` that draws on a terminal.

    Args:
        console: where the bar is drawn (the terminal behind stderr).
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self._work: MappingRun | None = None
        self._task: TaskID | None = None
        self._base = SyncSummary()
        self.bar = _LiveBar(
            self._refresh,
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=16),
            TaskProgressColumn(),
            TextColumn("{task.completed:,.0f} read"),
            _Rate(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[counts]}"),
            console=console,
            transient=False,
            refresh_per_second=10,
        )

    def mapping_started(self, mapping: int, work: MappingRun) -> None:
        self._finish_task()
        self._work = work
        self._task = self.bar.add_task(
            f"{work.rule.source} -> {work.rule.target}",
            total=None,
            counts=self._counts(self._base, 0),
            start=True,
        )

    async def update(
        self, mapping: int, within: float | None, summary: SyncSummary, *, what: str = ""
    ) -> None:
        self._base = summary
        self._refresh()

    def checkpoint_failed(self, error: StateError) -> None:
        return None

    def _refresh(self) -> None:
        """Read the reader's and the loader's counters into the bar (before each drawing)."""
        work, task = self._work, self._task
        if work is None or task is None:
            return
        paginator = work.reader.paginator
        total = paginator.total_records
        self.bar.update(
            task,
            completed=paginator.records_read,
            total=total if total else None,
            counts=self._counts(self._base, work.loader.delivered),
        )

    def _counts(self, summary: SyncSummary, delivered: int) -> str:
        # Loaded counts requests as the target accepts them; the rest move per chunk.
        loaded = max(summary.loaded, delivered)
        return (
            f"loaded {loaded:,} · quarantined {summary.quarantined:,} · "
            f"dead-lettered {summary.failed:,}"
        )

    def _finish_task(self) -> None:
        self._refresh()
        if self._task is not None and self._work is not None:
            read = self._work.reader.paginator.records_read
            self.bar.update(self._task, total=read or 1, completed=read)

    @contextmanager
    def shown(self) -> Iterator[TerminalProgress]:
        """Draw the bar while the block runs; leave its last state on the terminal."""
        with self.bar, _log_lines_above(self.console):
            try:
                yield self
            finally:
                self._finish_task()


@contextmanager
def _log_lines_above(console: Console) -> Iterator[None]:
    """Prefect's console log lines are printed above the bar instead of through it.

    Rich's live display puts a proxy of the terminal in ``sys.stderr`` (``redirect_stderr``)
    that prints above the bar; Prefect's console handlers hold the terminal itself, read when
    logging was set up, so each one's rich console is pointed at the proxy meanwhile.
    """
    terminal = console.file
    moved: list[Console] = []
    for handler in console_handlers():
        if isinstance(handler, PrefectConsoleHandler) and handler.console.file is terminal:
            handler.console.file = sys.stderr
            moved.append(handler.console)
    try:
        yield
    finally:
        for each in moved:
            each.file = terminal


@contextmanager
def terminal_progress(
    *, shown: bool = True, stream: TextIO | None = None
) -> Iterator[TerminalProgress | None]:
    """A bar on ``stream`` (stderr by default) when it is a terminal and the bar is ``shown``
    (not with ``--json`` or ``--quiet``), else ``None``."""
    stream = stream or sys.stderr
    if not shown or not stream.isatty():
        yield None
        return
    progress = TerminalProgress(Console(file=stream))
    with progress.shown():
        yield progress
