"""Plan and apply (``mode: upsert`` and ``mode: mirror``): send the target only what changed.

Each valid mapped record has a key (the mapping's ``key`` field, as canonical JSON) and a
digest of its mapped form (BLAKE2b over canonical JSON, so key order never matters). Compared
with what the :class:`~apilink.storage.delivered.base.DeliveredStore` says the target last
acknowledged for that key, a record is *created* (unknown key), *updated* (another digest) or
*unchanged*. A mirror also *deletes* the held keys a complete read of the source did not see.

With ``reconcile``, what the target holds is read first through that target endpoint and
replaces what the store knew: the way to start from a target that already has data, or to
repair drift. The target's records are digested over the mapping's target fields only, so
fields the target adds (an ``id``, timestamps) do not count as changes.

Safety, in one place:

- Nothing is recorded as delivered before the target acknowledged it. Keys are marked *in
  doubt* before they are sent, so after a crash a create whose fate is unknown is sent as an
  update first (a 404 sends it as a create), and a delete answered 404 counts as done: the
  rerun re-plans, and the target ends as the source says.
- Deletes need a complete read (the pipeline asks only then), and a plan that would delete more
  than ``max_delete_ratio`` of the held keys is refused unless the run allows it.
- Duplicate keys in one run: the first record is kept, the later ones are quarantined with a
  reason that names the key.

Memory stays flat: a chunk's keys at a time; the seen keys and the deletions live in the store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from apilink.config.models import MappingConfig
from apilink.errors import MassDeleteRefused
from apilink.mapping.paths import MISSING, get_path, parse_path, set_path
from apilink.storage.delivered.base import DeliveredStore
from apilink.validation import Quarantined

__all__ = [
    "ACTIONS",
    "ChunkPlan",
    "Planner",
    "record_digest",
]

Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")
"""What a plan does to the target, in the order every plan shows them."""

SAMPLE_SIZE = 5
"""Example keys a plan keeps per action."""

# Canonical JSON (sorted keys, no spaces), as the loader's idempotency keys use it.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode


def record_digest(record: dict[str, Any], fields: tuple[str, ...] | None = None) -> bytes:
    """The digest of a mapped record (of its ``fields`` only, when given): stable under key
    order, and 16 bytes, so a million keys stay small."""
    if fields is not None:
        record = {name: record[name] for name in fields if name in record}
    return hashlib.blake2b(_canonical(record).encode(), digest_size=16).digest()


@dataclass
class ChunkPlan:
    """What one chunk's mapped records do to the target.

    Attributes:
        creates: records with a key the target does not hold.
        updates: records whose mapped form changed since the target acknowledged it.
        in_doubt: records whose earlier create was not acknowledged (sent as updates first).
        unchanged: records the target already holds as they are.
        duplicates: records whose key an earlier record of the run had, or that have none
            (quarantined).
        reasons: why, one line per duplicate without the key's value (the run's counts).
        digests: each planned record's key and digest, by the record's identity.
    """

    creates: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    in_doubt: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    duplicates: list[Quarantined] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    digests: dict[int, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def to_send(self) -> list[dict[str, Any]]:
        return [*self.creates, *self.in_doubt, *self.updates]

    def key(self, record: dict[str, Any]) -> str:
        return self.digests[id(record)][0]


class Planner:
    """Plans one mapping's records against the store, chunk by chunk, for one run.

    Args:
        store: what the target was last acknowledged to hold.
        scope: the mapping's rows in the store (the sync, its partition, the mapping).
        rule: the mapping (``mode``, ``key``, ``max_delete_ratio``, its target fields).
        run: this run's token (the seen keys are kept under it).
        applying: ``False`` for ``--plan``: the store is only read.
    """

    def __init__(
        self,
        store: DeliveredStore,
        scope: str,
        rule: MappingConfig,
        run: str,
        *,
        applying: bool = True,
    ) -> None:
        if rule.key is None:
            raise ValueError(f"mapping {rule.source} -> {rule.target} has no key")
        self.store = store
        self.rule = rule
        self.run = run
        self.applying = applying
        # A plan compares against a scratch copy when it reconciles, so it changes nothing.
        self.home = scope
        self.scope = scope
        self.key_path = parse_path(rule.key)
        self.fields = _target_fields(rule)
        self.samples: dict[Action, list[Any]] = {action: [] for action in ACTIONS}
        self.duplicate_keys: list[Any] = []
        self.duplicates = 0
        self.held_before = 0

    async def start(self) -> None:
        """Before the first chunk: what the target holds (for ``max_delete_ratio``)."""
        self.held_before = await self.store.held(self.scope)

    async def reconcile(self, holdings: AsyncIterator[list[dict[str, Any]]]) -> int:
        """Replace what the store knows with what the target holds (``holdings``: pages of the
        reconcile endpoint's records). Returns how many keyed records the target holds."""
        if not self.applying:
            self.scope = f"{self.home}#plan:{self.run}"
        await self.store.clear(self.scope)
        count = 0
        async for page in holdings:
            pairs = []
            for record in page:
                value = get_path(record, self.key_path)
                if value is MISSING or value is None:
                    continue
                pairs.append((_key_text(value), record_digest(record, self.fields)))
            await self.store.record(self.scope, pairs)
            count += len(pairs)
        self.held_before = await self.store.held(self.scope)
        return count

    async def plan(self, mapped: list[dict[str, Any]]) -> ChunkPlan:
        """Sort a chunk's mapped records into creates, updates, unchanged and duplicates."""
        plan = ChunkPlan()
        keyed: dict[str, dict[str, Any]] = {}
        name = str(self.rule.key)
        for record in mapped:
            value = get_path(record, self.key_path)
            if value is MISSING or value is None:
                missing = f"no `{name}`: the mapping's key identifies records"
                plan.duplicates.append(Quarantined(record, (missing,)))
                plan.reasons.append(missing)
                continue
            key = _key_text(value)
            if key in keyed:
                self._duplicate(plan, record, name, value)
                continue
            keyed[key] = record
        again = await self.store.see(self.scope, self.run, list(keyed))
        for key in again:
            record = keyed.pop(key)
            self._duplicate(plan, record, name, get_path(record, self.key_path))
        held = await self.store.lookup(self.scope, list(keyed))
        for key, record in keyed.items():
            digest = record_digest(record, self.fields)
            plan.digests[id(record)] = (key, digest)
            known = held.get(key)
            if known is None or (known.digest is None and not known.in_doubt):
                plan.creates.append(record)
                self._sample("create", key)
            elif known.digest is None:
                plan.in_doubt.append(record)  # a create a crash left unacknowledged
                self._sample("create", key)
            elif known.digest != digest:
                plan.updates.append(record)
                self._sample("update", key)
            else:
                plan.unchanged += 1
        return plan

    async def intend(self, plan: ChunkPlan) -> None:
        """Before sending: the planned keys are in doubt until the target acknowledges them."""
        await self.store.intend(self.scope, [plan.key(r) for r in plan.to_send])

    async def acknowledge(
        self, plan: ChunkPlan, refused: list[dict[str, Any]], unanswered: list[dict[str, Any]]
    ) -> None:
        """After sending: every planned record but the ``refused`` (answered with a failure)
        and ``unanswered`` ones (no answer: still in doubt) was acknowledged."""
        failed = {id(r) for r in refused} | {id(r) for r in unanswered}
        delivered = [plan.digests[id(r)] for r in plan.to_send if id(r) not in failed]
        await self.store.record(self.scope, delivered, [plan.key(r) for r in refused])

    async def deletions(self, size: int) -> AsyncIterator[list[str]]:
        """The held keys this run's complete read did not see, ``size`` at a time."""
        after: str | None = None
        while True:
            page = await self.store.unseen(self.scope, self.run, after, size)
            if not page:
                return
            yield page
            after = page[-1]

    async def count_deletions(self) -> int:
        """How many keys a mirror would delete (read in pages: no whole-run set in memory)."""
        count = 0
        async for page in self.deletions(10_000):
            count += len(page)
            for key in page[: SAMPLE_SIZE - len(self.samples["delete"])]:
                self._sample("delete", key)
        return count

    def check_delete_ratio(self, deletes: int, *, allowed: bool) -> None:
        """Refuse a mirror's deletes above ``max_delete_ratio`` of the held keys (unless
        ``allowed``).

        Raises:
            MassDeleteRefused: naming the counts and how to go on.
        """
        ratio = self.rule.max_delete_ratio
        if allowed or deletes == 0 or deletes <= ratio * self.held_before:
            return
        share = deletes / self.held_before if self.held_before else 1.0
        raise MassDeleteRefused(
            f"mirror {self.rule.source} -> {self.rule.target}: the plan deletes {deletes} of "
            f"the {self.held_before} records the target holds ({share:.1%}), more than "
            f"max_delete_ratio {ratio:g} ({ratio:.0%}); nothing was deleted. Check that the "
            "source read is what you expect, then raise `max_delete_ratio` or rerun with "
            "--allow-mass-delete (api_sync allow_mass_delete=True)"
        )

    def delete_record(self, key: str) -> dict[str, Any]:
        """The record a delete request is built from: the key field alone."""
        record: dict[str, Any] = {}
        set_path(record, self.key_path, json.loads(key))
        return record

    async def forget(self, records: list[dict[str, Any]]) -> None:
        """The target acknowledged deleting ``records``."""
        keys = [_key_text(get_path(r, self.key_path)) for r in records]
        await self.store.forget(self.scope, keys)

    async def end(self) -> None:
        """Whatever happened: forget what this run saw (and a plan's scratch copy)."""
        await self.store.end_run(self.scope, self.run)
        if self.scope != self.home:
            await self.store.clear(self.scope)

    def _sample(self, action: Action, key: str) -> None:
        shown = self.samples[action]
        if len(shown) < SAMPLE_SIZE:
            shown.append(json.loads(key))

    def _duplicate(self, plan: ChunkPlan, record: dict[str, Any], name: str, value: Any) -> None:
        self.duplicates += 1
        if len(self.duplicate_keys) < SAMPLE_SIZE:
            self.duplicate_keys.append(value)
        why = f"duplicate key `{name}` {value!r}: an earlier record of this run has it"
        plan.duplicates.append(Quarantined(record, (why,)))
        plan.reasons.append(f"duplicate key `{name}`")


def _key_text(value: Any) -> str:
    """A key as the store holds it: canonical JSON, so ``1`` and ``"1"`` stay apart."""
    return str(_canonical(value))


def _target_fields(rule: MappingConfig) -> tuple[str, ...] | None:
    """The top-level target fields the mapping writes (``None``: it passes records whole)."""
    names: dict[str, None] = {}
    for each in rule.fields:
        first = parse_path(each.target)[0]
        names[str(first)] = None
    return tuple(names) if names else None
