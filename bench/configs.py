"""The sync configs apilink runs in the benchmark: the same rules and mapping as the baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench.users import PAGE_SIZE

__all__ = ["sync_config", "write_sync_config"]

FIELDS: list[dict[str, Any]] = [
    {"source": "id", "target": "external_id", "transform": ["to_int"]},
    {"source": "email", "target": "contact.email", "transform": ["strip", "lowercase"]},
    {"source": "profile.first_name", "target": "name.first", "transform": ["strip"]},
    {"source": "profile.last_name", "target": "name.last", "transform": ["uppercase"]},
    {"source": "created_at", "target": "created_ts", "transform": ["iso_to_timestamp"]},
]


def sync_config(
    *,
    name: str,
    source_url: str,
    target_url: str,
    limit: int,
    batch: bool,
    concurrency: int,
    batch_size: int = PAGE_SIZE,
    chunk_size: int | None = None,
) -> dict[str, Any]:
    """A sync of users ``1..limit`` into ``/records``, per record or in batches."""
    target_endpoint: dict[str, Any] = {"path": "/records", "method": "POST"}
    if batch:
        target_endpoint |= {"batch": True, "batch_size": batch_size}
    config: dict[str, Any] = {
        "name": name,
        "source": {
            "type": "rest",
            "base_url": source_url,
            "endpoints": {
                "list_users": {
                    "path": "/users",
                    "params": {"per_page": PAGE_SIZE, "limit": limit},
                    "pagination": {
                        "type": "page_number",
                        "page_param": "page",
                        "data_path": "data",
                        "has_more_path": "meta.next_page",
                    },
                }
            },
        },
        "target": {
            "type": "rest",
            "base_url": target_url,
            "max_concurrency": concurrency,
            "endpoints": {"create_record": target_endpoint},
        },
        "mapping": [
            {
                "source": "list_users",
                "target": "create_record",
                "fields": FIELDS,
                "validation": {"required_fields": ["id", "email"], "email_fields": ["email"]},
            }
        ],
    }
    if chunk_size is not None:
        config["chunk_size"] = chunk_size
    return config


def write_sync_config(directory: Path, config: dict[str, Any]) -> Path:
    """Write ``config`` as ``<name>.yaml`` in ``directory``; returns the path."""
    path = directory / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
