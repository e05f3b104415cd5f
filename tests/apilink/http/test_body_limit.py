"""Bodies decoded within a limit: counted after decompression, inflated a bounded step at a
time, whatever the encoding the server picks."""

from __future__ import annotations

import gzip
import zlib

import httpx
import pytest

from apilink.errors import BodyOverLimit, SlowBody
from apilink.http.body_limit import DECODE_STEP, BoundedDecoder
from tests.servers.faulty import gzip_bomb


def decode(decoder: BoundedDecoder, wire: bytes, chunk: int = 16 * 1024) -> bytes:
    out = bytearray()
    for start in range(0, len(wire), chunk):
        for part in decoder.feed(wire[start : start + chunk]):
            assert len(part) <= DECODE_STEP
            out += part
    return bytes(out + decoder.flush())


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
        ("", lambda b: b),
        ("identity", lambda b: b),
        ("GZIP", gzip.compress),
    ],
)
def test_bodies_under_the_limit_come_back_whole(encoding: str, encode: object) -> None:
    body = b'{"access_token": "t"}' * 5000
    assert callable(encode)
    assert decode(BoundedDecoder(encoding, len(body)), encode(body)) == body


def test_a_gzip_bomb_is_refused_before_it_is_inflated() -> None:
    wire = gzip_bomb(64 * 1024 * 1024)
    decoder = BoundedDecoder("gzip", 1024 * 1024)
    with pytest.raises(BodyOverLimit, match="is longer"):
        decode(decoder, wire)
    # Never more than one step past the limit was inflated.
    assert decoder.count <= 1024 * 1024 + DECODE_STEP


def test_a_declared_length_over_the_limit_is_refused_at_once() -> None:
    with pytest.raises(BodyOverLimit, match="declares 2048 bytes"):
        BoundedDecoder("", 1024).declared("2048")
    BoundedDecoder("gzip", 1024).declared("2048")  # a compressed length says nothing


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip", "compress"])
def test_an_encoding_that_cannot_be_bounded_is_refused(encoding: str) -> None:
    with pytest.raises(httpx.DecodingError, match="accepted: gzip, deflate"):
        BoundedDecoder(encoding, 1024)


def test_a_corrupt_stream_is_a_decoding_error() -> None:
    with pytest.raises(httpx.DecodingError, match="corrupt"):
        decode(BoundedDecoder("gzip", 1024), b"\x1f\x8b not gzip at all")


def test_a_body_still_arriving_past_its_deadline_is_refused() -> None:
    decoder = BoundedDecoder("", None, deadline=0.0)  # long past
    with pytest.raises(SlowBody):
        list(decoder.feed(b"x"))
