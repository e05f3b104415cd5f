"""A real OAuth 2.0 authorization server for tests, on authlib's server components.

Grants: authorization code with PKCE (S256 only, required), client credentials, device code
(RFC 8628) and refresh token with rotation. Endpoints: ``/authorize``, ``/token``,
``/device/code``, ``/device`` and a protected resource ``/api/items``. Run it with
``apilink.demo.serve.serve(create_app(state))``; ``state`` (``ServerState``) holds the hooks.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.servers.oauth.models import (
    AuthorizationCode,
    DeviceCode,
    ServerState,
    Token,
)

__all__ = ["create_app"]


class _Payload(OAuth2Payload):
    def __init__(self, data: dict[str, str], datalist: dict[str, list[str]]) -> None:
        self._data = data
        self._datalist = datalist

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:  # type: ignore[override]
        return self._datalist


class _Request(OAuth2Request):
    def __init__(
        self,
        method: str,
        uri: str,
        headers: Any,
        args: list[tuple[str, str]],
        form: list[tuple[str, str]],
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = dict(args)
        self._form = dict(form)
        datalist: dict[str, list[str]] = {}
        for key, value in [*args, *form]:
            datalist.setdefault(key, []).append(value)
        self.payload = _Payload({**self._args, **self._form}, datalist)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _Server(AuthorizationServer):
    def __init__(self, state: ServerState) -> None:
        super().__init__()
        self.state = state
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> Any:
        return self.state.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        client = request.client
        self.state.tokens.append(
            Token(
                client_id=client.get_client_id(),
                user=request.user,
                access_token=token["access_token"],
                refresh_token=token.get("refresh_token"),
                scope=token.get("scope", ""),
                issued_at=self.state.clock(),
                expires_in=token["expires_in"],
            )
        )

    def _generate(
        self,
        grant_type: str,
        client: Any,
        user: Any = None,
        scope: Any = None,
        expires_in: Any = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": "at-" + secrets.token_urlsafe(24),
            "expires_in": self.state.access_token_lifetime,
        }
        if include_refresh_token and self.state.issue_refresh_token:
            token["refresh_token"] = "rt-" + secrets.token_urlsafe(24)
        if scope:
            token["scope"] = scope
        return token

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request  # already an _Request, built in the Starlette handlers

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        headers = dict(headers)
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=headers)
        return Response(body, status_code=status, headers=headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


class _S256Required(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with S256 is required")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: Any) -> Any:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: Any) -> Any:
        return authorization_code.code_challenge_method


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        self.server.state.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=data.get("redirect_uri", ""),
            scope=data.get("scope", ""),
            user=request.user,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Any) -> Any:
        item = self.server.state.codes.get(code)
        if item is not None and item.client_id == client.get_client_id():
            return item
        return None

    def delete_authorization_code(self, authorization_code: Any) -> None:
        self.server.state.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: Any) -> Any:
        return authorization_code.user


class _RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:  # type: ignore[override]
        return bool(self.server.state.rotate_refresh_tokens)

    def authenticate_refresh_token(self, refresh_token: str) -> Any:
        token = self.server.state.find_refresh(refresh_token)
        if token is not None and not token.refresh_revoked:
            return token
        return None

    def authenticate_user(self, refresh_token: Any) -> Any:
        return refresh_token.user or refresh_token.client_id

    def revoke_old_credential(self, refresh_token: Any) -> None:
        if self.server.state.rotate_refresh_tokens:
            refresh_token.refresh_revoked = True
        refresh_token.revoked = True


class _ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012


class _DeviceCodeGrant(DeviceCodeGrant):
    def query_device_credential(self, device_code: str) -> Any:
        device = self.server.state.devices.get(device_code)
        return _DeviceCredential(device, self.server.state) if device else None

    def validate_device_credential(self, credential: Any) -> Any:
        state: ServerState = self.server.state
        credential.device.polls += 1
        limit = state.auto_approve_after_polls
        if limit is not None and credential.device.polls > limit:
            state.user_grants.setdefault(credential.get_user_code(), ("alice", True))
        return super().validate_device_credential(credential)

    def query_user_grant(self, user_code: str) -> Any:
        return self.server.state.user_grants.get(user_code)

    def should_slow_down(self, credential: Any) -> bool:
        state: ServerState = self.server.state
        if state.slow_down_polls > 0:
            state.slow_down_polls -= 1
            return True
        return False


class _DeviceCredential(dict[str, Any]):
    def __init__(self, device: DeviceCode, state: ServerState) -> None:
        super().__init__(client_id=device.client_id, user_code=device.user_code)
        self.device = device
        self.state = state

    def get_client_id(self) -> str:
        return self.device.client_id

    def get_scope(self) -> str:
        return self.device.scope

    def get_user_code(self) -> str:
        return self.device.user_code

    def is_expired(self) -> bool:
        return self.state.clock() >= self.device.expires_at


class _DeviceEndpoint(DeviceAuthorizationEndpoint):
    def __init__(self, server: _Server, verification_uri: str) -> None:
        super().__init__(server)
        self.verification_uri = verification_uri

    @property
    def EXPIRES_IN(self) -> int:  # type: ignore[override]
        return int(self.server.state.device_expires_in)

    @property
    def INTERVAL(self) -> int:  # type: ignore[override]
        return int(self.server.state.device_interval)

    def get_verification_uri(self) -> str:
        return self.verification_uri

    def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
        state: ServerState = self.server.state
        state.devices[data["device_code"]] = DeviceCode(
            client_id=client_id,
            scope=scope or "",
            device_code=data["device_code"],
            user_code=data["user_code"],
            expires_at=state.clock() + data["expires_in"],
        )


async def _oauth_request(request: Request) -> _Request:
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        form = parse_qsl((await request.body()).decode(), keep_blank_values=True)
    return _Request(
        request.method,
        str(request.url),
        request.headers,
        list(request.query_params.multi_items()),
        form,
    )


def create_app(state: ServerState) -> Starlette:
    """The Starlette app of the authorization server and its protected resource."""
    server = _Server(state)
    server.register_grant(_AuthorizationCodeGrant, [_S256Required(required=True)])
    server.register_grant(_RefreshTokenGrant)
    server.register_grant(_ClientCredentialsGrant)
    server.register_grant(_DeviceCodeGrant)
    device_endpoint: dict[str, _DeviceEndpoint] = {}

    async def authorize(request: Request) -> Response:
        oauth_request = await _oauth_request(request)
        with state.lock:
            grant = server.get_consent_grant(oauth_request, end_user=state.login_user)
            response: Response = server.create_authorization_response(
                oauth_request, grant_user=state.login_user, grant=grant
            )
        return response

    async def token(request: Request) -> Response:
        oauth_request = await _oauth_request(request)
        grant_type = oauth_request.form.get("grant_type", "")
        with state.lock:
            state.token_requests[grant_type] += 1
            state.token_forms.append(dict(oauth_request.form))
            if state.forced_token_response is not None:
                status, body, content_type = state.forced_token_response
                state.forced_token_response = None
                return Response(body, status_code=status, media_type=content_type)
            response: Response = server.create_token_response(oauth_request)
            delay = state.refresh_response_delay
        if delay and response.status_code == 200 and grant_type == "refresh_token":
            await asyncio.sleep(delay)  # outside the lock: other token requests go on
        return response

    async def device_code(request: Request) -> Response:
        oauth_request = await _oauth_request(request)
        if "endpoint" not in device_endpoint:
            base = f"{request.url.scheme}://{request.url.netloc}"
            device_endpoint["endpoint"] = _DeviceEndpoint(server, base + "/device")
            server.register_endpoint(device_endpoint["endpoint"])
        with state.lock:
            response: Response = server.create_endpoint_response(
                "device_authorization", oauth_request
            )
        return response

    async def device_page(request: Request) -> Response:
        user_code = request.query_params.get("user_code", "")
        if request.query_params.get("decision") == "deny":
            state.deny(user_code)
        elif user_code and state.login_user:
            state.approve(user_code, state.login_user)
        return HTMLResponse("<p>Done. You may close this window.</p>")

    async def items(request: Request) -> Response:
        state.resource_requests += 1
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if state.reject_resource or scheme.lower() != "bearer" or not state.access_ok(value):
            return JSONResponse(
                {"error": "invalid_token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return JSONResponse({"items": [{"id": 1}, {"id": 2}]})

    return Starlette(
        routes=[
            Route("/authorize", authorize, methods=["GET"]),
            Route("/token", token, methods=["POST"]),
            Route("/device/code", device_code, methods=["POST"]),
            Route("/device", device_page, methods=["GET"]),
            Route("/api/items", items, methods=["GET"]),
        ]
    )
