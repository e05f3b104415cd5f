"""Response bodies read within a byte limit counted after decompression.

A compressed body is inflated here, a bounded step at a time (``zlib`` with ``max_length``), so
a 400 KiB gzip answer that would inflate to 400 MiB is refused once the decoded bytes pass the
limit, having held at most the limit plus one step in memory. httpx (and urllib3) would inflate
each wire chunk whole, up to a thousand times its size, before anyone could count it.

:class:`BoundedDecoder` does the decoding and counting; :func:`bounded_response` puts it under
an ``httpx.Response`` (the body then streams decoded, its ``Content-Encoding`` removed, so
httpx does not decode it again). The HTTP client builders of :mod:`apilink.http.clients` put it
under every response: API pages, token endpoints, logins and Vault.

Trusted: nobody on the other end. A server (or anyone between it and us) decides the size,
the encoding and the pace of a body; the limit and the deadline are the operator's.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpx

from apilink.errors import BodyOverLimit, SlowBody

__all__ = [
    "DECODE_STEP",
    "SUPPORTED_ENCODINGS",
    "BoundedDecoder",
    "bounded_response",
]

DECODE_STEP = 64 * 1024
"""At most this many decoded bytes come out of one inflate step."""

SUPPORTED_ENCODINGS = ("gzip", "deflate")
"""What ``Accept-Encoding`` offers: the encodings :class:`BoundedDecoder` inflates."""

# A body kept decoded no longer matches the headers that described it on the wire.
_WIRE_HEADERS = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


class BoundedDecoder:
    """Decodes one body's ``Content-Encoding`` step by step and counts the decoded bytes.

    Args:
        encoding: the ``Content-Encoding`` header (``""``/``identity``: none).
        limit: decoded bytes allowed (``None``: no limit).
        deadline: a ``time.monotonic()`` reading after which no more is read (``None``: none).

    Raises:
        httpx.DecodingError: an encoding other than gzip and deflate, or a corrupt stream.
    """

    def __init__(self, encoding: str, limit: int | None, *, deadline: float | None = None) -> None:
        self.limit = limit
        self.deadline = deadline
        self.count = 0
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in SUPPORTED_ENCODINGS):
            raise httpx.DecodingError(
                f"unsupported Content-Encoding {encoding!r}; accepted: "
                + ", ".join(SUPPORTED_ENCODINGS)
            )
        self._zlib: Any = None  # a zlib decompressor, for gzip and deflate
        self._deflate = bool(codings) and codings[0] == "deflate"
        self._first = True
        if codings:
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS if not self._deflate else 0)

    def declared(self, content_length: str | None) -> None:
        """Refuse at once a plain body that declares more than the limit."""
        if self._zlib is not None or self.limit is None or not content_length:
            return
        if content_length.isdigit() and int(content_length) > self.limit:
            raise BodyOverLimit(f"declares {content_length} bytes", self.limit)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of one wire chunk, in steps of at most :data:`DECODE_STEP`."""
        self._check_time()
        if self._zlib is None:
            yield self._count(data)
            return
        if self._deflate and self._first and data:
            self._first = False
            # "deflate" is zlib-wrapped by the RFC, raw in the wild; take either (as httpx).
            if data[0] & 0x0F != 8:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        pending = data
        while True:
            try:
                out = self._zlib.decompress(pending, DECODE_STEP)
            except zlib.error as exc:
                raise httpx.DecodingError(f"the response body is corrupt: {exc}") from None
            if out:
                yield self._count(out)
            pending = self._zlib.unconsumed_tail
            if not pending:
                return

    def feed_whole(self, decoded: bytes) -> bytes:
        """Count a body that was decoded already (the encoding is not applied again)."""
        self._check_time()
        return self._count(decoded)

    def flush(self) -> bytes:
        """What is left once the wire is done."""
        if self._zlib is None:
            return b""
        try:
            return self._count(self._zlib.flush())
        except zlib.error as exc:
            raise httpx.DecodingError(f"the response body is corrupt: {exc}") from None

    def _count(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.limit is not None and self.count > self.limit:
            raise BodyOverLimit("is longer", self.limit)
        return data

    def _check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SlowBody("the response body was still arriving when the deadline passed")


class _DecodedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A wire stream (sync or async) read through a :class:`BoundedDecoder`."""

    def __init__(
        self, raw: httpx.SyncByteStream | httpx.AsyncByteStream, decoder: BoundedDecoder
    ) -> None:
        self._raw = raw
        self._decoder = decoder

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._raw, Iterable)
        for chunk in self._raw:
            yield from self._decoder.feed(chunk)
        if tail := self._decoder.flush():
            yield tail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._raw, httpx.AsyncByteStream)
        async for chunk in self._raw:
            for part in self._decoder.feed(chunk):
                yield part
        if tail := self._decoder.flush():
            yield tail

    def close(self) -> None:
        if isinstance(self._raw, httpx.SyncByteStream):
            self._raw.close()

    async def aclose(self) -> None:
        if isinstance(self._raw, httpx.AsyncByteStream):
            await self._raw.aclose()


def bounded_response(
    response: httpx.Response,
    limit: int | None,
    *,
    request: httpx.Request,
    deadline: float | None = None,
) -> httpx.Response:
    """``response`` (as a transport returns it, unread) with its body decoded within ``limit``.

    The body streams decoded; for an encoded body ``Content-Encoding`` and the wire's
    ``Content-Length`` are dropped so httpx does not decode or check it again.

    Raises:
        BodyOverLimit: the body declares more than ``limit`` (reading raises it too, once the
            decoded bytes pass ``limit``).
        httpx.DecodingError: an encoding that cannot be decoded within a limit.
    """
    decoder = BoundedDecoder(response.headers.get("content-encoding", ""), limit, deadline=deadline)
    decoder.declared(response.headers.get("content-length"))
    raw = response.stream
    assert isinstance(raw, httpx.SyncByteStream | httpx.AsyncByteStream)
    encoded = "content-encoding" in response.headers
    return httpx.Response(
        response.status_code,
        headers=[
            (k, v) for k, v in response.headers.raw if not (encoded and k.lower() in _WIRE_HEADERS)
        ],
        stream=_DecodedStream(raw, decoder),
        request=request,
        extensions=response.extensions,
    )
