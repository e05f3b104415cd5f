"""``apilink sync`` against sources as they are: a third-party API (json-server) with its totals
and links, and sources whose pages are not what the config says."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from apilink.demo import serve
from tests.cli.test_sync import apilink
from tests.fixtures.json_server import JsonServer


def _config(source_url: str, target_url: str, pagination: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "users-to-profiles",
        "source": {
            "type": "rest",
            "base_url": source_url,
            "endpoints": {"list_users": {"path": "/users", "pagination": pagination}},
        },
        "target": {
            "type": "rest",
            "base_url": target_url,
            "endpoints": {"create_profile": {"path": "/profiles", "method": "POST"}},
        },
        "mapping": [
            {
                "source": "list_users",
                "target": "create_profile",
                "fields": [
                    {"source": "id", "target": "user_id"},
                    {"source": "email", "target": "email"},
                ],
            }
        ],
    }


JSON_SERVER_PAGES = {"type": "page_number", "page_param": "_page", "page_size_param": "_limit"}


def _sync(tmp_path: Path, config: dict[str, Any], harness: str) -> tuple[int, str, str]:
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(config))
    done = apilink("sync", "-c", str(path), "--json", env={"PREFECT_API_URL": harness})
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    "stop",
    [{"total_header": "X-Total-Count"}, {}],
    ids=["x-total-count", "link-rel-last"],
)
def test_json_server_is_read_to_its_stated_end_without_an_empty_page(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path, stop: dict[str, str]
) -> None:
    pages = {**JSON_SERVER_PAGES, "page_size": 10, **stop}
    config = _config(json_server.url, json_server.url, pages)

    code, out, err = _sync(tmp_path, config, prefect_harness)

    assert code == 0, err
    assert json.loads(out)["loaded"] == 45
    stored = json_server.records("profiles")
    assert sorted(p["user_id"] for p in stored) == list(range(1, 46))
    reads = [line for line in json_server.requests() if line.startswith("GET /users?")]
    assert len(reads) == 5, reads  # 45 records, 10 a page: the total ends the read


def test_max_records_bounds_the_read(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path
) -> None:
    pages = {**JSON_SERVER_PAGES, "page_size": 10, "max_records": 25}
    config = _config(json_server.url, json_server.url, pages)

    code, out, err = _sync(tmp_path, config, prefect_harness)

    assert code == 0, err
    assert json.loads(out)["extracted"] == 25
    assert sorted(p["user_id"] for p in json_server.records("profiles")) == list(range(1, 26))
    reads = [line for line in json_server.requests() if line.startswith("GET /users?")]
    assert len(reads) == 3


MALFORMED = {
    "a bare JSON string": ("just a string", "page 1 of endpoint `list_users` has no `data`"),
    "records elsewhere": ({"items": [{"id": 1}]}, "has no `data` (the body is an object)"),
    "data is an object": (
        {"data": {"id": 1}},
        "`data` in page 1 of endpoint `list_users` is an object",
    ),
    "a list of scalars": (
        {"data": [1, 2]},
        "record 0 in page 1 of endpoint `list_users` is a number",
    ),
}


@pytest.fixture
def malformed_source(request: pytest.FixtureRequest) -> Iterator[str]:
    body, _ = MALFORMED[request.param]

    async def users(_: Request) -> Response:
        return JSONResponse(body)

    with serve(Starlette(routes=[Route("/users", users)])) as url:
        yield url


@pytest.mark.parametrize("malformed_source", sorted(MALFORMED), indirect=True)
def test_a_malformed_page_fails_the_run_naming_endpoint_and_page(
    prefect_harness: str,
    malformed_source: str,
    json_server: JsonServer,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    kind = request.node.callspec.params["malformed_source"]
    config = _config(
        malformed_source, json_server.url, {"type": "page_number", "data_path": "data"}
    )

    code, _, err = _sync(tmp_path, config, prefect_harness)

    assert code == 1
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, err
    assert MALFORMED[kind][1] in error_lines[0]
    assert "Traceback" not in err.split("error:")[-1]
    assert json_server.records("profiles") == []


@pytest.fixture
def slow_source() -> Iterator[str]:
    """100 users, 10 a page, each page after 0.3 s."""

    async def users(request: Request) -> Response:
        await asyncio.sleep(0.3)
        page = int(request.query_params.get("page", "1"))
        data = [
            {"id": n, "email": f"u{n}@example.com"} for n in range(page * 10 - 9, page * 10 + 1)
        ]
        return JSONResponse({"data": data if page <= 10 else [], "more": page < 10})

    with serve(Starlette(routes=[Route("/users", users)])) as url:
        yield url


def test_max_duration_stops_reading_and_a_rerun_goes_on(
    prefect_harness: str, slow_source: str, json_server: JsonServer, tmp_path: Path
) -> None:
    pages = {"type": "page_number", "data_path": "data", "has_more_path": "more"}
    config = {**_config(slow_source, json_server.url, pages), "chunk_size": 10}

    code, _, err = _sync(tmp_path, {**config, "max_duration": 1.0}, prefect_harness)

    assert code == 1
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, err
    assert "max_duration passed before page" in error_lines[0]
    first = len(json_server.records("profiles"))
    assert first < 100

    code, out, err = _sync(tmp_path, config, prefect_harness)

    assert code == 0, err
    assert json.loads(out)["loaded"] == 100 - first
    assert sorted(p["user_id"] for p in json_server.records("profiles")) == list(range(1, 101))
