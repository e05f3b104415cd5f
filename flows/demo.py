"""The built-in demo as a deployment: ``prefect deployment run 'apilink_demo/demo'``.

The run serves the demo's two APIs on the worker's loopback for its own duration
(:func:`apilink.demo.served_demo`) and runs ``api_sync`` on ``deployments/demo.yaml`` against
them, as a subflow: nothing needs to be started or set on the worker first.

Trusted: the worker's operator (who deployed it). Not trusted: whoever runs the deployment
(anyone with Prefect API access), who can choose only how many demo users are served; the
APIs listen on 127.0.0.1 for the run alone, and their bearer token is made fresh each run.
The subflow passes the worker's access policy like any run: with access control on it is
refused, as it carries no ticket (the demo is for a machine without an access policy yet).
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow
from pydantic import Field

from apilink.demo import demo_config_path, served_demo
from apilink.errors import DemoIncomplete
from flows.api_sync import api_sync

__all__ = ["apilink_demo"]


@flow(name="apilink_demo", log_prints=False, validate_parameters=True)
async def apilink_demo(
    records: Annotated[int, Field(ge=1, le=10_000, description="Demo users to serve.")] = 120,
) -> dict[str, Any]:
    """Serve the demo APIs for this run, sync them with ``api_sync``, and return its summary.

    Args:
        records: how many users the demo source serves (every fifteenth has a bad email,
            which validation quarantines).
    """
    with served_demo(records) as demo:
        summary = await api_sync(config_path=demo_config_path())
        delivered = len(demo.received())
    if summary["quarantined"] != demo.bad or delivered != records - demo.bad:
        raise DemoIncomplete(
            f"the demo target received {delivered} of {records - demo.bad} valid users "
            f"({summary['quarantined']} quarantined, {demo.bad} expected)"
        )
    return summary
