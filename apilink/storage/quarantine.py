"""The quarantine file: records set aside by validation or mapping, with their reasons.

One JSON line per record::

    {"n": 1, "endpoint": "list_users", "chunk": 0, "reasons": ["field `email` is not a valid
     email address"], "record": {"id": 7, "email": "not-an-email", "password": "**********"}}

The file is created with mode 0600 (never through a symlink) and holds no secret: keys named
in ``filter_fields`` or named like secrets (``password``, ``token``, ``api_key``...) are masked
at any depth, as are strings holding one of the run's secret values or shaped like a credential
(``Bearer ...``, a JWT). :meth:`QuarantineWriter.preview` gives the first rows for a Prefect
table artifact: row number, endpoint, chunk, the record's key (its ``id``, or the first of the
other identifying names in :data:`KEY_NAMES` it has, as masked) and reasons; no other value.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from apilink.config.models import SyncConfig
from apilink.redaction import MASK, is_secret_name, secret_words
from apilink.storage.private_files import open_private_fd
from apilink.storage.state.store import default_state_dir, state_slug
from apilink.validation.validator import Quarantined

__all__ = ["KEY_NAMES", "QuarantineWriter", "mask_record", "record_key"]

KEY_NAMES = ("id", "uuid", "_id", "external_id")
"""Top-level fields that identify a record, in the order a preview row looks for them."""

_CREDENTIAL_SHAPED = re.compile(
    r"^\s*(?:bearer|basic|token)\s+\S+|^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]*$", re.IGNORECASE
)
_MIN_SECRET_LEN = 4


def mask_record(
    record: Any, filter_fields: Iterable[str] = (), secret_values: Iterable[str] = ()
) -> Any:
    """A copy of ``record`` with secret-named keys and secret-looking strings masked."""
    words = secret_words(filter_fields)
    secrets = tuple(s for s in secret_values if len(s) >= _MIN_SECRET_LEN)
    return _mask(record, words, secrets, {})


def _mask(
    value: Any, words: tuple[str, ...], secrets: tuple[str, ...], names: dict[str, bool]
) -> Any:
    """``names`` remembers which keys are secret: records of a run repeat the same keys."""
    if isinstance(value, dict):
        masked = {}
        for key, item in value.items():
            name = str(key)
            secret = names.get(name)
            if secret is None:
                secret = names[name] = is_secret_name(name, words)
            masked[key] = MASK if secret else _mask(item, words, secrets, names)
        return masked
    if isinstance(value, list | tuple):
        return [_mask(item, words, secrets, names) for item in value]
    if isinstance(value, str) and (
        _CREDENTIAL_SHAPED.search(value) or any(secret in value for secret in secrets)
    ):
        return MASK
    return value


def record_key(record: Any) -> str | None:
    """``id=7``: the first of :data:`KEY_NAMES` that ``record`` holds a plain value for."""
    if not isinstance(record, dict):
        return None
    for name in KEY_NAMES:
        value = record.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return f"{name}={value}"
    return None


class QuarantineWriter:
    """Appends quarantined records of one run to a JSONL file.

    Args:
        path: the file (one per run, e.g. ``quarantine/<run id>.jsonl``); its folder is
            created (mode 0700) when missing. Nothing is created until a record is written.
        filter_fields: the config's ``logging.filter_fields``, masked on top of the
            secret-looking names.
        secret_values: the run's secret values (from :func:`apilink.redaction.secret_values`);
            a string holding one is masked whatever its key.
        preview_rows: how many rows :meth:`preview` keeps.

    Use as a context manager, or call :meth:`close`. Safe to share between threads.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        filter_fields: Iterable[str] = (),
        *,
        secret_values: Iterable[str] = (),
        preview_rows: int = 20,
    ) -> None:
        self.path = Path(path)
        self._words = secret_words(filter_fields)
        self._secrets = tuple(s for s in secret_values if len(s) >= _MIN_SECRET_LEN)
        self._secret_names: dict[str, bool] = {}
        self._preview_rows = preview_rows
        self._preview: list[dict[str, Any]] = []
        self._file: IO[str] | None = None
        self._lock = threading.Lock()
        self.count = 0

    def __repr__(self) -> str:
        return f"QuarantineWriter({str(self.path)!r}, count={self.count})"

    @classmethod
    def for_run(
        cls,
        config: SyncConfig,
        run_id: str,
        *,
        secret_values: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
    ) -> QuarantineWriter:
        """The file of one run of ``config``'s sync:
        ``<state_dir>/quarantine/<sync>/<run id>.jsonl``."""
        folder = default_state_dir(config.state_dir, environ) / "quarantine"
        return cls(
            folder / state_slug(config.name) / f"{state_slug(run_id)}.jsonl",
            config.logging.filter_fields,
            secret_values=secret_values,
        )

    def write(
        self, items: Iterable[Quarantined], *, endpoint: str, chunk: int | None = None
    ) -> int:
        """Append ``items``; returns how many were written."""
        lines: list[str] = []
        with self._lock:
            for item in items:
                self.count += 1
                masked = _mask(item.record, self._words, self._secrets, self._secret_names)
                entry = {
                    "n": self.count,
                    "endpoint": endpoint,
                    "chunk": chunk,
                    "reasons": list(item.reasons),
                    "record": masked,
                }
                lines.append(json.dumps(entry, default=str, ensure_ascii=False) + "\n")
                if len(self._preview) < self._preview_rows:
                    self._preview.append(
                        {
                            "row": self.count,
                            "endpoint": endpoint,
                            "chunk": chunk,
                            "key": record_key(masked),
                            "reasons": "; ".join(item.reasons),
                        }
                    )
            if lines:
                handle = self._open()
                handle.writelines(lines)
                handle.flush()
        return len(lines)

    def preview(self) -> list[dict[str, Any]]:
        """The first rows, reasons only (no value), ready for ``create_table_artifact``."""
        with self._lock:
            return [dict(row) for row in self._preview]

    def _open(self) -> IO[str]:
        if self._file is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # 0600 (an existing wider file is tightened), never through a symlink
            fd = open_private_fd(self.path, "a")
            self._file = os.fdopen(fd, "a", encoding="utf-8")
        return self._file

    def close(self) -> None:
        """Close the file (writing again reopens it in append mode)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
