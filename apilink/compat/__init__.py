"""The upstream guide's Python API (``ApiLinker``, ``apilinker.core``), for code written
against APILinker. Each facade is a thin layer over the engine: it adds no policy of its own.
"""

from __future__ import annotations

from apilink.compat.auth_manager import AuthManager, OAuth2DeviceFlow, OAuth2PKCE
from apilink.compat.linker import ApiLinker

__all__ = ["ApiLinker", "AuthManager", "OAuth2DeviceFlow", "OAuth2PKCE"]
