"""Loader: methods, batches, keys, bounded concurrency, and delivery through injected faults,
on the client's own path and on the fast lane of build_client's AiohttpTransport."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from apilink.auth import BearerAuth
from apilink.config.auth import BearerAuthConfig
from apilink.config.models import EndpointConfig, RetryConfig
from apilink.errors import AuthError, ConfigError, CredentialsRefused, TargetUnavailable
from apilink.http.aiohttp_transport import AiohttpTransport
from apilink.http.clients import ApiClient
from apilink.http.sending import RetryPolicy
from apilink.redaction import Redactor
from apilink.run.loader import Loader, LoadResult, batch_key, idempotency_key
from apilink.run.reader import PageReader
from tests.fixtures.faulty import FaultyApis
from tests.fixtures.lanes import watch_client_sends
from tests.servers.faulty import FaultPlan, items


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def target(**extra: Any) -> EndpointConfig:
    return EndpointConfig.model_validate({"path": "/items", "method": "POST", **extra})


def mock_loader(
    handler: Callable[[httpx.Request], Any], endpoint: EndpointConfig, concurrency: int = 4
) -> tuple[Loader, httpx.AsyncClient]:
    client = httpx.AsyncClient(base_url="http://t.test", transport=httpx.MockTransport(handler))
    policy = RetryPolicy(RetryConfig(max_attempts=3), sleep=Sleeps())
    return Loader(client, "items", endpoint, policy, scope="s", concurrency=concurrency), client


def run_load(
    loader: Loader, client: httpx.AsyncClient, records: list[dict[str, Any]]
) -> LoadResult:
    async def go() -> LoadResult:
        async with client:
            return await loader.load(records)

    return asyncio.run(go())


def test_keys_are_stable_and_scoped() -> None:
    record = {"id": 1, "name": "a"}
    assert idempotency_key("s:t", record) == idempotency_key("s:t", dict(reversed(record.items())))
    assert idempotency_key("s:t", record) != idempotency_key("other:t", record)
    assert idempotency_key("s:t", record) != idempotency_key("s:t", {**record, "name": "b"})
    by_id = idempotency_key("s:t", record, "id")
    assert by_id == idempotency_key("s:t", {"id": 1, "name": "changed"}, "id")
    assert batch_key(["k"]) == "k"
    assert batch_key(["a", "b"]) != batch_key(["b", "a"])


def test_a_request_key_follows_its_body_order_and_endpoint() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request is sent")

    batch, _ = mock_loader(unreachable, target(batch=True))
    records = [{"id": 1, "n": "a"}, {"id": 2, "n": "b"}]
    key = batch.request_key(records)
    assert key == batch.request_key([dict(r) for r in records])
    # The body as sent: the same mapping always writes fields in the same order.
    assert key != batch.request_key([dict(reversed(r.items())) for r in records])
    assert key != batch.request_key(list(reversed(records)))
    assert key != batch.request_key([records[0], {"id": 2, "n": "c"}])
    # The key is the body's as sent, so a batch of one differs from the record's own key.
    assert batch.request_key(records[:1]) != batch.key_of(records[0])
    single, _ = mock_loader(unreachable, target())
    assert single.request_key(records[:1]) == single.key_of(records[0])
    # Records that cannot be sent as JSON still have a key (the dead letter needs one).
    assert batch.request_key([{"n": float("nan")}, {"n": 1}])
    # With a natural key, only the ids count.
    by_id, _ = mock_loader(unreachable, target(batch=True, idempotency_key="id"))
    changed = [{"id": 1, "n": "x"}, {"id": 2, "n": "y"}]
    assert by_id.request_key(records) == by_id.request_key(changed)
    assert by_id.request_key(records) != key


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_put_and_patch_address_the_record_by_its_fields(method: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    loader, client = mock_loader(handler, target(method=method, path="/items/{external_id}"))
    result = run_load(loader, client, [{"external_id": "a/1", "v": 1}, {"v": 2}])
    assert result.loaded == 1
    assert [(r.method, r.url.raw_path) for r in seen] == [(method, b"/items/a%2F1")]
    assert json.loads(seen[0].content) == {"external_id": "a/1", "v": 1}
    assert "Idempotency-Key" in seen[0].headers
    assert result.failed[0].reason.startswith("the record has no `external_id`")


def test_a_batch_endpoint_cannot_template_its_path() -> None:
    with pytest.raises(ConfigError, match="batches"):
        mock_loader(lambda r: httpx.Response(200), target(path="/x/{id}", batch=True))


def test_batches_keep_order_and_a_resend_carries_the_same_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201)

    records = [{"id": i} for i in range(7)]
    for _ in range(2):
        loader, client = mock_loader(handler, target(batch=True, batch_size=3))
        assert run_load(loader, client, records).loaded == 7
    bodies = [json.loads(r.content) for r in seen[:3]]
    assert sorted(len(b) for b in bodies) == [1, 3, 3]
    first = sorted(r.headers["Idempotency-Key"] for r in seen[:3])
    second = sorted(r.headers["Idempotency-Key"] for r in seen[3:])
    assert first == second and len(set(first)) == 3


def test_requests_in_flight_stay_within_the_bound() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return httpx.Response(201)

    loader, client = mock_loader(handler, target(), concurrency=3)
    assert run_load(loader, client, [{"id": i} for i in range(30)]).loaded == 30
    assert peak == 3


def test_a_refused_record_is_not_retried_and_its_reason_masks_credentials() -> None:
    secret = "tok-" + "9" * 20
    calls = Counter[str]()

    def handler(request: httpx.Request) -> httpx.Response:
        calls[request.headers["Idempotency-Key"]] += 1
        echoed = {
            "error": "bad",
            "headers": {"Authorization": f"Bearer {secret}"},
            "pad": "x" * 500,
        }
        return httpx.Response(422, json=echoed)

    loader, client = mock_loader(handler, target())
    loader.redactor = Redactor({secret})
    result = run_load(loader, client, [{"id": 1}])
    assert result.loaded == 0 and len(result.failed) == 1
    failure = result.failed[0]
    assert failure.status == 422
    assert (
        secret not in failure.reason
        and "Bearer" not in failure.reason.split("Authorization")[1][:12]
    )
    assert len(failure.reason) <= 200
    assert list(calls.values()) == [1]


def lane_clients(apis: FaultyApis, lane: str) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    """Source and target clients: httpx's own transport with the token as a header, or
    AiohttpTransport (the fast lane) with the token as the client's auth."""
    timeout = httpx.Timeout(2, read=0.4)
    if lane == "httpx":
        headers = {"Authorization": f"Bearer {apis.token}"}
        return (
            httpx.AsyncClient(base_url=apis.source_url, timeout=timeout),
            httpx.AsyncClient(base_url=apis.target_url, timeout=timeout, headers=headers),
        )
    auth = BearerAuth(BearerAuthConfig(type="bearer", token=SecretStr(apis.token)))
    return (
        ApiClient(base_url=apis.source_url, timeout=timeout, transport=AiohttpTransport()),
        ApiClient(
            base_url=apis.target_url, timeout=timeout, auth=auth, transport=AiohttpTransport()
        ),
    )


async def _move_everything(
    apis: FaultyApis, *, batch: bool, sleeps: Sleeps, lane: str
) -> LoadResult:
    retry = RetryConfig(max_attempts=6, backoff_factor=0.01, max_retry_after=5)
    policy = RetryPolicy(retry, sleep=sleeps, deadline=60)
    source = EndpointConfig.model_validate(
        {
            "path": "/items",
            "params": {"per_page": 10},
            "pagination": {
                "type": "page_number",
                "data_path": "data",
                "has_more_path": "meta.more",
            },
        }
    )
    result = LoadResult()
    source_client, tc = lane_clients(apis, lane)
    async with source_client, tc:
        reader = PageReader(source_client, "items", source, policy)
        loader = Loader(
            tc, "items", target(batch=batch, batch_size=4), policy, scope="f", concurrency=4
        )
        while chunk := await reader.next_chunk(20):
            part = await loader.load(chunk)
            result.loaded += part.loaded
            result.failed += part.failed
    return result


@pytest.mark.parametrize("lane", ["httpx", "fast"])
@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_every_record_arrives_once_through_injected_faults(
    faulty_apis: Callable[..., FaultyApis], batch: bool, lane: str
) -> None:
    records = items(60)
    apis = faulty_apis(
        records,
        source_plan=FaultPlan(seed=11, rate=0.3),
        target_plan=FaultPlan(seed=12, rate=0.4),
    )
    sleeps = Sleeps()
    result = asyncio.run(_move_everything(apis, batch=batch, sleeps=sleeps, lane=lane))

    assert result.failed == []
    assert result.loaded == 60
    stored = Counter(r["id"] for r in apis.target.records)
    assert stored == Counter(range(1, 61))  # every record, exactly once
    assert apis.target.duplicates > 0  # a resend happened and the key absorbed it
    injected = apis.source_plan.injected + apis.target.plan.injected
    assert set(injected) == {"429", "503", "drop", "slow"}
    assert 2.0 in sleeps.waits  # the 429's Retry-After: 2 was honoured


def test_a_refused_record_on_the_fast_lane_is_reported_with_the_token_masked(
    faulty_apis: Callable[..., FaultyApis],
) -> None:
    apis = faulty_apis(items(3, reject={2}))

    async def go() -> tuple[LoadResult, list[httpx.Request]]:
        _, client = lane_clients(apis, "fast")
        async with client:
            through_client = watch_client_sends(client)
            loader = Loader(
                client,
                "items",
                target(),
                RetryPolicy(RetryConfig(max_attempts=3), sleep=Sleeps()),
                scope="f",
                concurrency=2,
                redactor=Redactor({apis.token}),
            )
            return await loader.load(apis.records), through_client

    result, through_client = asyncio.run(go())
    assert through_client == []  # every request took the fast lane
    assert result.loaded == 2
    [failure] = result.failed
    assert failure.record["name"] == "REJECT 2" and failure.status == 422
    assert failure.reason.startswith("422 Unprocessable")
    assert apis.token not in failure.reason
    keys = {key for key, _ in apis.target.stored.items()}
    assert failure.idempotency_key not in keys and len(keys) == 2


def _recording(status_of: Callable[[dict[str, Any]], int]) -> tuple[list[Any], Callable]:
    received: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        received.append(body)
        first = body[0] if isinstance(body, list) else body
        return httpx.Response(status_of(first), json={"ok": True})

    return received, handler


def test_a_record_that_cannot_be_encoded_fails_alone_and_names_the_field() -> None:
    received, handler = _recording(lambda _: 201)
    loader, client = mock_loader(handler, target())
    records = [{"id": i, "price": 1.5} for i in range(10)]
    records[4]["price"] = float("nan")
    result = run_load(loader, client, records)
    assert result.loaded == 9
    assert [f.record["id"] for f in result.failed] == [4]
    assert "`price` is nan" in result.failed[0].reason
    assert result.failed[0].status is None
    assert sorted(r["id"] for r in received) == [0, 1, 2, 3, 5, 6, 7, 8, 9]


@pytest.mark.parametrize(
    ("value", "said"),
    [(float("inf"), "`price` is inf"), ({1, 2}, "`price` is a set")],
)
def test_in_a_batch_the_bad_record_is_set_aside_and_the_rest_sent(value: Any, said: str) -> None:
    received, handler = _recording(lambda _: 201)
    loader, client = mock_loader(handler, target(batch=True, batch_size=4))
    records = [{"id": i, "price": 1.5} for i in range(8)]
    records[2]["price"] = value
    result = run_load(loader, client, records)
    assert result.loaded == 7
    assert [f.record["id"] for f in result.failed] == [2]
    assert said in result.failed[0].reason
    assert [[r["id"] for r in batch] for batch in received] == [[0, 1, 3], [4, 5, 6, 7]]
    # the key of a request is the key of what it carried, as a rerun or a replay computes it
    assert loader.request_key(records[:4]) == loader.request_key([records[i] for i in (0, 1, 3)])


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_stop_the_load_instead_of_failing_records(status: int) -> None:
    received, handler = _recording(lambda record: status if record["id"] >= 3 else 201)
    loader, client = mock_loader(handler, target(), concurrency=1)
    with pytest.raises(CredentialsRefused) as caught:
        run_load(loader, client, [{"id": i} for i in range(10)])
    error = caught.value
    assert error.status == status and error.endpoint == "items"
    assert f"answered {status}" in str(error) and "`items`" in str(error)
    assert "\n" not in str(error)
    assert len(received) == 4  # nothing after the refusal was sent


class RenewingAuth(httpx.Auth):
    """Stands for an OAuth flow: it raises AuthError when a resend after renewal gets 401."""

    def auth_flow(self, request: httpx.Request) -> Any:
        response = yield request
        if response.status_code == 401:
            response = yield request  # "renewed"
            if response.status_code == 401:
                raise AuthError(f"{request.url} answered 401 again after the token was renewed")


def test_a_401_that_survives_the_token_renewal_stops_the_load() -> None:
    received, handler = _recording(lambda _: 401)
    client = httpx.AsyncClient(
        base_url="http://t.test", transport=httpx.MockTransport(handler), auth=RenewingAuth()
    )
    policy = RetryPolicy(RetryConfig(), sleep=Sleeps())
    loader = Loader(client, "items", target(), policy, scope="s", concurrency=1)
    with pytest.raises(CredentialsRefused, match="401 again after the token was renewed"):
        run_load(loader, client, [{"id": i} for i in range(5)])
    assert len(received) == 2  # the first record, sent twice (once renewed); no other


class Clocked:
    """A monotonic clock that only its sleep moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def budget_loader(handler: Callable[[httpx.Request], Any], **retry: Any) -> tuple[Loader, Any]:
    client = httpx.AsyncClient(base_url="http://t.test", transport=httpx.MockTransport(handler))
    time = Clocked()
    policy = RetryPolicy(
        RetryConfig.model_validate(retry), deadline=30, sleep=time.sleep, clock=time.clock
    )
    return Loader(client, "items", target(), policy, scope="s", concurrency=1), client


def test_a_target_down_for_a_whole_deadline_stops_the_load() -> None:
    received, handler = _recording(lambda record: 503 if record["id"] >= 2 else 201)
    loader, client = budget_loader(handler)
    with pytest.raises(TargetUnavailable, match="503 Service Unavailable; still failing after"):
        run_load(loader, client, [{"id": i} for i in range(5)])
    assert {r["id"] for r in received} == {0, 1, 2}  # the third record's tries, and no further


def test_an_unreachable_target_for_a_whole_deadline_stops_the_load() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    loader, client = budget_loader(handler)
    with pytest.raises(TargetUnavailable, match="ConnectError"):
        run_load(loader, client, [{"id": i} for i in range(5)])


def test_with_max_attempts_set_a_request_that_runs_out_fails_its_records() -> None:
    received, handler = _recording(lambda record: 503 if record["id"] == 2 else 201)
    loader, client = budget_loader(handler, max_attempts=2)
    result = run_load(loader, client, [{"id": i} for i in range(5)])
    assert [r["id"] for r in received] == [0, 1, 2, 2, 3, 4]
    assert result.loaded == 4
    assert [(f.record["id"], f.status) for f in result.failed] == [(2, 503)]
