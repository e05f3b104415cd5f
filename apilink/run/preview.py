"""What a dry run shows of what it would have sent: the first mapped records of each target
endpoint, masked as the quarantine masks them (secret-named keys, the run's secret values,
credential-shaped strings)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from apilink.storage.quarantine import mask_record

__all__ = ["PREVIEW_ROWS", "SendPreview"]

PREVIEW_ROWS = 10
"""Records shown per target endpoint."""


class SendPreview:
    """Collects the preview rows of a dry run.

    Args:
        filter_fields: the config's ``logging.filter_fields`` (masked on top of the secret
            names).
        secret_values: the run's secret values (a string holding one is masked).
        rows: records kept per target endpoint.
    """

    def __init__(
        self,
        filter_fields: Iterable[str] = (),
        secret_values: Iterable[str] = (),
        *,
        rows: int = PREVIEW_ROWS,
    ) -> None:
        self.filter_fields = tuple(filter_fields)
        self._secret_values = secret_values  # the run's set, which learns tokens as they come
        self.rows_per_endpoint = rows
        self.rows: list[dict[str, Any]] = []
        self._kept: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"SendPreview({len(self.rows)} rows)"

    def offer(self, endpoint: str, records: list[dict[str, Any]]) -> None:
        """Keep the first of ``records`` (mapped for ``endpoint``) while it has room."""
        room = self.rows_per_endpoint - self._kept.get(endpoint, 0)
        for record in records[: max(0, room)]:
            masked = mask_record(record, self.filter_fields, self._secret_values)
            self.rows.append({"endpoint": endpoint, **_flat(masked)})
        self._kept[endpoint] = self._kept.get(endpoint, 0) + min(len(records), max(0, room))


def _flat(record: Any) -> dict[str, Any]:
    """Top-level fields as table cells: nested values as compact JSON."""
    if not isinstance(record, dict):
        return {"record": json.dumps(record, default=str)}
    return {
        str(key): json.dumps(value, default=str) if isinstance(value, dict | list) else value
        for key, value in record.items()
    }
