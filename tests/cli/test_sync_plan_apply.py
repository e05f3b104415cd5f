"""``apilink sync --plan`` and ``mode: mirror`` end to end: json-server (npm) is the mutable
source and the target (POST, PATCH, DELETE on ``/profiles``), changed between runs.

Each run's ``--plan`` predicts exactly the requests the run then sends (read back from
json-server's own request log), and after each run the target equals the mapped source.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from apilink.demo import serve
from apilink.storage.delivered.opening import DELIVERED_DATABASE_ENV
from tests.cli.test_sync import APILINK, apilink
from tests.cli.test_sync_sources import JSON_SERVER_PAGES
from tests.fixtures.json_server import JsonServer
from tests.fixtures.postgres import Postgres
from tests.security.prefect_api import read_run

_COLOURS = re.compile(r"\x1b\[[0-9;]*m")
_WRITE = re.compile(r"^(POST|PATCH|PUT|DELETE) /profiles\S* (\d{3})")


def _config(url: str, **mapping: Any) -> dict[str, Any]:
    pages = {**JSON_SERVER_PAGES, "page_size": 20, "total_header": "X-Total-Count"}
    return {
        "name": "users-mirror",
        "source": {
            "base_url": url,
            "endpoints": {"list_users": {"path": "/users", "pagination": pages}},
        },
        "target": {
            "base_url": url,
            "endpoints": {
                "create_profile": {"path": "/profiles", "method": "POST"},
                "update_profile": {"path": "/profiles/{id}", "method": "PATCH"},
                "delete_profile": {"path": "/profiles/{id}", "method": "DELETE"},
                "list_profiles": {"path": "/profiles", "pagination": pages},
            },
        },
        "mapping": [
            {
                "source": "list_users",
                "target": "create_profile",
                "mode": "mirror",
                "key": "id",
                "update": "update_profile",
                "delete": "delete_profile",
                "fields": [
                    {"source": "id", "target": "id"},
                    {"source": "email", "target": "email"},
                    {"source": "name", "target": "display_name"},
                ],
                **mapping,
            }
        ],
    }


class Runs:
    """One sync config against one json-server, and what each run sent it."""

    def __init__(
        self,
        server: JsonServer,
        tmp_path: Path,
        harness: str,
        extra: dict[str, Any] | None = None,
        **mapping: Any,
    ) -> None:
        self.server, self.harness = server, harness
        self.path = tmp_path / "mirror.yaml"
        self.path.write_text(yaml.safe_dump({**_config(server.url, **mapping), **(extra or {})}))
        self.seen = 0

    def sync(self, *options: str) -> tuple[int, dict[str, Any], str]:
        done = apilink(
            "sync", "-c", str(self.path), "--json", *options, env={"PREFECT_API_URL": self.harness}
        )
        lines = done.stdout.strip().splitlines()
        return done.returncode, json.loads(lines[-1]) if lines else {}, done.stderr

    def writes(self) -> dict[str, int]:
        """The writes to /profiles json-server logged since the last call, by method (once
        its log has been still for a moment: json-server logs a request after answering)."""
        size = -1
        while size != self.server.log.stat().st_size:
            size = self.server.log.stat().st_size
            time.sleep(0.3)
        text = _COLOURS.sub("", self.server.log.read_text(encoding="utf-8", errors="replace"))
        lines = [m.group(1) for m in map(_WRITE.match, text.splitlines()) if m]
        new, self.seen = lines[self.seen :], len(lines)
        return {
            method: new.count(method) for method in ("POST", "PATCH", "DELETE") if method in new
        }

    def mapped_source(self) -> list[dict[str, Any]]:
        return sorted(
            (
                {"id": u["id"], "email": u["email"], "display_name": u["name"]}
                for u in self.server.records("users")
            ),
            key=lambda p: p["id"],
        )

    def target(self) -> list[dict[str, Any]]:
        return sorted(self.server.records("profiles"), key=lambda p: p["id"])


def _plan_counts(plan: dict[str, Any]) -> dict[str, int]:
    return {k: plan[k] for k in ("create", "update", "delete", "unchanged")}


def _sent(plan: dict[str, Any]) -> dict[str, int]:
    """The writes a plan predicts."""
    predicted = {"POST": plan["create"], "PATCH": plan["update"], "DELETE": plan["delete"]}
    return {k: v for k, v in predicted.items() if v}


def _change_the_source(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        http.patch("/users/3", json={"name": "Renamed 3"}).raise_for_status()
        http.patch("/users/4", json={"email": "new4@example.com"}).raise_for_status()
        http.delete("/users/5").raise_for_status()
        http.delete("/users/6").raise_for_status()
        http.post("/users", json={"id": 100, "email": "u100@example.com", "name": "New"})


def test_plan_then_apply_sends_exactly_the_difference_and_a_third_run_nothing(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path
) -> None:
    runs = Runs(json_server, tmp_path, prefect_harness)

    code, plan, err = runs.sync("--plan")
    assert code == 0, err
    assert _plan_counts(plan) == {"create": 45, "update": 0, "delete": 0, "unchanged": 0}
    assert plan["sample"]["create"] == [1, 2, 3, 4, 5]
    assert runs.writes() == {} and runs.target() == []  # a plan sends nothing

    code, first, err = runs.sync()
    assert code == 0, err
    assert (first["created"], first["updated"], first["deleted"]) == (45, 0, 0)
    assert runs.writes() == _sent(plan)
    assert runs.target() == runs.mapped_source()

    _change_the_source(json_server.url)
    code, plan, err = runs.sync("--plan")
    assert code == 0, err
    assert _plan_counts(plan) == {"create": 1, "update": 2, "delete": 2, "unchanged": 41}
    assert sorted(plan["sample"]["update"]) == [3, 4]
    assert sorted(plan["sample"]["delete"]) == [5, 6] and plan["sample"]["create"] == [100]
    assert runs.writes() == {}

    code, second, err = runs.sync()
    assert code == 0, err
    assert {k: second[k] for k in ("created", "updated", "deleted", "unchanged")} == {
        "created": 1,
        "updated": 2,
        "deleted": 2,
        "unchanged": 41,
    }
    # extracted = created + updated + unchanged + quarantined + failed; deletes apart
    assert second["extracted"] == 44 and second["loaded"] == 3
    assert runs.writes() == _sent(plan)
    assert runs.target() == runs.mapped_source()

    code, plan, err = runs.sync("--plan")
    assert code == 0, err
    assert _plan_counts(plan) == {"create": 0, "update": 0, "delete": 0, "unchanged": 44}
    code, third, err = runs.sync()
    assert code == 0, err
    assert third["unchanged"] == 44 and third["loaded"] == 0
    assert runs.writes() == {}  # nothing at all reaches the target


def test_a_mirror_refuses_mass_deletes_with_the_counts_until_allowed(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path
) -> None:
    runs = Runs(json_server, tmp_path, prefect_harness)
    assert runs.sync()[0] == 0
    runs.writes()
    with httpx.Client(base_url=json_server.url, timeout=10) as http:
        for n in range(1, 11):
            http.delete(f"/users/{n}").raise_for_status()

    code, plan, _ = runs.sync("--plan")
    assert code == 0 and plan["delete"] == 10 and plan["delete_refused"] == 10

    code, refused, err = runs.sync()
    assert code == 1
    assert "deletes 10 of the 45 records the target holds (22.2%)" in refused["error"]
    assert "max_delete_ratio 0.1" in refused["error"]
    assert "--allow-mass-delete" in refused["error"]
    assert runs.writes() == {} and len(runs.target()) == 45  # nothing was deleted

    code, allowed, err = runs.sync("--allow-mass-delete")
    assert code == 0, err
    assert allowed["deleted"] == 10 and runs.writes() == {"DELETE": 10}
    assert runs.target() == runs.mapped_source()


def test_reconcile_starts_from_a_target_that_already_holds_data(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path
) -> None:
    runs = Runs(json_server, tmp_path, prefect_harness, reconcile="list_profiles")
    with httpx.Client(base_url=json_server.url, timeout=10) as http:
        # Already there: 1-40 as the mapping makes them, 2 of them drifted, and one extra.
        for user in json_server.records("users")[:40]:
            profile = {"id": user["id"], "email": user["email"], "display_name": user["name"]}
            if user["id"] in (7, 8):
                profile["display_name"] = "drifted"
            http.post("/profiles", json=profile).raise_for_status()
        http.post("/profiles", json={"id": 999, "email": "gone@example.com"}).raise_for_status()
    # json-server writes its log lines after it answers: wait for the 41 set-up POSTs.
    seeded, deadline = 0, time.monotonic() + 10
    while seeded < 41 and time.monotonic() < deadline:
        seeded += runs.writes().get("POST", 0)
        time.sleep(0.05)
    assert seeded == 41

    code, plan, err = runs.sync("--plan")
    assert code == 0, err
    assert _plan_counts(plan) == {"create": 5, "update": 2, "delete": 1, "unchanged": 38}

    code, _, err = runs.sync()
    assert code == 0, err
    assert runs.writes() == _sent(plan)
    assert runs.target() == runs.mapped_source()


@pytest.mark.parametrize("users", [1500])
def test_a_kill_during_apply_is_replanned_and_the_target_ends_as_the_source_says(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path, users: int
) -> None:
    with httpx.Client(base_url=json_server.url, timeout=10) as http:
        for n in range(46, users + 1):
            http.post("/users", json={"id": n, "email": f"u{n}@example.com", "name": f"U{n}"})
    runs = Runs(json_server, tmp_path, prefect_harness)
    env = {**os.environ, "PREFECT_API_URL": prefect_harness}
    process = subprocess.Popen(
        [*APILINK, "sync", "-c", str(runs.path), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(json_server.records("profiles")) < 100:
            assert process.poll() is None, "the sync ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    arrived = len(json_server.records("profiles"))
    assert 100 <= arrived < users  # killed mid-apply

    code, rerun, err = runs.sync()
    assert code == 0, err
    # What arrived before the kill is unchanged (or, unacknowledged, in doubt and counted as
    # created again, once): every record is in exactly one count.
    assert rerun["created"] >= users - arrived
    assert rerun["created"] + rerun["unchanged"] == users
    target = runs.target()
    assert [p["id"] for p in target] == list(range(1, users + 1))  # each once
    assert target == runs.mapped_source()
    code, third, err = runs.sync()
    assert code == 0 and third["unchanged"] == users


def test_the_plan_is_shown_and_published_and_every_apply_is_audited(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.log"
    runs = Runs(
        json_server,
        tmp_path,
        prefect_harness,
        extra={"logging": {"security_audit": True, "audit_file": str(audit)}},
    )
    done = apilink("sync", "-c", str(runs.path), "--plan", env={"PREFECT_API_URL": prefect_harness})
    assert done.returncode == 0, done.stderr
    assert "Plan (nothing was sent):" in done.stdout
    assert "  create           45  e.g. 1, 2, 3, 4, 5" in done.stdout
    assert "UNBALANCED" not in done.stdout + done.stderr

    code, plan, err = runs.sync("--plan")
    assert code == 0, err
    table = [a for a in read_run(plan["run_id"]).artifacts if a.get("key") == "users-mirror-plan"]
    assert len(table) == 1
    rows = table[0]["data"]
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert rows[0] == {"action": "create", "records": 45, "example keys": "1, 2, 3, 4, 5"}
    assert [r["action"] for r in rows] == ["create", "update", "delete", "unchanged"]

    assert runs.sync()[0] == 0
    _change_the_source(json_server.url)
    assert runs.sync()[0] == 0
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    actions = [(line["action"], line.get("details")) for line in lines if "sync." in line["action"]]
    counts = {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    assert actions == [
        ("sync.plan", {**counts, "created": 45}),
        ("sync.plan", {**counts, "created": 45}),
        ("sync.apply", {**counts, "created": 45}),
        ("sync.apply", {"created": 1, "updated": 2, "unchanged": 41, "deleted": 2}),
    ]


class RefusingTarget:
    """A target that holds profiles in memory and, while ``refusing``, answers every PATCH and
    DELETE 422: the updates and deletes of a run are dead-lettered."""

    def __init__(self) -> None:
        self.profiles: dict[int, dict[str, Any]] = {}
        self.refusing = False

    def app(self) -> Starlette:
        async def create(request: Request) -> Response:
            profile = await request.json()
            self.profiles[profile["id"]] = profile
            return JSONResponse(profile, status_code=201)

        async def one(request: Request) -> Response:
            key = int(request.path_params["id"])
            if self.refusing:
                return JSONResponse({"error": "read-only for now"}, status_code=422)
            if key not in self.profiles:
                return JSONResponse({}, status_code=404)
            if request.method == "DELETE":
                del self.profiles[key]
                return Response(status_code=204)
            self.profiles[key].update(await request.json())
            return JSONResponse(self.profiles[key])

        return Starlette(
            routes=[
                Route("/profiles", create, methods=["POST"]),
                Route("/profiles/{id}", one, methods=["PATCH", "DELETE"]),
            ]
        )


def test_refused_updates_and_deletes_are_dead_lettered_and_dlq_retry_applies_them(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path
) -> None:
    target = RefusingTarget()
    with serve(target.app()) as url:
        config = _config(json_server.url)
        config["target"]["base_url"] = url
        path = tmp_path / "mirror.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {"PREFECT_API_URL": prefect_harness}
        assert apilink("sync", "-c", str(path), "--json", env=env).returncode == 0
        assert len(target.profiles) == 45

        _change_the_source(json_server.url)
        target.refusing = True
        done = apilink("sync", "-c", str(path), "--json", env=env)
        outcome = json.loads(done.stdout)
        assert done.returncode == 1
        assert (outcome["created"], outcome["updated"], outcome["deleted"]) == (1, 0, 0)
        assert outcome["failed"] == 2  # the two updates; the deletes are counted apart
        assert "2 deletes not accepted by delete_profile" in outcome["error"]
        listed = apilink("dlq", "list", "-c", str(path)).stdout
        assert listed.count("status 422") == 4

        target.refusing = False
        retried = apilink("dlq", "retry", "-c", str(path))
        assert retried.returncode == 0, retried.stderr
        assert "delivered 4, still failing 0" in retried.stdout
        mapped = {
            u["id"]: {"id": u["id"], "email": u["email"], "display_name": u["name"]}
            for u in json_server.records("users")
        }
        assert target.profiles == mapped
        # The next run converges: the retried updates are sent once more (the same content),
        # the retried deletes are gone (404 counts as done).
        again = json.loads(apilink("sync", "-c", str(path), "--json", env=env).stdout)
        assert (again["updated"], again["deleted"], again["unchanged"]) == (2, 2, 42)
        assert target.profiles == mapped


def test_workers_on_two_machines_share_the_keys_through_postgresql(
    prefect_harness: str, json_server: JsonServer, tmp_path: Path, postgres: Postgres
) -> None:
    runs = Runs(json_server, tmp_path, prefect_harness)
    shared = {"PREFECT_API_URL": prefect_harness, DELIVERED_DATABASE_ENV: postgres.url}

    def sync_on(machine: str) -> dict[str, Any]:
        state = {"APILINK_STATE_DIR": str(tmp_path / machine)}
        done = apilink("sync", "-c", str(runs.path), "--json", env={**shared, **state})
        assert done.returncode == 0, done.stderr
        assert postgres.password not in done.stdout + done.stderr
        outcome: dict[str, Any] = json.loads(done.stdout)
        return outcome

    assert sync_on("one")["created"] == 45
    runs.writes()
    _change_the_source(json_server.url)
    second = sync_on("two")  # another state directory: only the database is shared
    assert (second["created"], second["updated"], second["deleted"]) == (1, 2, 2)
    assert runs.writes() == {"POST": 1, "PATCH": 2, "DELETE": 2}
    assert sync_on("one")["unchanged"] == 44 and runs.writes() == {}
    assert not (tmp_path / "one" / "delivered.sqlite3").exists()
