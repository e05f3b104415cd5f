"""``apilink sync`` with ``incremental:`` against a source that ignores the cursor parameter:
json-server drops query parameters it has no field for, so it answers every record on every
run, and the client-side filter is what keeps a rerun from loading them again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.cli.test_sync_sources import JSON_SERVER_PAGES, _config, _sync
from tests.fixtures.json_server import JsonServer

INCREMENTAL = {"cursor_field": "updatedAt", "param": "updated_since", "lag": 60}


def _stamp(n: int) -> str:
    """User ``n``'s ``updatedAt``: minute ``n`` of 10:00 UTC, half of them written at +02:00."""
    hour, minute = divmod(n, 60)
    if n % 2:
        return f"2024-05-01T{10 + hour:02d}:{minute:02d}:00Z"
    return f"2024-05-01T{12 + hour:02d}:{minute:02d}:00+02:00"


def _two_runs(
    json_server: JsonServer, tmp_path: Path, harness: str
) -> tuple[dict[str, Any], dict[str, Any], list[int], list[str]]:
    """Run 1 loads users 1..45 (45 has no ``updatedAt``); then user 3 changes, users 46 and 47
    arrive, and run 2 reads all 47 again. Returns both outcomes, the users run 2 posted and its
    page requests."""
    with httpx.Client(base_url=json_server.url, timeout=10) as api:
        for n in range(1, 45):
            api.patch(f"/users/{n}", json={"updatedAt": _stamp(n)}).raise_for_status()
    pages = {**JSON_SERVER_PAGES, "page_size": 10, "total_header": "X-Total-Count"}
    config = {**_config(json_server.url, json_server.url, pages), "incremental": INCREMENTAL}
    config["name"] = f"incremental-{tmp_path.name}"

    code, out, err = _sync(tmp_path, config, harness)
    assert code == 0, err
    first = json.loads(out)
    posted_before = len(json_server.records("profiles"))
    requests_before = len(json_server.requests())

    with httpx.Client(base_url=json_server.url, timeout=10) as api:
        # Changed 30 s after the cursor (user 44's 10:44): inside the lag, but later.
        api.patch("/users/3", json={"updatedAt": "2024-05-01T12:44:30+02:00"}).raise_for_status()
        for n in (46, 47):
            user = {"id": n, "email": f"user{n}@example.com", "updatedAt": _stamp(n)}
            api.post("/users", json=user).raise_for_status()

    code, out, err = _sync(tmp_path, config, harness)
    assert code == 0, err
    second = json.loads(out)
    posted = [p["user_id"] for p in json_server.records("profiles")[posted_before:]]
    reads = [
        line for line in json_server.requests()[requests_before:] if line.startswith("GET /users?")
    ]
    return first, second, posted, reads


def test_a_source_that_ignores_the_cursor_is_not_loaded_again(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path
) -> None:
    first, second, posted, reads = _two_runs(json_server, tmp_path, prefect_harness)

    assert first["loaded"] == 45
    # The cursor was sent (user 44's 12:44:00+02:00, as the source wrote it, less the 60 s
    # lag) and ignored: all 47 came.
    assert reads and all("updated_since=2024-05-01T12:43:00%2B02:00&" in line for line in reads)
    assert len(reads) == 5
    # Loaded: the changed user, user 44 (10:44, within the lag: sent again, as the source was
    # asked for it), user 45 without an `updatedAt`, and the two new ones. User 43 (10:43, at
    # the cursor sent) and the older ones are not.
    assert sorted(posted) == [3, 44, 45, 46, 47]
    assert second["loaded"] == 5 and second["failed"] == second["quarantined"] == 0
    assert second["extracted"] == (
        second["loaded"] + second["quarantined"] + second["failed"] + second["skipped"]
    )


def test_the_records_it_sends_again_are_reported_as_skipped(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path
) -> None:
    first, second, _, _ = _two_runs(json_server, tmp_path, prefect_harness)

    assert first["skipped"] == 0
    # Users 1, 2 and 4..43 are at or below the cursor less the lag: 42 skipped of 47 read.
    assert (second["extracted"], second["skipped"], second["loaded"]) == (47, 42, 5)
