"""Run flows from the CLI: the api_sync flow, and the demo around it."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import tempfile
from typing import Any

from apilink.gc_tuning import freeze_startup_objects

__all__ = ["run_demo", "run_sync_flow"]


def quiet_prefect() -> None:
    """No telemetry from a local Prefect (the machine may have no network at all)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


class _NoTracebackForExpectedErrors(logging.Filter):
    """On the console, an apilink error is its message; the traceback stays in the Prefect UI."""

    def filter(self, record: logging.LogRecord) -> bool:
        from apilink.errors import ApilinkError

        if record.exc_info and isinstance(record.exc_info[1], ApilinkError):
            record.exc_info = None
            record.exc_text = None
        return True


def _console_without_tracebacks() -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _NoTracebackForExpectedErrors) for f in handler.filters):
            handler.addFilter(_NoTracebackForExpectedErrors())


def run_sync_flow(**parameters: Any) -> tuple[dict[str, Any] | None, BaseException | None]:
    """Run ``api_sync`` in this process; returns its summary and the error that ended it."""
    quiet_prefect()
    from flows.api_sync import SyncIncomplete, api_sync

    _console_without_tracebacks()
    freeze_startup_objects()

    state: Any = asyncio.run(_run(api_sync, parameters))
    try:
        result = state.result(raise_on_failure=True)
    except SyncIncomplete as exc:
        return exc.summary.to_dict(), exc
    except Exception as exc:  # the flow's own error, already logged by Prefect
        return None, exc
    return dict(result), None


async def _run(flow: Any, parameters: dict[str, Any]) -> Any:
    return await flow(**parameters, return_state=True)


def run_demo(records: int) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """Serve the demo APIs, sync them, and return (summary, what the target got, bad rows)."""
    from apilink.demo import (
        TargetInbox,
        demo_config_path,
        demo_users,
        make_source_app,
        make_target_app,
        serve,
    )

    users = demo_users(records)
    bad = sum(1 for u in users if "@" not in u["email"])
    inbox = TargetInbox()
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="apilink-demo-") as home:
        if "PREFECT_API_URL" not in os.environ:
            os.environ.setdefault("PREFECT_HOME", home)
        with (
            serve(make_source_app(users, token=token)) as source_url,
            serve(make_target_app(inbox)) as target_url,
        ):
            os.environ.update(
                DEMO_SOURCE_URL=source_url, DEMO_TARGET_URL=target_url, DEMO_SOURCE_TOKEN=token
            )
            summary, error = run_sync_flow(config_path=demo_config_path())
            if error is not None:
                raise error
            assert summary is not None
    return summary, inbox.records, bad
