"""In-memory clients, codes, tokens and device codes of the test authorization server."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin

PUBLIC_CLIENT = "public-app"
CONFIDENTIAL_CLIENT = "confidential-app"
CONFIDENTIAL_SECRET = "confidential-secret-CANARY-9f2c"
DEVICE_CLIENT = "device-app"
REDIRECT_URI = "http://127.0.0.1:8765/callback"


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str | None
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...] = ()

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # RFC 8252 7.3: any port on a loopback redirect URI.
        parts = urlsplit(redirect_uri)
        return any(
            parts.scheme == urlsplit(uri).scheme
            and parts.hostname == urlsplit(uri).hostname
            and parts.path == urlsplit(uri).path
            for uri in self.redirect_uris
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.client_secret is None:
            return method == "none"
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token(TokenMixin):
    client_id: str
    user: str | None
    access_token: str
    refresh_token: str | None
    scope: str
    issued_at: float
    expires_in: float
    revoked: bool = False
    refresh_revoked: bool = False

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> float:
        return self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def is_expired(self) -> bool:  # pragma: no cover - the server checks with its own clock
        return False

    def get_user(self) -> str | None:
        return self.user

    def get_client(self) -> Any:  # pragma: no cover
        return self.client_id


@dataclass
class DeviceCode:
    client_id: str
    scope: str
    device_code: str
    user_code: str
    expires_at: float
    polls: int = 0


@dataclass
class ServerState:
    """Everything the server knows, and the hooks tests turn.

    Hooks: ``access_token_lifetime``; ``issue_refresh_token``; ``rotate_refresh_tokens``;
    ``device_interval`` and ``device_expires_in``; ``approve(user_code)`` /
    ``deny(user_code)``; ``auto_approve_after_polls``; ``slow_down_polls`` (how many next
    polls answer ``slow_down``); ``expire_device_codes()``; ``revoke_access_tokens()``;
    ``reject_resource`` (every resource request is 401); ``login_user`` (the person the
    authorization page logs in; ``None``: they refuse); ``forced_token_response``
    (status, body bytes, content type) for the next token request;
    ``refresh_response_delay`` (seconds a successful refresh answer is held back, after the old
    refresh token is already dead, so a concurrent refresh with it is refused meanwhile).
    """

    clock: Callable[[], float] = time.time
    clients: dict[str, Client] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    tokens: list[Token] = field(default_factory=list)
    devices: dict[str, DeviceCode] = field(default_factory=dict)
    user_grants: dict[str, tuple[str, bool]] = field(default_factory=dict)
    token_requests: Counter[str] = field(default_factory=Counter)
    token_forms: list[dict[str, str]] = field(default_factory=list)
    resource_requests: int = 0
    access_token_lifetime: float = 3600
    issue_refresh_token: bool = True
    rotate_refresh_tokens: bool = True
    device_interval: int = 5
    device_expires_in: int = 600
    auto_approve_after_polls: int | None = None
    slow_down_polls: int = 0
    reject_resource: bool = False
    login_user: str | None = "alice"
    forced_token_response: tuple[int, bytes, str] | None = None
    refresh_response_delay: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def total_token_requests(self) -> int:
        return sum(self.token_requests.values())

    def approve(self, user_code: str, user: str = "alice") -> None:
        self.user_grants[user_code] = (user, True)

    def deny(self, user_code: str) -> None:
        self.user_grants[user_code] = ("nobody", False)

    def expire_device_codes(self) -> None:
        for device in self.devices.values():
            device.expires_at = self.clock() - 1

    def revoke_access_tokens(self) -> None:
        for token in self.tokens:
            token.revoked = True

    def find_access(self, access_token: str) -> Token | None:
        for token in self.tokens:
            if token.access_token == access_token:
                return token
        return None

    def find_refresh(self, refresh_token: str) -> Token | None:
        for token in self.tokens:
            if token.refresh_token == refresh_token:
                return token
        return None

    def access_ok(self, access_token: str) -> bool:
        token = self.find_access(access_token)
        return (
            token is not None
            and not token.revoked
            and self.clock() < token.issued_at + token.expires_in
        )


def default_clients() -> dict[str, Client]:
    return {
        PUBLIC_CLIENT: Client(
            PUBLIC_CLIENT, None, ("authorization_code", "refresh_token"), (REDIRECT_URI,)
        ),
        CONFIDENTIAL_CLIENT: Client(
            CONFIDENTIAL_CLIENT,
            CONFIDENTIAL_SECRET,
            ("client_credentials", "refresh_token"),
        ),
        DEVICE_CLIENT: Client(
            DEVICE_CLIENT,
            None,
            ("urn:ietf:params:oauth:grant-type:device_code", "refresh_token"),
        ),
    }
