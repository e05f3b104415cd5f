"""The guide's ``apilinker.core`` names, for code written against the upstream API."""

from __future__ import annotations

from apilink.core.auth import AuthManager, OAuth2DeviceFlow, OAuth2PKCE

__all__ = ["AuthManager", "OAuth2DeviceFlow", "OAuth2PKCE"]
