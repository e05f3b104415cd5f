"""Proof Key for Code Exchange (RFC 7636) with S256, and the authorization code grant.

A ``PKCESession`` is one attempt to authorize: its verifier and state live only in memory,
between the authorization URL and the redirect that brings the code back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from apilink.config.auth import OAuth2PKCEConfig
from apilink.errors import AuthError, StateMismatch
from apilink.redaction import MASK

__all__ = [
    "PKCESession",
    "authorization_code_grant",
    "authorization_url",
    "code_challenge_s256",
    "generate_code_verifier",
    "parse_redirect",
]

_UNRESERVED = string.ascii_letters + string.digits + "-._~"


def generate_code_verifier(length: int = 64) -> str:
    """A random verifier of ``length`` unreserved characters (43 to 128, RFC 7636 4.1)."""
    if not 43 <= length <= 128:
        raise ValueError("a code verifier has 43 to 128 characters")
    return "".join(secrets.choice(_UNRESERVED) for _ in range(length))


def code_challenge_s256(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(verifier)))`` without padding (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class PKCESession:
    """The secrets of one authorization attempt: verifier and state."""

    verifier: str = field(default_factory=generate_code_verifier)
    state: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def challenge(self) -> str:
        """The S256 code challenge sent in the authorization URL."""
        return code_challenge_s256(self.verifier)

    def check_state(self, state: str | None) -> None:
        """Raise ``StateMismatch`` unless ``state`` is the one this session sent."""
        if state is None or not hmac.compare_digest(state.encode(), self.state.encode()):
            raise StateMismatch(
                "the state returned with the authorization code does not match; "
                "no token was requested"
            )

    def __repr__(self) -> str:
        return f"PKCESession(verifier={MASK!r}, state={MASK!r})"


def authorization_url(config: OAuth2PKCEConfig, session: PKCESession) -> str:
    """The URL a person opens to authorize (RFC 6749 4.1.1 with RFC 7636 4.3)."""
    params = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": config.redirect_uri,
        "code_challenge": session.challenge,
        "code_challenge_method": "S256",
        "state": session.state,
    }
    if config.scope:
        params["scope"] = config.scope
    if config.audience:
        params["audience"] = config.audience
    separator = "&" if urlsplit(config.authorization_url).query else "?"
    return config.authorization_url + separator + urlencode(params)


def authorization_code_grant(
    config: OAuth2PKCEConfig, code: str, session: PKCESession
) -> dict[str, str]:
    """The token-request parameters that trade ``code`` for tokens (RFC 7636 4.5)."""
    grant = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": config.redirect_uri,
        "code_verifier": session.verifier,
    }
    grant.update(config.extra_token_params)
    return grant


def parse_redirect(url: str) -> tuple[str, str | None]:
    """``(code, state)`` from the redirect URL; ``AuthError`` if it carries an error or no code."""
    query = parse_qs(urlsplit(url).query)
    if "error" in query:
        error = query["error"][0]
        shown = error if error in {"access_denied", "invalid_request", "invalid_scope"} else "other"
        raise AuthError(f"the authorization was refused (error={shown})")
    codes = query.get("code")
    if not codes:
        raise AuthError("the redirect carries no authorization code")
    states = query.get("state")
    return codes[0], states[0] if states else None
