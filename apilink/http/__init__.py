"""The HTTP stack: every request apilink sends, and every answer it reads.

- :mod:`~apilink.http.clients`: the one place that builds a client (sync APIs, token
  endpoints, Vault), with the rules every request passes;
- :mod:`~apilink.http.origin`: the URL and origin policy (https, credentials to their own
  origin only);
- :mod:`~apilink.http.sending`: sending with retries on a time budget;
- :mod:`~apilink.http.rate_limit`: requests per second per API;
- :mod:`~apilink.http.body_limit`: answers read within a byte limit, after decompression;
- :mod:`~apilink.http.protection` and :mod:`~apilink.http.message_signature`: message
  protection per endpoint (JWE, detached JWS, RFC 9421 HTTP Message Signatures);
- :mod:`~apilink.http.aiohttp_transport` and :mod:`~apilink.http.fast_lane`: the transport.

The package itself exports nothing; import from the module that owns a name.
"""

from __future__ import annotations

__all__: list[str] = []
