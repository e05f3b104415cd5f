"""OAuth 2.0 access tokens as ``httpx.Auth``: fetched, cached, refreshed before expiry.

How a token is kept fresh is one pure generator, ``OAuth2TokenAuth.acquire``: it yields token
requests and receives their responses, so the rules are tested by driving it by hand. The sync
and async flows run it behind a lock (a ``threading.Lock``, or an ``asyncio.Lock`` per event
loop), so many requests that find an expired token cause one refresh.

On a 401 the token is refreshed once and the request retried once; a second 401 is an
``AuthError``. Extending: subclass ``OAuth2TokenAuth`` and implement ``load_token``,
``fresh_grant`` and ``refused_refresh``.

With a store and a ``storage_key``, several processes may share one token: every refresh reads
the stored token first, writes its result back with compare-and-set, and a process that loses
the race uses the token the winner stored (see :mod:`apilink.auth.rotation`).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator

import httpx

from apilink.auth.rotation import ROTATION_WAIT, StoredToken, TokenSlot
from apilink.auth.token import OAuth2Config, OAuthToken, build_token_request, parse_token_response
from apilink.config.auth import (
    OAuth2ClientCredentialsConfig,
    OAuth2DeviceFlowConfig,
    OAuth2PKCEConfig,
)
from apilink.credentials.base import CredentialStore
from apilink.errors import AuthError, CredentialError, ReauthorizationRequired, TokenEndpointError

__all__ = [
    "ClientCredentialsAuth",
    "OAuth2TokenAuth",
    "StoredTokenAuth",
    "TokenFlow",
    "login_hint",
    "run_token_flow",
]

TokenFlow = Generator[httpx.Request, httpx.Response, None]


def login_hint(storage_key: str | None) -> str:
    """The command that puts a fresh token in the store."""
    name = storage_key or "<storage_key>"
    return f"authorize again: apilink auth login {name} --config <sync.yaml>"


class OAuth2TokenAuth(httpx.Auth):
    """Base of every OAuth strategy: a cached token, refreshed when due.

    Args:
        config: the OAuth section of the config.
        token_store: where tokens are kept between runs (under ``config.storage_key``).
        clock: Unix seconds now; tests pass a fake one.
        sleep: how to wait while another process stores a token it rotated.
        rotation_wait: how long to wait for that, in seconds, after a refused refresh.
    """

    def __init__(
        self,
        config: OAuth2Config,
        *,
        token_store: CredentialStore | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rotation_wait: float = ROTATION_WAIT,
    ) -> None:
        self.config = config
        self._store = token_store
        self._clock = clock
        self._slot = (
            TokenSlot(token_store, config.storage_key, sleep=sleep, wait=rotation_wait)
            if token_store is not None and config.storage_key
            else None
        )
        # What the store held when last read or written (its version is what the next
        # write-back compares against); ``None`` before the store was read.
        self._stored: StoredToken | None = None
        self._token: OAuthToken | None = None
        self.token_listeners: list[Callable[[OAuthToken], None]] = []
        self._sync_lock = threading.Lock()
        self._locks_guard = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    # -- what subclasses decide -------------------------------------------------------------

    def load_token(self) -> OAuthToken | None:
        """The token to start from when none is cached (``None``: fetch one)."""
        return None

    def fresh_grant(self) -> dict[str, str]:
        """Grant parameters that get a token without a refresh token, or raise."""
        raise NotImplementedError

    def refused_refresh(self) -> None:
        """The refresh token was refused (``invalid_grant``); raise, or return to start over."""

    # -- the token lifecycle, as a generator ---------------------------------------------------

    @property
    def token(self) -> OAuthToken | None:
        """The cached token (``None`` before the first request)."""
        return self._token

    def acquire(self, failed_access_token: str | None = None) -> TokenFlow:
        """Yield the token requests needed for a usable token; none when the cached one is good.

        Args:
            failed_access_token: the access token a resource server just answered 401 to;
                it is replaced unless another caller already did.
        """
        just_loaded = False
        if self._token is None and (loaded := self.load_token()) is not None:
            self._set(loaded)
            just_loaded = True
        token = self._token
        if token is not None and self._usable(token, failed_access_token):
            return
        if self._slot is not None and not just_loaded:
            # Note the stored version before asking the token endpoint; another process may
            # have rotated the token since we read it, and its token may need no refresh.
            self._stored = self._slot.read()
            stored = self._stored.token
            if token is not None and stored is not None and _differs(stored, token):
                self._set(stored)
                token = stored
                if self._usable(token, failed_access_token):
                    return
        if token is not None and token.refresh_token is not None:
            grant = {"grant_type": "refresh_token", "refresh_token": token.refresh_token}
            grant.update(self.config.extra_token_params)
            response = yield build_token_request(self.config, grant)
            try:
                newer = parse_token_response(response, now=self._clock())
            except TokenEndpointError as exc:
                if exc.error != "invalid_grant":
                    raise
                if self._take_rotated(token):
                    return
                self._token = None
                self.refused_refresh()
            else:
                self.keep(token.rotated(newer))
                return
        response = yield build_token_request(self.config, self.fresh_grant())
        self.keep(parse_token_response(response, now=self._clock()))

    def use_token(self, token: OAuthToken) -> None:
        """Start from ``token`` (already stored) instead of loading one."""
        self._set(token)

    def keep(self, token: OAuthToken) -> None:
        """Cache ``token`` and, with a store and ``storage_key``, write it back there.

        The write is a compare-and-set against the version read before the token was asked
        for; when another process stored a token first, that one is kept instead of ``token``.
        """
        self._set(token)
        if self._slot is None:
            return
        if self._stored is None:
            self._stored = self._slot.read()
        self._stored = self._slot.write_back(token, self._stored.version)
        kept = self._stored.token
        if kept is not None and _differs(kept, token):
            self._set(kept)

    def _take_rotated(self, refused: OAuthToken) -> bool:
        """After ``invalid_grant``: use the token another process stored with the refresh
        token it got for ``refused``'s, if one appears in time."""
        if self._slot is None:
            return False
        seen = self._stored or StoredToken(refused, None)
        rotated = self._slot.rotated_since(seen, refused)
        if rotated is None or rotated.token is None:
            return False
        self._stored = rotated
        self._set(rotated.token)
        return True

    def _usable(self, token: OAuthToken, failed_access_token: str | None) -> bool:
        if token.is_expired(self._clock(), self.config.refresh_leeway):
            return False
        return failed_access_token is None or token.access_token != failed_access_token

    def _set(self, token: OAuthToken) -> None:
        # Listeners first hear of a token before any request carries it (the run's redactor
        # learns each access and refresh token the moment it is acquired or rotated).
        for listener in self.token_listeners:
            listener(token)
        self._token = token

    # -- httpx ------------------------------------------------------------------------------

    def _authorize(self, request: httpx.Request) -> str:
        if self._token is None:  # pragma: no cover - acquire always leaves a token or raises
            raise AuthError("no access token could be acquired")
        request.headers["Authorization"] = f"Bearer {self._token.access_token}"
        return self._token.access_token

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        with self._sync_lock:
            yield from _drive_sync(self.acquire())
            used = self._authorize(request)
        response = yield request
        if response.status_code != 401:
            return
        with self._sync_lock:
            yield from _drive_sync(self.acquire(failed_access_token=used))
            self._authorize(request)
        response = yield request
        if response.status_code == 401:
            raise AuthError(_second_401(request))

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        async with self._async_lock():
            flow = self.acquire()
            token_request = _first(flow)
            while token_request is not None:
                token_response = yield token_request
                await token_response.aread()
                token_request = _send(flow, token_response)
            used = self._authorize(request)
        response = yield request
        if response.status_code != 401:
            return
        async with self._async_lock():
            flow = self.acquire(failed_access_token=used)
            token_request = _first(flow)
            while token_request is not None:
                token_response = yield token_request
                await token_response.aread()
                token_request = _send(flow, token_response)
            self._authorize(request)
        response = yield request
        if response.status_code == 401:
            raise AuthError(_second_401(request))

    def _async_lock(self) -> asyncio.Lock:
        # One lock per event loop: an asyncio.Lock cannot be shared between loops.
        loop = asyncio.get_running_loop()
        with self._locks_guard:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
            return lock

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(client_id={self.config.client_id!r}, "
            f"token_url={self.config.token_url!r}, token={'cached' if self._token else None})"
        )


class ClientCredentialsAuth(OAuth2TokenAuth):
    """RFC 6749 4.4: the client's own credentials buy the token; no person is involved."""

    config: OAuth2ClientCredentialsConfig

    def __init__(
        self,
        config: OAuth2ClientCredentialsConfig,
        *,
        token_store: CredentialStore | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rotation_wait: float = ROTATION_WAIT,
    ) -> None:
        super().__init__(
            config, token_store=token_store, clock=clock, sleep=sleep, rotation_wait=rotation_wait
        )

    def fresh_grant(self) -> dict[str, str]:
        grant = {"grant_type": "client_credentials"}
        if self.config.scope:
            grant["scope"] = self.config.scope
        if self.config.audience:
            grant["audience"] = self.config.audience
        grant.update(self.config.extra_token_params)
        return grant

    # refused_refresh returns: a new client-credentials grant replaces the refused token.


class StoredTokenAuth(OAuth2TokenAuth):
    """PKCE and device-flow tokens: a person logged in before; the store holds the result.

    Raises ``ReauthorizationRequired`` (naming ``apilink auth login``) when nothing is stored
    or the refresh token is refused and no other process stored a newer token meanwhile. A
    refused token is left in the store: deleting it could delete the token another process
    has just written there.
    """

    config: OAuth2PKCEConfig | OAuth2DeviceFlowConfig

    def __init__(
        self,
        config: OAuth2PKCEConfig | OAuth2DeviceFlowConfig,
        *,
        token_store: CredentialStore | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rotation_wait: float = ROTATION_WAIT,
    ) -> None:
        super().__init__(
            config, token_store=token_store, clock=clock, sleep=sleep, rotation_wait=rotation_wait
        )

    def load_token(self) -> OAuthToken | None:
        key = self.config.storage_key
        if self._store is None or not key:
            raise ReauthorizationRequired(
                f"{self.config.type} needs a credential store and a storage_key; " + login_hint(key)
            )
        if self._slot is None:  # pragma: no cover - a store and a key make a slot
            raise AssertionError("no token slot")
        try:
            self._stored = self._slot.read()
        except CredentialError:
            raise ReauthorizationRequired(
                f"no token is stored under '{key}'; " + login_hint(key)
            ) from None
        if self._stored.version is None:
            raise ReauthorizationRequired(f"no token is stored under '{key}'; " + login_hint(key))
        if self._stored.token is None:
            raise ReauthorizationRequired(
                f"the entry under '{key}' is not an OAuth token; " + login_hint(key)
            )
        return self._stored.token

    def fresh_grant(self) -> dict[str, str]:
        raise ReauthorizationRequired(
            f"the token under '{self.config.storage_key}' expired and has no refresh token; "
            + login_hint(self.config.storage_key)
        )

    def refused_refresh(self) -> None:
        key = self.config.storage_key
        raise ReauthorizationRequired(
            f"the refresh token under '{key}' was refused (invalid_grant); " + login_hint(key)
        )


def _differs(a: OAuthToken, b: OAuthToken) -> bool:
    return (a.access_token, a.refresh_token) != (b.access_token, b.refresh_token)


def run_token_flow(flow: TokenFlow, send: Callable[[httpx.Request], httpx.Response]) -> None:
    """Drive ``flow`` to its end with ``send`` (which returns read responses)."""
    request = _first(flow)
    while request is not None:
        request = _send(flow, send(request))


def _first(flow: TokenFlow) -> httpx.Request | None:
    try:
        return next(flow)
    except StopIteration:
        return None


def _send(flow: TokenFlow, response: httpx.Response) -> httpx.Request | None:
    try:
        return flow.send(response)
    except StopIteration:
        return None


def _drive_sync(flow: TokenFlow) -> Generator[httpx.Request, httpx.Response, None]:
    request = _first(flow)
    while request is not None:
        response = yield request
        response.read()
        request = _send(flow, response)


def _second_401(request: httpx.Request) -> str:
    url = request.url
    return (
        f"{url.scheme}://{url.netloc.decode('ascii')}{url.path} answered 401 again "
        "after the token was renewed"
    )
