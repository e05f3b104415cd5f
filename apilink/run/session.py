"""Everything one sync run holds open: the two API clients and the per-mapping workers."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from apilink.config.models import MappingConfig, SyncConfig
from apilink.http.sending import RetryPolicy, build_client
from apilink.mapping.mapper import RecordMapper
from apilink.redaction import Redactor, secret_values
from apilink.run.loader import Loader
from apilink.run.reader import PageReader
from apilink.storage.state.cursor import CursorFilter
from apilink.validation import Validator, rules_from_config

__all__ = ["MappingRun", "SyncSession"]


@dataclass
class MappingRun:
    """The workers of one ``mapping:`` entry: reader, validator, mapper, loader (and, for
    ``mode: upsert`` or ``mirror``, the loaders of its ``update`` and ``delete`` endpoints)."""

    config: SyncConfig
    rule: MappingConfig
    reader: PageReader
    validator: Validator
    mapper: RecordMapper
    loader: Loader
    updater: Loader | None = None
    deleter: Loader | None = None


class SyncSession:
    """Opens the source and target clients of a run and builds the workers of each mapping.

    Use as ``async with SyncSession(config, source_auth=..., target_auth=...) as session``.

    Args:
        config: a config whose references are already resolved.
        source_auth: the source API's ``httpx.Auth`` (or ``None``).
        target_auth: the target API's ``httpx.Auth`` (or ``None``).
        transports: optional transports by side (``"source"``/``"target"``), for tests and
            faster HTTP stacks.
        policy_options: passed to both ``RetryPolicy`` objects (``sleep``, ``clock``, ``rng``
            in tests).
        redactor: what masks secrets in error lines; by default one built from the config
            (the flow passes the run's, which also learns OAuth tokens as they arrive).
    """

    def __init__(
        self,
        config: SyncConfig,
        *,
        source_auth: httpx.Auth | None = None,
        target_auth: httpx.Auth | None = None,
        transports: dict[str, httpx.AsyncBaseTransport] | None = None,
        policy_options: dict[str, Any] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.config = config
        transports = transports or {}
        self.source = build_client(
            config.source,
            timeout=config.timeout_for(config.source),
            auth=source_auth,
            transport=transports.get("source"),
            what="source",
        )
        self.target = build_client(
            config.target,
            timeout=config.timeout_for(config.target),
            auth=target_auth,
            transport=transports.get("target"),
            what="target",
        )
        options = policy_options or {}
        self.source_policy = RetryPolicy.for_connection(
            config.retry_for(config.source),
            config.timeout_for(config.source),
            config.source,
            **options,
        )
        self.target_policy = RetryPolicy.for_connection(
            config.retry_for(config.target),
            config.timeout_for(config.target),
            config.target,
            **options,
        )
        # One deadline for every mapping of the run, counted from the session's start.
        self.read_deadline = (
            None
            if config.max_duration is None
            else self.source_policy.clock() + config.max_duration
        )
        self.redactor = redactor or Redactor(
            secret_values(config), tuple(config.logging.filter_fields)
        )

    def loader(self, target_endpoint: str) -> Loader:
        """A loader for one target endpoint (dead-letter replays use it without a mapping)."""
        return Loader(
            self.target,
            target_endpoint,
            self.config.target.endpoints[target_endpoint],
            self.target_policy,
            scope=self.config.name,
            concurrency=self.config.target.max_concurrency,
            redactor=self.redactor,
        )

    def mapping_run(
        self,
        rule: MappingConfig,
        params: dict[str, Any] | None = None,
        position: dict[str, Any] | None = None,
    ) -> MappingRun:
        """Fresh workers for one pass over ``rule``.

        Args:
            rule: the mapping.
            params: extra source query parameters (the incremental filter). When they hold
                the config's ``incremental.param``, the reader also skips the records at or
                below that value (:class:`~apilink.storage.state.cursor.CursorFilter`), so a
                source that ignores the parameter is not loaded again.
            position: a checkpointed reader position to go on from.
        """
        return MappingRun(
            config=self.config,
            rule=rule,
            reader=PageReader(
                self.source,
                rule.source,
                self.config.source.endpoints[rule.source],
                self.source_policy,
                params,
                position,
                deadline=self.read_deadline,
                clock=self.source_policy.clock,
                cursor_filter=CursorFilter.for_params(self.config.incremental, params),
            ),
            validator=Validator(rules_from_config(rule.validation), engine=rule.validation.engine),
            mapper=RecordMapper(rule.fields),
            loader=self.loader(rule.target),
            updater=self.loader(rule.update) if rule.update else None,
            deleter=self.loader(rule.delete) if rule.delete else None,
        )

    def holdings(self, rule: MappingConfig) -> PageReader:
        """A reader of what the target holds, through the mapping's ``reconcile`` endpoint
        (on the target's client: its credentials, origin and HTTPS rules)."""
        if rule.reconcile is None:
            raise ValueError(f"mapping {rule.source} -> {rule.target} has no reconcile")
        return PageReader(
            self.target,
            rule.reconcile,
            self.config.target.endpoints[rule.reconcile],
            self.target_policy,
            deadline=self.read_deadline,
            clock=self.target_policy.clock,
        )

    async def __aenter__(self) -> SyncSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.source.aclose()
        await self.target.aclose()
