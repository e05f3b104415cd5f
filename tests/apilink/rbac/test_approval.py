"""Seals made with the worker key: what each is bound to."""

from __future__ import annotations

from pathlib import Path

import pytest

from apilink.errors import ProofRejected
from apilink.rbac.approval import (
    approve_config,
    config_digest,
    consume_ticket,
    issue_child_proof,
    issue_ticket,
    open_seal,
    parameters_digest,
    seal,
    verify_approval,
    verify_child_proof,
    verify_ticket,
)

KEY = b"k" * 32


def test_digest_ignores_key_order_and_unset_parameters() -> None:
    assert config_digest({"a": 1, "b": {"c": 2}}) == config_digest({"b": {"c": 2}, "a": 1})
    assert parameters_digest({"dry_run": False, "x": None, "c": 1}) == parameters_digest({"c": 1})


def test_a_seal_cannot_be_changed_or_repurposed() -> None:
    token = seal(KEY, "a", {"n": 1})
    assert open_seal(KEY, "a", token) == {"n": 1}
    with pytest.raises(ProofRejected, match="does not verify"):
        open_seal(KEY, "b", token)
    with pytest.raises(ProofRejected, match="does not verify"):
        open_seal(b"o" * 32, "a", token)
    prefix, body, mac = token.split(".")
    with pytest.raises(ProofRejected):
        open_seal(KEY, "a", f"{prefix}.{body}x.{mac}")
    with pytest.raises(ProofRejected, match="expired"):
        open_seal(KEY, "a", seal(KEY, "a", {"exp": 10}), now=11)


def test_block_approval_breaks_on_any_edit() -> None:
    raw = {"name": "x", "source": {"base_url": "https://a"}}
    approval = approve_config(KEY, raw, "dev1")
    assert verify_approval(KEY, raw, approval, block="b") == "dev1"
    with pytest.raises(ProofRejected, match="edited outside apilink: re-approve it"):
        verify_approval(KEY, {**raw, "name": "y"}, approval, block="b")


def test_child_proof_is_bound_to_parent_partition_and_config() -> None:
    proof = issue_child_proof(
        KEY, parent_run="p1", partition="a", digest="d", principal="u", trusted=False
    )
    assert (
        verify_child_proof(KEY, proof, parent_run="p1", partition="a", digest="d")["principal"]
        == "u"
    )
    for change in ({"parent_run": "p2"}, {"partition": "b"}, {"digest": "e"}):
        given = {"parent_run": "p1", "partition": "a", "digest": "d", **change}
        with pytest.raises(ProofRejected, match="another"):
            verify_child_proof(KEY, proof, **given)  # type: ignore[arg-type]


def test_ticket_is_bound_and_single_use(tmp_path: Path) -> None:
    ticket = issue_ticket(KEY, deployment="f/d", parameters={"c": 1}, principal="u")
    claims = verify_ticket(KEY, ticket, deployment="f/d", parameters={"c": 1, "ticket": ticket})
    consume_ticket(claims, tmp_path)
    with pytest.raises(ProofRejected, match="already used"):
        consume_ticket(claims, tmp_path)
    with pytest.raises(ProofRejected, match="not 'f/e'"):
        verify_ticket(KEY, ticket, deployment="f/e", parameters={"c": 1})
