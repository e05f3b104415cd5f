"""The guide's Python API for interactive OAuth logins (PKCE and device flow).

As the upstream guide uses it (``linker.auth_manager`` is an ``AuthManager``)::

    pkce_config = auth_manager.configure_auth({"type": "oauth2_pkce", ...})
    auth_url = auth_manager.get_pkce_authorization_url(pkce_config)
    auth_config = auth_manager.complete_pkce_flow(pkce_config, code, state)
    auth_config = auth_manager.refresh_pkce_token(auth_config)

    device_config = auth_manager.start_device_flow(auth_manager.configure_auth({...}))
    completed, device_config = auth_manager.poll_device_flow(device_config)

Tokens are kept on the returned object (masked in its repr) and, with a token store and a
``storage_key``, saved in the store, where the sync's ``build_auth`` finds them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import TypeAdapter

from apilink.auth.device import (
    DEFAULT_INTERVAL,
    DeviceAuthorization,
    device_authorization_request,
    device_code_grant,
    parse_device_authorization,
)
from apilink.auth.oauth import StoredTokenAuth, run_token_flow
from apilink.auth.pkce import (
    PKCESession,
    authorization_code_grant,
    authorization_url,
    parse_redirect,
)
from apilink.auth.token import OAuthToken, build_token_request, parse_token_response
from apilink.config.auth import AuthConfig, OAuth2DeviceFlowConfig, OAuth2PKCEConfig
from apilink.config.models import TimeoutConfig
from apilink.credentials.base import CredentialStore
from apilink.errors import AuthError, DeviceFlowDenied, DeviceFlowExpired, TokenEndpointError
from apilink.http.clients import login_urls, send_token_request, token_client
from apilink.http.origin import check_url
from apilink.redaction import MASK

__all__ = ["AuthManager", "OAuth2DeviceFlow", "OAuth2PKCE"]

_AUTH_CONFIG: TypeAdapter[AuthConfig] = TypeAdapter(AuthConfig)


class _Interactive:
    """What PKCE and device flow share: the config section and the token obtained."""

    def __init__(self, config: Any, token: OAuthToken | None = None) -> None:
        self.config = config
        self.token = token

    @property
    def access_token(self) -> str | None:
        """The current access token, once a login completed."""
        return self.token.access_token if self.token else None

    def __getattr__(self, name: str) -> Any:
        # ``pkce_config.client_id`` and friends read through to the config section.
        if name == "config":
            raise AttributeError(name)
        return getattr(self.config, name)


class OAuth2PKCE(_Interactive):
    """An ``oauth2_pkce`` section with the login in progress (verifier, state) and its token."""

    config: OAuth2PKCEConfig

    def __init__(self, config: OAuth2PKCEConfig, token: OAuthToken | None = None) -> None:
        super().__init__(config, token)
        self.session: PKCESession | None = None

    def __repr__(self) -> str:
        return (
            f"OAuth2PKCE(client_id={self.config.client_id!r}, "
            f"storage_key={self.config.storage_key!r}, pending={self.session is not None}, "
            f"token={MASK if self.token else None})"
        )


class OAuth2DeviceFlow(_Interactive):
    """An ``oauth2_device_flow`` section with the device authorization in progress."""

    config: OAuth2DeviceFlowConfig

    def __init__(self, config: OAuth2DeviceFlowConfig, token: OAuthToken | None = None) -> None:
        super().__init__(config, token)
        self.authorization: DeviceAuthorization | None = None

    @property
    def verification_uri(self) -> str | None:
        """Where the person enters ``user_code``."""
        return self.authorization.verification_uri if self.authorization else None

    @property
    def verification_uri_complete(self) -> str | None:
        """``verification_uri`` with the code filled in, when the server offers it."""
        return self.authorization.verification_uri_complete if self.authorization else None

    @property
    def user_code(self) -> str | None:
        """The code the person types."""
        return self.authorization.user_code if self.authorization else None

    @property
    def interval(self) -> float:
        """Seconds to wait between polls, grown by every ``slow_down``."""
        return self.authorization.interval if self.authorization else DEFAULT_INTERVAL

    def __repr__(self) -> str:
        return (
            f"OAuth2DeviceFlow(client_id={self.config.client_id!r}, "
            f"storage_key={self.config.storage_key!r}, user_code={self.user_code!r}, "
            f"token={MASK if self.token else None})"
        )


class AuthManager:
    """Runs the interactive OAuth logins of the guide and keeps their tokens.

    Args:
        token_store: where tokens go, under each section's ``storage_key``.
        clock: Unix seconds now.
        sleep: how to wait between device-flow polls; tests pass a fake.
        http_client: the client for token requests (by default one per call, built by
            :func:`apilink.http.clients.token_client` for the section's own endpoints: https or
            loopback only, no redirect, answers capped and timed).
        allow_insecure_http: plain http to the login endpoints is allowed (the connection
            says ``allow_insecure_http: true``).
        timeout: timeouts and deadline of each token request (the connection's).
    """

    def __init__(
        self,
        token_store: CredentialStore | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        http_client: httpx.Client | None = None,
        *,
        allow_insecure_http: bool = False,
        timeout: TimeoutConfig | None = None,
    ) -> None:
        self.allow_insecure_http = allow_insecure_http
        self.timeout = timeout
        self.token_store = token_store
        self._clock = clock
        self._sleep = sleep
        self._http = http_client

    def configure_auth(self, section: dict[str, Any]) -> AuthConfig | OAuth2PKCE | OAuth2DeviceFlow:
        """Validate an ``auth`` section; PKCE and device flow come back ready to log in."""
        config = _AUTH_CONFIG.validate_python(section)
        if isinstance(config, OAuth2PKCEConfig):
            return OAuth2PKCE(config)
        if isinstance(config, OAuth2DeviceFlowConfig):
            return OAuth2DeviceFlow(config)
        return config

    # -- PKCE -------------------------------------------------------------------------------

    def get_pkce_authorization_url(self, pkce: OAuth2PKCE) -> str:
        """Start a login: a fresh verifier and state, and the URL the person opens."""
        check_url(pkce.config.authorization_url, self.allow_insecure_http)
        pkce.session = PKCESession()
        return authorization_url(pkce.config, pkce.session)

    def complete_pkce_flow(
        self, pkce: OAuth2PKCE, code: str, state: str | None = None
    ) -> OAuth2PKCE:
        """Trade the authorization code for tokens.

        Args:
            pkce: the object ``get_pkce_authorization_url`` was called with.
            code: the code, or the whole redirect URL (its ``state`` is then checked too).
            state: the ``state`` that came back; when given it must match, or
                ``StateMismatch`` is raised before any token request.
        """
        session = pkce.session
        if session is None:
            raise AuthError("no PKCE login is in progress; call get_pkce_authorization_url first")
        if "?" in code:
            code, state = parse_redirect(code)
            session.check_state(state)
        elif state is not None:
            session.check_state(state)
        pkce.session = None  # a verifier is good for one exchange only
        grant = authorization_code_grant(pkce.config, code, session)
        response = self._send(build_token_request(pkce.config, grant), pkce.config)
        self._keep(pkce, parse_token_response(response, now=self._clock()))
        return pkce

    def refresh_pkce_token(self, pkce: OAuth2PKCE) -> OAuth2PKCE:
        """Refresh the access token now (rotating the refresh token if the server does)."""
        self._refresh(pkce)
        return pkce

    def refresh_device_token(self, device: OAuth2DeviceFlow) -> OAuth2DeviceFlow:
        """Refresh a device-flow access token now."""
        self._refresh(device)
        return device

    # -- device flow ------------------------------------------------------------------------

    def start_device_flow(self, device: OAuth2DeviceFlow) -> OAuth2DeviceFlow:
        """Ask for a device code; ``verification_uri`` and ``user_code`` are then set."""
        response = self._send(device_authorization_request(device.config), device.config)
        device.authorization = parse_device_authorization(response, now=self._clock())
        return device

    def poll_device_flow(self, device: OAuth2DeviceFlow) -> tuple[bool, OAuth2DeviceFlow]:
        """Send one poll, first waiting out the interval; ``(True, device)`` once approved.

        Raises:
            DeviceFlowDenied: the person refused.
            DeviceFlowExpired: the code expired (``expired_token`` or ``expires_in`` passed).
        """
        pending = device.authorization
        if pending is None:
            raise AuthError("no device flow is in progress; call start_device_flow first")
        pending.check_deadline(self._clock())
        wait = pending.wait_before_poll(self._clock())
        if wait > 0:
            self._sleep(wait)
            pending.check_deadline(self._clock())
        grant = device_code_grant(device.config, pending.device_code)
        response = self._send(build_token_request(device.config, grant), device.config)
        now = self._clock()
        pending.polled(now)
        try:
            token = parse_token_response(response, now=now)
        except TokenEndpointError as exc:
            if exc.error == "authorization_pending":
                return False, device
            if exc.error == "slow_down":
                pending.slow_down(now)
                return False, device
            if exc.error == "access_denied":
                device.authorization = None
                raise DeviceFlowDenied("the authorization was denied at the device page") from None
            if exc.error == "expired_token":
                device.authorization = None
                raise DeviceFlowExpired(
                    "the device code expired before it was approved; start again"
                ) from None
            raise
        device.authorization = None
        self._keep(device, token)
        return True, device

    def wait_for_device_flow(self, device: OAuth2DeviceFlow) -> OAuth2DeviceFlow:
        """Poll until the person approves, refuses, or the code expires."""
        while True:
            completed, device = self.poll_device_flow(device)
            if completed:
                return device

    # -- shared -----------------------------------------------------------------------------

    def _refresh(self, login: OAuth2PKCE | OAuth2DeviceFlow) -> None:
        auth = StoredTokenAuth(login.config, token_store=self.token_store, clock=self._clock)
        if login.token is not None:
            auth.use_token(login.token)
        current = auth.token or auth.load_token()
        if current is None:  # pragma: no cover - load_token raises instead
            raise AuthError("no token to refresh")
        auth.use_token(current)
        run_token_flow(
            auth.acquire(failed_access_token=current.access_token),
            lambda request: self._send(request, login.config),
        )
        login.token = auth.token

    def _keep(self, login: OAuth2PKCE | OAuth2DeviceFlow, token: OAuthToken) -> None:
        login.token = token
        key = login.config.storage_key
        if self.token_store is not None and key:
            self.token_store.put(key, token.to_entry())

    def _send(
        self, request: httpx.Request, config: OAuth2PKCEConfig | OAuth2DeviceFlowConfig
    ) -> httpx.Response:
        if self._http is not None:
            return send_token_request(self._http, request)
        with token_client(
            f"{config.type} login",
            login_urls(config),
            timeout=self.timeout,
            allow_insecure_http=self.allow_insecure_http,
        ) as client:
            return send_token_request(client, request)
