"""Sync state in Prefect Variables, against a real Prefect server."""

from __future__ import annotations

import httpx
import pytest
from prefect.variables import Variable

from apilink.config import build_config
from apilink.errors import StateError
from apilink.storage.state import FileStateStore
from tasks.checkpoint import (
    STORE_ENV,
    PrefectVariableStateStore,
    choose_state_store,
    close_state_store,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_state_is_created_then_replaced_and_read_back() -> None:
    store = PrefectVariableStateStore()
    try:
        assert store.load("orders") is None
        store.save("orders", {"mappings": {"a": {"chunks": 1}}})
        store.save("orders", {"mappings": {"a": {"chunks": 2}}})
        assert store.load("orders") == {"mappings": {"a": {"chunks": 2}}}
        variable = Variable.get(store.name("orders"), _sync=True)  # type: ignore[call-overload]
        assert variable == {"mappings": {"a": {"chunks": 2}}}
        store.delete("orders")
        assert store.load("orders") is None
        store.delete("orders")  # absent: no error
    finally:
        close_state_store(store)


def test_saves_share_one_client_until_closed() -> None:
    store = PrefectVariableStateStore()
    store.save("shared", {"n": 1})
    first = store._api()
    store.save("shared", {"n": 2})
    assert store._api() is first
    store.close()
    store.save("shared", {"n": 3})  # a save after close opens another client
    assert store._api() is not first
    assert store.load("shared") == {"n": 3}
    store.close()


def test_a_state_too_large_for_a_variable_is_refused_clearly() -> None:
    store = PrefectVariableStateStore()
    with pytest.raises(StateError, match="cannot save the state of sync 'big'"):
        store.save("big", {"blob": "x" * 6000})
    assert store.load("big") is None


def _answer(status: int) -> httpx.Response:
    request = httpx.Request("PATCH", "http://127.0.0.1/api/variables/name/x")
    return httpx.Response(status, request=request)


def test_a_busy_server_is_asked_again_after_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    store = PrefectVariableStateStore(busy_waits=(0.001, 0.001, 0.001))
    real = store._send
    answers = [_answer(503), _answer(503)]

    def busy_then_real(method: str, path: str, body: dict[str, object]) -> httpx.Response:
        return answers.pop() if answers else real(method, path, body)

    monkeypatch.setattr(store, "_send", busy_then_real)
    store.save("busy", {"n": 1})
    store.save("busy", {"n": 2})
    assert not answers
    assert store.load("busy") == {"n": 2}
    store.close()


@pytest.mark.parametrize("status", [503, 500, 403])
def test_a_refused_write_names_the_variable_and_status(
    monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    store = PrefectVariableStateStore(busy_waits=(0.001,))
    attempts: list[str] = []

    def refuse(method: str, path: str, body: dict[str, object]) -> httpx.Response:
        attempts.append(method)
        return _answer(status)

    monkeypatch.setattr(store, "_send", refuse)
    with pytest.raises(StateError, match=rf"Prefect Variable 'apilink-state-down'.*{status}"):
        store.save("down", {"n": 1})
    # A busy answer is tried again; a refusal is not.
    assert attempts == (["PATCH", "PATCH"] if status == 503 else ["PATCH"])
    store.close()


def test_an_unreachable_server_is_a_state_error(monkeypatch: pytest.MonkeyPatch) -> None:
    store = PrefectVariableStateStore(busy_waits=(0.001,))

    def unreachable(method: str, path: str, body: dict[str, object]) -> httpx.Response:
        raise httpx.ConnectError("refused")

    monkeypatch.setattr(store, "_send", unreachable)
    with pytest.raises(StateError, match="ConnectError"):
        store.save("down", {"n": 1})


def test_the_file_store_is_chosen_when_asked() -> None:
    config = build_config(
        {
            "name": "x",
            "source": {"base_url": "http://127.0.0.1:1", "endpoints": {"a": {"path": "/a"}}},
            "target": {"base_url": "http://127.0.0.1:1", "endpoints": {"b": {"path": "/b"}}},
            "mapping": [{"source": "a", "target": "b"}],
        }
    )
    chosen = choose_state_store(config, {STORE_ENV: "file"})
    assert isinstance(chosen, FileStateStore)
    close_state_store(chosen)  # nothing to release
    assert isinstance(choose_state_store(config, {STORE_ENV: "prefect"}), PrefectVariableStateStore)


def test_a_server_that_does_not_answer_fails_the_save_clearly_and_then_at_once() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from apilink.demo import free_port
    from tasks.checkpoint import UNANSWERED

    store = PrefectVariableStateStore(gone_waits=(0.001,))
    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        try:
            with pytest.raises(StateError, match=UNANSWERED):
                store.save("gone", {"n": 1})
            assert store.unreachable
            store.gone_waits = (30.0,)  # a second save is not tried again: no wait at all
            with pytest.raises(StateError, match=UNANSWERED):
                store.save("gone", {"n": 2})
        finally:
            close_state_store(store)
