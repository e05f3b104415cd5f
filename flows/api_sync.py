"""The ``api_sync`` flow: guard, credentials, tokens, then extract -> validate -> map -> load
chunk by chunk, and a summary that always adds up."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import SecretStr

from apilink.config import SyncConfig, load_config
from apilink.config.models import MappingConfig
from apilink.errors import ApilinkError, ConfigError
from apilink.session import SyncSession
from apilink.summary import SyncSummary
from tasks.auth import acquire_token
from tasks.credentials import resolve_credentials
from tasks.pipeline import extract_chunk, load_records, map_records, validate_fields
from tasks.rbac_guard import rbac_guard

__all__ = ["SyncIncomplete", "api_sync", "select_mappings"]


class SyncIncomplete(ApilinkError):
    """Some records were not accepted by the target; the summary says how many."""

    def __init__(self, summary: SyncSummary) -> None:
        self.summary = summary
        super().__init__(
            f"{summary.failed} of {summary.extracted} records were not accepted by the target"
        )


def select_mappings(
    config: SyncConfig, source_endpoint: str | None, target_endpoint: str | None
) -> list[MappingConfig]:
    """The mappings to run, narrowed by endpoint names when given."""
    chosen = [
        rule
        for rule in config.mapping
        if (source_endpoint is None or rule.source == source_endpoint)
        and (target_endpoint is None or rule.target == target_endpoint)
    ]
    if not chosen:
        pairs = ", ".join(f"{r.source} -> {r.target}" for r in config.mapping)
        raise ConfigError(
            f"no mapping goes from {source_endpoint or 'any'} to {target_endpoint or 'any'}; "
            f"the config maps: {pairs}"
        )
    return chosen


def _load(config_path: str | None, config: dict[str, Any] | None) -> SyncConfig:
    if (config_path is None) == (config is None):
        raise ConfigError("give exactly one of `config_path` and `config`")
    if config_path is not None:
        return load_config(config_path)
    import yaml

    from apilink.config.loader import parse_config

    return parse_config(yaml.safe_dump(config), source="<flow parameter `config`>")


@flow(name="api_sync", log_prints=False, validate_parameters=True)
async def api_sync(
    config_path: str | None = None,
    config: dict[str, Any] | None = None,
    source_endpoint: str | None = None,
    target_endpoint: str | None = None,
    dry_run: bool = False,
    api_key: SecretStr | None = None,
) -> dict[str, Any]:
    """Move records from the source API to the target API as the sync config says.

    Args:
        config_path: a sync config YAML file (on the machine that runs the flow).
        config: the same config as a mapping, instead of a file.
        source_endpoint: run only the mappings that read this source endpoint.
        target_endpoint: run only the mappings that write this target endpoint.
        dry_run: extract, validate and map, but send nothing to the target.
        api_key: the caller's apilink API key when access control is on
            (else ``APILINK_API_KEY``).

    Returns:
        The counts: extracted, valid, quarantined, loaded, failed, and the quarantine reasons.
    """
    logger = get_run_logger()
    sync_config = _load(config_path, config)
    rbac_guard(sync_config.security, api_key)
    resolved = resolve_credentials(sync_config)
    rules = select_mappings(resolved, source_endpoint, target_endpoint)
    source_auth = acquire_token(resolved.source, "source")
    target_auth = None if dry_run else acquire_token(resolved.target, "target")

    summary = SyncSummary()
    async with SyncSession(resolved, source_auth=source_auth, target_auth=target_auth) as session:
        for rule in rules:
            run = session.mapping_run(rule)
            index = 0
            while records := await extract_chunk(run.reader, resolved.chunk_size, index):
                chunk = SyncSummary(extracted=len(records))
                checked = validate_fields(run.validator, records, rule.source, index)
                mapped, refused = map_records(run.mapper, checked.valid, rule.target, index)
                for item in [*checked.quarantined, *refused]:
                    for reason in item.reasons:
                        chunk.quarantine_reasons[reason] = (
                            chunk.quarantine_reasons.get(reason, 0) + 1
                        )
                chunk.quarantined = len(checked.quarantined) + len(refused)
                chunk.valid = len(mapped)
                if not dry_run:
                    delivered = await load_records(run.loader, mapped, index)
                    chunk.loaded = delivered.loaded
                    chunk.failed = len(delivered.failed)
                summary.add(chunk)
                index += 1

    await _publish(summary, resolved.name, dry_run)
    logger.info(
        "sync %s: extracted %d, valid %d, quarantined %d, loaded %d, failed %d",
        resolved.name,
        summary.extracted,
        summary.valid,
        summary.quarantined,
        summary.loaded,
        summary.failed,
    )
    if summary.failed:
        raise SyncIncomplete(summary)
    return summary.to_dict()


async def _publish(summary: SyncSummary, name: str, dry_run: bool) -> None:
    key = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "sync"
    counts = summary.counts()
    await create_table_artifact(
        key=f"{key}-counts",
        table=[{"stage": stage, "records": value} for stage, value in counts.items()],
        description=f"apilink sync `{name}`" + (" (dry run)" if dry_run else ""),
    )
    if summary.quarantine_reasons:
        lines = "\n".join(
            f"| {reason} | {count} |"
            for reason, count in sorted(summary.quarantine_reasons.items(), key=lambda i: -i[1])
        )
        await create_markdown_artifact(
            key=f"{key}-quarantine",
            markdown=f"# Quarantined records\n\n| reason | records |\n|---|---|\n{lines}\n",
            description="Why records were set aside (values are never shown)",
        )
