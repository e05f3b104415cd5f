"""Audit around Prefect: a sink that writes the audit log *and* emits Prefect events, and flow
state hooks that record each run's start and end.

Bind the hooks on the flow::

    @flow(name="api_sync", **audit_hooks())
    def api_sync(config_path: str | None = None, config: dict | None = None, ...): ...

Each hook calls ``factory(flow_run.parameters)`` to find the audit log (the default,
:func:`audit_from_parameters`, loads the sync config from ``config_path`` or ``config`` and
returns ``None`` when ``logging.security_audit`` is off). Prefect events are emitted either way,
so the UI shows every run and every denial.

An event whose line went to an audit log carries that line's anchor (chain, ``seq``, chain MAC
and a tag made with the audit key) in ``payload["audit"]``, and the chain as a related resource:
a copy of the chain head out of reach of whoever can write the log, which ``apilink audit verify
--prefect`` reads back to catch a rolled back or wiped log (see :mod:`apilink.audit.anchor`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from prefect.client.orchestration import SyncPrefectClient
from prefect.events import emit_event
from prefect.events.filters import (
    EventAnyResourceFilter,
    EventFilter,
    EventNameFilter,
    EventOccurredFilter,
)
from prefect.flows import FlowStateHook

from apilink.audit import AuditLog, AuditSink
from apilink.audit.anchor import (
    CHAIN_RESOURCE_PREFIX,
    Anchor,
    Anchored,
    chain_resource,
    parse_anchor,
)
from apilink.audit.settings import run_audit_log
from apilink.config import load_config, parse_config
from apilink.errors import AuditAnchorUnavailable
from apilink.redaction import Redactor, sanitize_url

__all__ = [
    "AuditFactory",
    "PrefectAuditSink",
    "audit_from_parameters",
    "audit_hooks",
    "current_run_id",
    "read_anchors",
]

_log = logging.getLogger("apilink.audit")

# Before any anchor: the events filter needs a start.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

AuditFactory = Callable[[Mapping[str, Any]], AuditLog | None]
Emitter = Callable[..., Any]

_HOOKS: dict[str, tuple[str, str]] = {
    "on_running": ("run.started", "started"),
    "on_completion": ("run.completed", "completed"),
    "on_failure": ("run.failed", "failed"),
    "on_crashed": ("run.crashed", "crashed"),
    "on_cancellation": ("run.cancelled", "cancelled"),
}


def current_run_id() -> str | None:
    """The id of the flow run we are in, if any."""
    from prefect.runtime import flow_run

    run_id = flow_run.id
    return str(run_id) if run_id else None


class PrefectAuditSink:
    """Records an event in ``audit`` (when given) and emits it as Prefect event
    ``apilink.<action>`` (``apilink.access.denied``, ``apilink.run.started``...).

    Args:
        audit: the audit log, or ``None`` to emit only.
        run_id: the flow run the events belong to.
        emit: the emitter (``prefect.events.emit_event``); tests pass a recorder.
    """

    def __init__(
        self,
        audit: AuditSink | None,
        *,
        run_id: str | None = None,
        emit: Emitter = emit_event,
        redactor: Redactor | None = None,
    ) -> None:
        self.audit = audit
        self.run_id = run_id
        self._emit = emit
        self._redactor = redactor or getattr(audit, "redactor", None) or Redactor()

    def record(
        self,
        action: str,
        *,
        actor: str,
        target: str = "",
        outcome: str = "ok",
        run_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        run_id = run_id or self.run_id
        if self.audit is not None:
            line = self.audit.record(
                action, actor=actor, target=target, outcome=outcome, run_id=run_id, details=details
            )
        else:
            line = {
                "actor": actor,
                "action": action,
                "target": target,
                "outcome": outcome,
                "run_id": run_id,
                "details": self._redactor.data(dict(details or {})),
            }
        related: list[dict[str, str]] = []
        if run_id:
            related.append(
                {
                    "prefect.resource.id": f"prefect.flow-run.{run_id}",
                    "prefect.resource.role": "flow-run",
                }
            )
        payload = {key: line[key] for key in ("target", "outcome", "details") if key in line}
        anchor = self.audit.anchor(line) if isinstance(self.audit, Anchored) else None
        if anchor is not None:
            payload["audit"] = anchor.payload()
            related.append(chain_resource(anchor.chain))
        try:
            self._emit(
                event=f"apilink.{action}",
                resource={
                    "prefect.resource.id": f"apilink.principal.{line['actor']}",
                    "prefect.resource.name": str(line["actor"]),
                },
                related=related or None,
                payload=payload,
            )
        except Exception:  # the audit file is the record; a lost event must not stop a run
            _log.warning("could not emit Prefect event apilink.%s", action, exc_info=True)
        return line


def audit_from_parameters(parameters: Mapping[str, Any]) -> AuditLog | None:
    """The audit log of the sync config named by a flow's ``config_path`` or ``config``."""
    if parameters.get("config_path"):
        config, trusted = load_config(str(parameters["config_path"])), True
    elif parameters.get("config"):
        dumped = yaml.safe_dump(dict(parameters["config"]))
        config, trusted = parse_config(dumped, source="<config>"), False
    else:
        return None
    return run_audit_log(config, trusted=trusted)


def audit_hooks(
    factory: AuditFactory = audit_from_parameters, *, emit: Emitter = emit_event
) -> dict[str, list[FlowStateHook[..., Any]]]:
    """Flow state hooks (``on_running`` ... ``on_cancellation``) that audit the run."""
    return {
        name: [_hook(action, outcome, factory, emit)] for name, (action, outcome) in _HOOKS.items()
    }


def _hook(
    action: str, outcome: str, factory: AuditFactory, emit: Emitter
) -> FlowStateHook[..., Any]:
    def hook(flow: Any, flow_run: Any, state: Any) -> None:
        parameters = dict(getattr(flow_run, "parameters", None) or {})
        try:
            audit = factory(parameters)
        except Exception as exc:  # a config that cannot load still leaves a Prefect event
            _log.warning("audit log unavailable for this run: %s", type(exc).__name__)
            audit = None
        run_id = str(flow_run.id)
        sink = PrefectAuditSink(audit, run_id=run_id, emit=emit)
        details = {
            "flow": getattr(flow, "name", None),
            "flow_run": getattr(flow_run, "name", None),
            "state": getattr(state, "name", None),
        }
        if outcome != "started" and getattr(state, "message", None):
            details["message"] = str(state.message)
        sink.record(
            action,
            actor=_actor(flow_run),
            target=str(details["flow"]),
            outcome=outcome,
            details=details,
        )

    hook.__name__ = f"audit_{action.replace('.', '_')}"
    return hook


def _actor(flow_run: Any) -> str:
    created_by = getattr(flow_run, "created_by", None)
    shown = getattr(created_by, "display_value", None)
    return str(shown) if shown else "prefect"


def read_anchors(
    api_url: str, chain: str, *, api_key: str | None = None, auth_string: str | None = None
) -> list[Anchor]:
    """Every anchor of ``chain`` the Prefect server at ``api_url`` holds.

    Raises:
        AuditAnchorUnavailable: the server could not be read (fail closed: no answer is never
            read as "no anchors").
    """
    event_filter = EventFilter(
        occurred=EventOccurredFilter(since=_EPOCH, until=datetime.now(UTC) + timedelta(days=1)),
        event=EventNameFilter(prefix=["apilink."]),
        any_resource=EventAnyResourceFilter(id=[CHAIN_RESOURCE_PREFIX + chain]),
    )
    try:
        with SyncPrefectClient(api_url, api_key=api_key, auth_string=auth_string) as client:
            return list(_pages(client, event_filter))
    except Exception as exc:  # any failure to read is a failure to verify
        raise AuditAnchorUnavailable(
            f"cannot read the audit anchors from the Prefect API at {sanitize_url(api_url)}: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _pages(client: Any, event_filter: Any) -> Iterator[Anchor]:
    page = client.read_events(filter=event_filter, limit=50)  # the most the API allows
    while True:
        for event in page.events:
            anchor = parse_anchor(event.payload)
            if anchor is not None:
                yield anchor
        if not page.next_page:
            return
        page = client.read_events_page(str(page.next_page))
