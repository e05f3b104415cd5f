"""Write mapped records to a target endpoint: POST, PUT or PATCH, one record or a batch per
request, a bounded number of requests in flight.

Every request carries an ``Idempotency-Key`` derived from its records, so sending it again (a
retry, a rerun after a crash, a dead-letter replay) is harmless at a target that honours the
header. The key is a hash of the sync, the endpoint and the record's content, or of the record's
natural key (``idempotency_key: id`` on the endpoint) when the target identifies records by it.
A batch's key is a hash of the sync, the endpoint and the batch's body as sent (encoded once,
for the key and the request alike), or of its records' natural keys, so the same records in the
same order always form the same key.

A single-record endpoint's path may name record fields (``/profiles/{external_id}``), which is
how PUT and PATCH usually address a record.

A record that cannot be encoded as JSON (NaN, Infinity, a value JSON has no form for) fails
alone, with the reason naming the field: it is set aside and the rest of its batch is sent.

A target that refuses the run's credentials (a 401 that the auth's token refresh did not cure,
a 403, a token that cannot be had, a refused client certificate) raises
:class:`~apilink.errors.CredentialsRefused` instead of failing the record: every further record
would fail the same way, so the run stops, and what was not acknowledged is sent by a rerun
rather than dead-lettered one by one. So does a target
that failed transiently (429, 5xx, unreachable) for a request's whole retry budget
(:class:`~apilink.errors.TargetUnavailable`): a target that is down costs one deadline, not one
per record. With ``retry.max_attempts`` set, a request whose attempts run out fails its records
(dead-lettered) instead. Who is trusted: the target is not (its refusal only stops the run; its
body is never shown in the error).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import string
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from apilink.config.models import EndpointConfig
from apilink.errors import (
    ApilinkError,
    AuthError,
    ConfigError,
    CredentialsRefused,
    HTTPStatusError,
    TargetUnavailable,
    TLSRefused,
    TransportError,
)
from apilink.http.protection import RequestProtection
from apilink.http.sending import (
    DeadlineExceeded,
    RetryPolicy,
    raise_for_status,
    resolve_url,
    send_with_retry,
)
from apilink.mapping.paths import MISSING, get_path
from apilink.redaction import Redactor
from apilink.run.encoding import encode_records

if TYPE_CHECKING:
    from apilink.storage.state.acknowledgement import ChunkDeliveries

__all__ = [
    "STOPS_THE_RUN",
    "DeliveryFailure",
    "LoadResult",
    "Loader",
    "RunStopper",
    "batch_key",
    "idempotency_key",
]

STOPS_THE_RUN = (CredentialsRefused, TargetUnavailable)
"""What :meth:`Loader.send` raises instead of failing records: every further record would
fail alike, so the run stops and a rerun sends what was not acknowledged."""
RunStopper = CredentialsRefused | TargetUnavailable

_REASON_LIMIT = 200
# Statuses that say the credentials, not the record, are refused: the run stops.
_REFUSED_CREDENTIALS = frozenset({401, 403})


@dataclass(frozen=True)
class DeliveryFailure:
    """A record the target did not accept.

    Attributes:
        record: the mapped record.
        status: the last HTTP status, ``None`` when no answer came.
        reason: why, trimmed and with secrets masked.
        idempotency_key: the key the request carried (the batch's key in batch mode).
    """

    record: dict[str, Any]
    status: int | None
    reason: str
    idempotency_key: str


@dataclass
class LoadResult:
    """What one chunk's delivery did: every record is loaded or in ``failed``."""

    loaded: int = 0
    failed: list[DeliveryFailure] = field(default_factory=list)


def idempotency_key(scope: str, record: dict[str, Any], natural_key: str | None = None) -> str:
    """A stable key for ``record``: its natural key if configured, else a hash of its content.

    The scope (sync name and target endpoint) keeps keys of different syncs apart.
    """
    if natural_key is not None:
        basis: list[Any] = [scope, natural_key, get_path(record, natural_key)]
    else:
        basis = [scope, record]
    return _digest(_canonical(basis).encode())


def batch_key(keys: list[str]) -> str:
    """The key of a request carrying the records whose keys are ``keys`` (one: that key)."""
    if len(keys) == 1:
        return keys[0]
    return _digest("".join(keys).encode())


# Canonical JSON (sorted keys, no spaces) hashed with BLAKE2b: keys are computed for every
# record, and BLAKE2b is the fastest cryptographic hash in hashlib for short inputs.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


class Loader:
    """Delivers chunks of records to one target endpoint with bounded concurrency.

    Args:
        client: the target API's client.
        name: the endpoint's name in the config.
        endpoint: its config (method, path, batch, batch_size, idempotency_key).
        policy: retry policy (also the deadline and the response cap).
        scope: prefix of idempotency keys (the sync's name).
        concurrency: requests in flight at once.
        redactor: masks secrets in the reasons of failures (a default one masks auth headers
            and secret-named fields).

    Raises:
        ConfigError: a batch endpoint whose path names record fields.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        name: str,
        endpoint: EndpointConfig,
        policy: RetryPolicy,
        *,
        scope: str,
        concurrency: int,
        redactor: Redactor | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.endpoint = endpoint
        self.policy = policy
        self.scope = f"{scope}:{name}"
        self._scope_bytes = self.scope.encode() + b"\n"
        # Bodies are sent as encoded bytes, so their Content-Type is said here (unless configured).
        self._headers = dict(endpoint.headers)
        self._protection = RequestProtection.of(
            f"target.endpoints.{name}", endpoint.encrypt, endpoint.sign, headers=endpoint.headers
        )
        # A DELETE carries no body (the record only names the path), and its 404 means the
        # record is gone already: what a rerun after a crash, or a replay, finds.
        self._deleting = endpoint.method == "DELETE"
        if not self._deleting and not any(k.lower() == "content-type" for k in self._headers):
            self._headers["Content-Type"] = "application/json"
        self.redactor = redactor or Redactor()
        self.concurrency = concurrency
        # Records the target accepted so far, over every chunk (what a live progress bar reads).
        self.delivered = 0
        self._semaphore = asyncio.Semaphore(concurrency)
        self._path_fields = [f for _, f, _, _ in string.Formatter().parse(endpoint.path) if f]
        self._url = resolve_url(client, endpoint.path) if not self._path_fields else None
        if endpoint.batch and self._path_fields:
            raise ConfigError(
                f"target endpoint `{name}` sends batches, so its path cannot name record "
                f"fields ({', '.join(self._path_fields)})"
            )

    def key_of(self, record: dict[str, Any]) -> str:
        """The idempotency key of one record."""
        return idempotency_key(self.scope, record, self.endpoint.idempotency_key)

    def request_key(self, records: list[dict[str, Any]], body: bytes | None = None) -> str:
        """The idempotency key of the request carrying ``records`` (one record: its key).

        ``body`` is the batch's body when already encoded (:func:`apilink.http.sending.json_body`).
        """
        if self.endpoint.batch and self.endpoint.idempotency_key is None:
            if body is None:
                # The body as it is sent: without the records that cannot be encoded.
                _, body, _ = encode_records(records, batch=True, split=True)
            if body is not None:
                return _digest(self._scope_bytes + body)
        return batch_key([self.key_of(r) for r in records])

    def groups(self, records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """The requests ``records`` are sent in: one per record, or batches in order."""
        return list(self._requests(records))

    async def load(
        self, records: list[dict[str, Any]], deliveries: ChunkDeliveries | None = None
    ) -> LoadResult:
        """Send ``records``; every record ends up loaded or in ``failed`` (in their order).

        A fixed pool of ``concurrency`` workers takes the requests in turn, so a chunk of a
        hundred thousand records makes a few coroutines, not one per record. With
        ``deliveries``, requests an earlier run delivered are skipped (counted as loaded), and
        each accepted request is reported before its concurrency slot is given up.
        """
        result = LoadResult()
        requests = enumerate(self._requests(records))
        failed: dict[int, list[DeliveryFailure]] = {}
        step = self.endpoint.batch_size if self.endpoint.batch else 1
        if deliveries is not None:  # in flight + unsaved <= concurrency * batch_size records
            slack = 0 if self.endpoint.batch else self.endpoint.batch_size - 1
            deliveries.start(len(records), allowance=self.concurrency * slack)

        async def worker() -> None:
            # The iterator is shared: each worker takes the next request when it is free.
            for number, group in requests:
                start = number * step
                end = start + len(group)
                if deliveries is not None and deliveries.acknowledged(start, end):
                    result.loaded += len(group)
                    continue
                then = functools.partial(deliveries.delivered, start, end) if deliveries else None
                loaded, failures = await self.send(group, then=then)
                result.loaded += loaded
                self.delivered += loaded
                if failures:
                    failed[number] = failures

        count = min(self.concurrency, len(records) if records else 0)
        workers = [asyncio.ensure_future(worker()) for _ in range(count)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        for number in sorted(failed):
            result.failed.extend(failed[number])
        return result

    def _requests(self, records: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        if not self.endpoint.batch:
            return ([r] for r in records)
        size = self.endpoint.batch_size
        return (records[i : i + size] for i in range(0, len(records), size))

    async def send(
        self,
        records: list[dict[str, Any]],
        key: str | None = None,
        *,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> tuple[int, list[DeliveryFailure]]:
        """Send one request carrying ``records`` (a batch body in batch mode).

        Args:
            records: one record, or a batch.
            key: the idempotency key to send (a dead-letter replay passes the original one);
                derived from the records when ``None``.
            then: awaited once the target accepted the request, before the concurrency slot
                is given up (the within-chunk acknowledgement: in-flight requests bound what a
                crash can send again).

        Returns:
            (records loaded, failures).
        """
        if not records:
            return 0, []
        # Encoded once, for the key and the request alike; a record that cannot be is set
        # aside alone (unless the key is given: a replayed request is resent whole or not).
        records, content, unencodable = encode_records(
            records, batch=self.endpoint.batch, split=key is None
        )
        failures = [
            DeliveryFailure(r, None, _trim(f"cannot encode as JSON: {why}"), key or self.key_of(r))
            for r, why in unencodable
        ]
        if content is None:
            return 0, failures
        key = key or self.request_key(records, content if self.endpoint.batch else None)
        try:
            path = self._path(records[0])
        except LookupError as exc:
            return 0, failures + self._failed(records, None, str(exc), key)
        headers = {**self._headers, "Idempotency-Key": key}
        if self._protection is not None:
            content = self._protection.apply(
                content, headers, method=self.endpoint.method, url=self._sent_url(path)
            )
        async with self._semaphore:
            try:
                response = await send_with_retry(
                    self.client,
                    self.endpoint.method,
                    path,
                    policy=self.policy,
                    idempotent=True,
                    fast_lane=True,  # one request per record: see apilink.http.fast_lane
                    headers=headers,
                    params=self.endpoint.params or None,
                    content=None if self._deleting else content,
                )
            except (AuthError, TLSRefused) as exc:
                # A refused client certificate refuses every record alike, as a 401 does.
                raise self._refused(None, str(exc)) from None
            except (ApilinkError, httpx.HTTPError) as exc:
                if type(exc) in (TransportError, DeadlineExceeded) and self._budget_spent(None):
                    raise self._unavailable(None, str(exc)) from None
                # The request may or may not have reached the target; the key makes a replay
                # harmless either way.
                return 0, failures + self._failed(
                    records, None, f"{type(exc).__name__}: {exc}", key
                )
            accepted = response.is_success or (self._deleting and response.status_code == 404)
            if accepted and then is not None:
                await then()
        if accepted:
            return len(records), failures
        if response.status_code in _REFUSED_CREDENTIALS:
            try:
                raise_for_status(response)
            except HTTPStatusError as exc:
                raise self._refused(response.status_code, str(exc)) from None
        status = response.status_code
        if self.policy.should_retry_status(status, keyed=True) and self._budget_spent(status):
            what = f"{self.endpoint.method} answered {status} {response.reason_phrase}"
            raise self._unavailable(status, what)
        reason = f"{status} {response.reason_phrase}: {response.text}"
        return 0, failures + self._failed(records, status, reason, key)

    def _budget_spent(self, status: int | None) -> bool:
        """Whether a request that failed so was tried for its whole deadline (not a count)."""
        return self.policy.attempt_limit(status) is None

    def _unavailable(self, status: int | None, what: str) -> TargetUnavailable:
        deadline = self.policy.deadline
        return TargetUnavailable(
            _trim(
                self.redactor.text(
                    f"target endpoint `{self.name}`: {what}; still failing after the "
                    f"{deadline:g} s deadline of retries, so the run stops (records not yet "
                    "acknowledged are sent by a rerun)"
                ),
                limit=400,
            ),
            endpoint=self.name,
            status=status,
        )

    def _refused(self, status: int | None, what: str) -> CredentialsRefused:
        return CredentialsRefused(
            _trim(
                self.redactor.text(
                    f"target endpoint `{self.name}`: {what}; the target refuses the run's "
                    "credentials, so the run stops (records not yet acknowledged are sent by "
                    "a rerun)"
                ),
                limit=400,
            ),
            endpoint=self.name,
            status=status,
        )

    def _path(self, record: dict[str, Any]) -> str | httpx.URL:
        if self._url is not None:
            return self._url
        path = self.endpoint.path
        for name in self._path_fields:
            value = get_path(record, name)
            if value is MISSING or value is None:
                raise LookupError(f"the record has no `{name}` for the path of `{self.name}`")
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        return path

    def _sent_url(self, path: str | httpx.URL) -> httpx.URL:
        """The URL a request to ``path`` goes to, query included, as httpx builds it (what an
        HTTP Message Signature covers as ``@target-uri``)."""
        url = resolve_url(self.client, path)
        params = self.client.params.merge(self.endpoint.params or {})
        return url.copy_merge_params(params) if params else url

    def _failed(
        self, records: list[dict[str, Any]], status: int | None, reason: str, key: str
    ) -> list[DeliveryFailure]:
        shown = _trim(self.redactor.text(reason))
        return [DeliveryFailure(r, status, shown, key) for r in records]


def _trim(text: str, limit: int = _REASON_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
