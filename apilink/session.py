"""Everything one sync run holds open: the two API clients and the per-mapping workers."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from apilink.config.models import MappingConfig, SyncConfig
from apilink.extract import PageReader
from apilink.http import RetryPolicy, build_client
from apilink.load import Loader
from apilink.mapping.mapper import RecordMapper
from apilink.validation import Validator, rules_from_config

__all__ = ["MappingRun", "SyncSession"]


@dataclass
class MappingRun:
    """The workers of one ``mapping:`` entry: reader, validator, mapper, loader."""

    rule: MappingConfig
    reader: PageReader
    validator: Validator
    mapper: RecordMapper
    loader: Loader


class SyncSession:
    """Opens the source and target clients of a run and builds the workers of each mapping.

    Use as ``async with SyncSession(config, source_auth=..., target_auth=...) as session``.

    Args:
        config: a config whose references are already resolved.
        source_auth: the source API's ``httpx.Auth`` (or ``None``).
        target_auth: the target API's ``httpx.Auth`` (or ``None``).
        transports: optional transports by side (``"source"``/``"target"``), for tests and
            faster HTTP stacks.
    """

    def __init__(
        self,
        config: SyncConfig,
        *,
        source_auth: httpx.Auth | None = None,
        target_auth: httpx.Auth | None = None,
        transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self.config = config
        transports = transports or {}
        self.source = build_client(
            config.source,
            timeout=config.timeout_for(config.source),
            auth=source_auth,
            transport=transports.get("source"),
        )
        self.target = build_client(
            config.target,
            timeout=config.timeout_for(config.target),
            auth=target_auth,
            transport=transports.get("target"),
        )
        self.source_policy = RetryPolicy(config.retry_for(config.source))
        self.target_policy = RetryPolicy(config.retry_for(config.target))

    def mapping_run(self, rule: MappingConfig, params: dict[str, Any] | None = None) -> MappingRun:
        """Fresh workers for one pass over ``rule``."""
        return MappingRun(
            rule=rule,
            reader=PageReader(
                self.source,
                rule.source,
                self.config.source.endpoints[rule.source],
                self.source_policy,
                params,
            ),
            validator=Validator(rules_from_config(rule.validation)),
            mapper=RecordMapper(rule.fields),
            loader=Loader(
                self.target,
                rule.target,
                self.config.target.endpoints[rule.target],
                self.target_policy,
                scope=self.config.name,
                concurrency=self.config.target.max_concurrency,
            ),
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
