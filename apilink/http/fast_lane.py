"""The loader's fast lane through :func:`apilink.http.sending.send_with_retry`.

The loader sends one request per record (or per batch), a hundred thousand of them for a hundred
thousand records, so its requests (``fast_lane=True``) are built here and handed to
:meth:`AiohttpTransport.fetch <apilink.http.aiohttp_transport.AiohttpTransport.fetch>` without
the general machinery of ``httpx.AsyncClient`` (its header, cookie and URL merging, streamed
responses, event hooks), which costs several times what aiohttp spends on a small request. The
lane does what the client would: base URL, default headers, timeouts, the client's ``auth`` flow
(so an OAuth token is renewed and a 401 retried once), cookies an answer sets. A request the
lane does not cover goes through the client: a client that is no
:class:`~apilink.http.clients.ApiClient` with a :attr:`~apilink.http.clients.ApiClient.direct`
transport (a ``MockTransport``, a proxy, a rate limit), event hooks, cookies to send, redirects
followed, or arguments other than ``json``, ``content``, ``params`` and ``headers``. Only public
httpx API is used: the request is an ``httpx.Request``, the answer an ``httpx.Response``, and
the client's ``auth`` flow is driven through ``httpx.Auth.async_auth_flow``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from apilink.http.aiohttp_transport import AiohttpTransport
from apilink.http.clients import ApiClient

__all__ = ["fast_lane", "fast_request", "json_body", "resolve_url", "send_fast"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_FAST_ARGUMENTS = frozenset({"json", "content", "params", "headers"})
# httpx's encoding of ``json=`` (compact, UTF-8, no NaN), with one encoder for every request.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def json_body(value: Any) -> bytes:
    """``value`` as httpx encodes a ``json=`` body (compact UTF-8; NaN refused).

    Raises:
        ValueError: a NaN or infinite number.
        TypeError: a value JSON has no form for.
    """
    return _encode_json(value).encode()


# It logs the line httpx logs for each request, so a log that showed them still does.
_httpx_log = logging.getLogger("httpx")


def fast_lane(
    client: httpx.AsyncClient, url: str | httpx.URL, kwargs: dict[str, Any]
) -> tuple[AiohttpTransport, httpx.URL] | None:
    """The ``AiohttpTransport`` that serves ``url`` and the URL made absolute, when the fast
    lane can stand in for ``client``; ``None`` when the client must send the request itself.

    The lane can when nothing acts on the request but what it does itself: no event hooks, no
    cookies to send, no redirects to follow, no default query parameters, no credentials in the
    URL, and only ``json``, ``params`` and ``headers`` among the arguments.
    """
    if (
        client.is_closed
        or client.follow_redirects
        or client.cookies
        or client.params
        or any(client.event_hooks.values())
        or not kwargs.keys() <= _FAST_ARGUMENTS
    ):
        return None
    transport = client.direct if isinstance(client, ApiClient) else None
    if transport is None:
        return None
    absolute = resolve_url(client, url)
    if client.auth is None and absolute.userinfo:
        return None
    return transport, absolute


def fast_request(
    client: httpx.AsyncClient, method: str, url: httpx.URL, kwargs: dict[str, Any]
) -> httpx.Request:
    """The request ``client.build_request`` makes of these arguments, at a fraction of the cost.

    The client's headers are overridden by the request's; a JSON body brings ``Content-Type``
    and ``Content-Length`` unless given, and a POST, PUT or PATCH without a body states
    ``Content-Length: 0``, as httpx does.
    """
    headers = client.headers.copy()
    if kwargs.get("headers"):
        headers.update(kwargs["headers"])
    body = b""
    if kwargs.get("content") is not None:
        body = bytes(kwargs["content"])
    elif kwargs.get("json") is not None:
        body = json_body(kwargs["json"])
        if "content-type" not in headers:
            headers["Content-Type"] = "application/json"
    if (body or method.upper() in _BODY_METHODS) and "content-length" not in headers:
        headers["Content-Length"] = str(len(body))
    request = httpx.Request(
        method,
        url,
        params=kwargs.get("params"),
        headers=headers,
        stream=httpx.ByteStream(body),
        extensions={"timeout": client.timeout.as_dict()},
    )
    request.read()
    return request


async def send_fast(
    client: httpx.AsyncClient, transport: AiohttpTransport, request: httpx.Request, cap: int | None
) -> httpx.Response:
    """Send ``request`` as ``client.send`` would, each exchange read within ``cap``.

    The client's auth flow is driven as httpx drives it: it may send token requests first, and
    it sees each answer, so an OAuth flow renews its token and resends after a 401.
    """
    auth = client.auth
    if auth is None:
        return await _fetch(client, transport, request, cap)
    flow = auth.async_auth_flow(request)
    history: list[httpx.Response] = []
    try:
        request = await anext(flow)
        while True:
            response = await _fetch(client, transport, request, cap)
            response.history = list(history)
            try:
                request = await flow.asend(response)
            except StopAsyncIteration:
                return response
            history.append(response)
    finally:
        await flow.aclose()


async def _fetch(
    client: httpx.AsyncClient, transport: AiohttpTransport, request: httpx.Request, cap: int | None
) -> httpx.Response:
    """One exchange on the wire; the cookies it sets are kept, as the client keeps them."""
    response = await transport.fetch(request, max_bytes=cap)
    if "set-cookie" in response.headers:
        client.cookies.extract_cookies(response)
    if _httpx_log.isEnabledFor(logging.INFO):
        _httpx_log.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
    return response


def resolve_url(client: httpx.AsyncClient, path: str | httpx.URL) -> httpx.URL:
    """``path`` under the client's base URL, as httpx resolves it when sending.

    A loader resolves its endpoint once instead of letting httpx parse the joined URL for each
    of a hundred thousand requests.
    """
    url = path if isinstance(path, httpx.URL) else httpx.URL(path)
    if not url.is_relative_url:
        return url
    base = client.base_url
    return base.copy_with(raw_path=base.raw_path + url.raw_path.lstrip(b"/"))
