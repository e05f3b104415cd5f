"""Run flows from the CLI: the api_sync flow, and the demo around it.

A CLI run talks to the Prefect server named by ``PREFECT_API_URL`` (or, when it is unset, to a
temporary one Prefect starts for the run). A server that does not answer before the run is one
error line naming ``PREFECT_API_URL`` and what to do; one lost during the run ends it within
about 30 s (the Prefect client asks again :data:`CLI_CLIENT_RETRIES` times, unless
``PREFECT_CLIENT_MAX_RETRIES`` is set; a checkpoint save gives up after about 6 s) with one
error line: the checkpoint stays as last saved, and a rerun once the server is back resumes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, NoReturn

import httpx

from apilink.run.gc_tuning import freeze_startup_objects

__all__ = [
    "CLI_CLIENT_RETRIES",
    "SyncOutcome",
    "check_prefect_api",
    "leave_without_prefect",
    "lost_prefect_api",
    "run_demo",
    "run_sync_flow",
]

CLI_CLIENT_RETRIES = 2
_RETRIES_ENV = "PREFECT_CLIENT_MAX_RETRIES"


@dataclass(frozen=True)
class SyncOutcome:
    """How one ``api_sync`` run in this process ended.

    Attributes:
        summary: the run's summary (counts, quarantine and dead-letter files), or ``None``
            when it ended before counting anything.
        error: what ended it, or ``None`` when it completed.
        run_id: the Prefect flow run's id (``None`` when Prefect never recorded the run).
        state: the flow run's final state (``Completed``, ``Failed``, ``Crashed`` ...), or
            ``None`` when the Prefect server went away before it was recorded.
    """

    summary: dict[str, Any] | None
    error: BaseException | None
    run_id: str | None = None
    state: str | None = None


def quiet_prefect() -> None:
    """No telemetry from a local Prefect (the machine may have no network at all)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


class _NoTracebackForExpectedErrors(logging.Filter):
    """On the console, an apilink error is its message (Prefect's "Task run failed with
    exception: ..." line names it); its traceback would show only apilink's own frames."""

    def filter(self, record: logging.LogRecord) -> bool:
        from apilink.errors import ApilinkError
        from apilink.redaction import raised_apilink_error

        if raised_apilink_error(record) or (
            record.exc_info and isinstance(record.exc_info[1], ApilinkError)
        ):
            record.exc_info = None
            record.exc_text = None
        return True


def _console_without_tracebacks() -> None:
    from cli.console import console_handlers

    for handler in console_handlers():
        if not any(isinstance(f, _NoTracebackForExpectedErrors) for f in handler.filters):
            handler.addFilter(_NoTracebackForExpectedErrors())


def _api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    return str(url) if url else None


def check_prefect_api() -> None:
    """Fail with one clear line when ``PREFECT_API_URL`` names a server that does not answer.

    Raises:
        PrefectUnreachable: no answer at all (any HTTP answer, even a refusal, is a server).
    """
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    from apilink.errors import PrefectUnreachable

    url = _api_url()
    if url is None:
        return
    with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0}):
        with get_client(sync_client=True) as client:
            failure = client.api_healthcheck()
    if isinstance(failure, httpx.TransportError):
        raise PrefectUnreachable(
            f"no Prefect server answers at PREFECT_API_URL={url} ({type(failure).__name__}); "
            "start it with `make server` (or `prefect server start`), or unset PREFECT_API_URL "
            "(`prefect config unset PREFECT_API_URL`) to run with a temporary local server"
        )


def lost_prefect_api(url: str | None, cause: str, balance: str | None = None) -> Exception:
    """The one error of a run that lost its Prefect server (``cause``: the first failure)."""
    from apilink.errors import PrefectUnreachable

    return PrefectUnreachable(
        f"lost the Prefect server at PREFECT_API_URL={url} during the run ({cause}); the "
        "checkpoint keeps what the target acknowledged until then: start the server again "
        "(`make server`) and rerun to resume" + (f" [{balance}]" if balance else "")
    )


def leave_without_prefect(code: int) -> NoReturn:
    """End the process now, after a run that lost its Prefect server.

    Everything of the run is already written (checkpoint, dead letters, quarantine, audit
    lines); what is left are Prefect's queued log lines and events for the server that is gone,
    which Prefect would try to deliver at exit for many seconds more. They are dropped.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _lost(url: str | None, exc: BaseException, run_id: str | None = None) -> SyncOutcome:
    """The counts and the one error of a run whose Prefect server went away."""
    from apilink.errors import SyncIncomplete
    from flows.api_sync import last_summary

    summary = None
    seen: BaseException | None = exc
    for _ in range(20):  # the flow's own error, when the engine failed while reporting it
        if seen is None or isinstance(seen, SyncIncomplete):
            break
        seen = seen.__cause__ or seen.__context__
    summary = seen.summary if isinstance(seen, SyncIncomplete) else last_summary()
    if summary is None:
        return SyncOutcome(None, lost_prefect_api(url, type(exc).__name__), run_id)
    cause = summary.errors[0] if summary.errors else type(exc).__name__
    return SyncOutcome(summary.to_dict(), lost_prefect_api(url, cause, summary.balance()), run_id)


def run_sync_flow(**parameters: Any) -> SyncOutcome:
    """Run ``api_sync`` in this process; how it ended.

    Raises:
        PrefectUnreachable: ``PREFECT_API_URL`` names a server that does not answer.
    """
    quiet_prefect()
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    from apilink.errors import SyncIncomplete
    from flows.api_sync import api_sync
    from tasks.checkpoint import UNANSWERED

    _console_without_tracebacks()
    freeze_startup_objects()
    check_prefect_api()
    url = _api_url()
    retries = {} if _RETRIES_ENV in os.environ else {PREFECT_CLIENT_MAX_RETRIES: CLI_CLIENT_RETRIES}
    try:
        with temporary_settings(updates=retries):
            state: Any = asyncio.run(_run(api_sync, parameters))
    except (httpx.TransportError, OSError) as exc:
        # The engine could not report the run's end: the server went away.
        return _lost(url, exc)
    run_id = str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    try:
        result = state.result(raise_on_failure=True)
    except SyncIncomplete as exc:
        if url is not None and any(UNANSWERED in line for line in exc.summary.errors):
            return _lost(url, exc, run_id)
        return SyncOutcome(exc.summary.to_dict(), exc, run_id, state.name)
    except Exception as exc:  # the flow's own error, already logged by Prefect
        if url is not None and _is_lost(exc, state):
            return _lost(url, exc, run_id)
        return SyncOutcome(None, exc, run_id, state.name)
    return SyncOutcome(dict(result), None, run_id, state.name)


def _is_lost(exc: BaseException, state: Any) -> bool:
    """Whether the flow ended on the Prefect API not answering (or Prefect could not record
    its end: the run's state is not final)."""
    from apilink.errors import StateError
    from tasks.checkpoint import UNANSWERED

    if not getattr(state, "is_final", lambda: True)():
        return True
    return isinstance(exc, httpx.TransportError) or (
        isinstance(exc, StateError) and UNANSWERED in str(exc)
    )


async def _run(flow: Any, parameters: dict[str, Any]) -> Any:
    return await flow(**parameters, return_state=True)


def run_demo(records: int) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """Serve the demo APIs, sync them, and return (summary, what the target got, bad rows)."""
    from apilink.demo import demo_config_path, served_demo

    with tempfile.TemporaryDirectory(prefix="apilink-demo-") as home:
        if "PREFECT_API_URL" not in os.environ:
            os.environ.setdefault("PREFECT_HOME", home)
        with served_demo(records) as demo:
            outcome = run_sync_flow(config_path=demo_config_path())
            if outcome.error is not None:
                raise outcome.error
            assert outcome.summary is not None
            received = demo.received()
    return outcome.summary, received, demo.bad
