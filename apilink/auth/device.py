"""The device authorization grant (RFC 8628), without I/O.

``device_authorization_request`` starts it; ``DeviceAuthorization`` keeps what the server
answered and the polling rules: wait ``interval`` seconds between polls (5 when the server
does not say), add 5 seconds for every ``slow_down`` (they add up), stop at ``expires_in``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from apilink.auth.token import build_token_request, read_json_object, token_endpoint_error
from apilink.config.auth import OAuth2DeviceFlowConfig
from apilink.errors import DeviceFlowExpired, TokenResponseError
from apilink.redaction import MASK

__all__ = [
    "DEFAULT_INTERVAL",
    "DEVICE_CODE_GRANT_TYPE",
    "SLOW_DOWN_STEP",
    "DeviceAuthorization",
    "device_authorization_request",
    "device_code_grant",
    "parse_device_authorization",
]

DEVICE_CODE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0
SLOW_DOWN_STEP = 5.0


@dataclass
class DeviceAuthorization:
    """One device authorization in progress, with its polling schedule.

    Attributes:
        device_code: the secret the client polls with; never shown.
        user_code: the code the person types at ``verification_uri``.
        verification_uri: where the person goes.
        verification_uri_complete: the same with the code filled in, when offered.
        expires_at: Unix seconds after which polling stops.
        interval: seconds between polls, grown by ``slow_down``.
        next_poll_at: Unix seconds before which no poll is sent.
    """

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float
    interval: float
    next_poll_at: float

    def wait_before_poll(self, now: float) -> float:
        """Seconds to wait before the next poll may be sent (0 when it may go now)."""
        return max(0.0, self.next_poll_at - now)

    def check_deadline(self, now: float) -> None:
        """Raise ``DeviceFlowExpired`` once ``expires_in`` has passed."""
        if now >= self.expires_at:
            raise DeviceFlowExpired(
                "the device code expired before it was approved; start the device flow again"
            )

    def polled(self, now: float) -> None:
        """Record a poll sent at ``now``."""
        self.next_poll_at = now + self.interval

    def slow_down(self, now: float) -> None:
        """``slow_down``: this and every later poll waits 5 seconds more (RFC 8628 3.5)."""
        self.interval += SLOW_DOWN_STEP
        self.next_poll_at = now + self.interval

    def __repr__(self) -> str:
        return (
            f"DeviceAuthorization(device_code={MASK!r}, user_code={self.user_code!r}, "
            f"verification_uri={self.verification_uri!r}, interval={self.interval!r}, "
            f"expires_at={self.expires_at!r})"
        )


def device_authorization_request(config: OAuth2DeviceFlowConfig) -> httpx.Request:
    """The POST to the device authorization endpoint (RFC 8628 3.1)."""
    params: dict[str, str] = {}
    if config.scope:
        params["scope"] = config.scope
    if config.audience:
        params["audience"] = config.audience
    return build_token_request(config, params, url=config.device_authorization_url)


def parse_device_authorization(response: httpx.Response, *, now: float) -> DeviceAuthorization:
    """The device authorization in a read response (RFC 8628 3.2)."""
    payload = read_json_object(response)
    if response.status_code >= 400 or "error" in payload:
        raise token_endpoint_error(response, payload)
    fields = {}
    for name in ("device_code", "user_code", "verification_uri"):
        value = payload.get(name)
        if not isinstance(value, str) or not value:
            raise TokenResponseError(f"the device authorization response has no {name}")
        fields[name] = value
    complete = payload.get("verification_uri_complete")
    try:
        expires_in = float(payload.get("expires_in", 0))
        interval = float(payload.get("interval", DEFAULT_INTERVAL))
    except (TypeError, ValueError):
        raise TokenResponseError(
            "the device authorization response has a bad expires_in or interval"
        ) from None
    if expires_in <= 0 or interval < 0:
        raise TokenResponseError(
            "the device authorization response has a bad expires_in or interval"
        )
    return DeviceAuthorization(
        device_code=fields["device_code"],
        user_code=fields["user_code"],
        verification_uri=fields["verification_uri"],
        verification_uri_complete=complete if isinstance(complete, str) else None,
        expires_at=now + expires_in,
        interval=interval,
        next_poll_at=now + interval,
    )


def device_code_grant(config: OAuth2DeviceFlowConfig, device_code: str) -> dict[str, str]:
    """The token-request parameters of one poll (RFC 8628 3.4)."""
    grant = {"grant_type": DEVICE_CODE_GRANT_TYPE, "device_code": device_code}
    grant.update(config.extra_token_params)
    return grant
