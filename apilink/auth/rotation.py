"""One stored OAuth token shared by several processes: read with its version, written back with
compare-and-set, read again by whichever process loses a refresh race.

Servers that rotate refresh tokens (a refresh answers with a new refresh token and the old one
dies, RFC 9700 section 4.14.2) make a shared token a race: two workers that refresh it at once
send the same refresh token; the server honours one and answers the other ``invalid_grant``.
Without care the loser gives up (or wipes the store) and, worse, a slow writer can put an older
token over a newer one, leaving no valid refresh token anywhere. ``OAuth2TokenAuth.acquire``
therefore refreshes like this:

1. Before asking the token endpoint, read the stored token and note its version. If the store
   holds another token than ours, another process rotated it: start from that one (it may
   need no refresh at all).
2. Refresh.
3. Write the result back with :func:`~apilink.credentials.base.compare_and_set` against the
   noted version. If that is refused, another process stored a token first: read it and use
   it, not ours, so the store and every process agree on one token.
4. If the refresh token is refused with ``invalid_grant``, another process may have used it a
   moment before and not yet stored the result: wait (bounded, ``rotation_wait`` seconds) for
   the store to hold a token with another refresh token, and use it. Only when none appears is
   the refusal final (a person must log in again).

The store calls are blocking, also under the async flow; they happen only around a refresh.

Who is trusted, and how far:

- The worker's operator is trusted: they choose the credential store and give every process
  that shares an entry its access to it. Processes sharing one entry are peers of the same
  operator, so a token another process stored is used as it is (after it parses as a token).
- Config authors (a config file is the operator's; a config parameter or SyncConfig block is
  authoring through the Prefect API) choose ``storage_key`` and the token endpoint. They can
  point a run at any entry of the store, as a ``secret://`` reference can; a stored token is
  only ever sent to the configured token endpoint, through the client builder's origin rules.
- Run callers choose nothing here beyond the config they are allowed to run.
- Not trusted: the token endpoint's answers (parsed and bounded by
  :mod:`apilink.auth.token`), and what is read back from the store, which is data: an entry
  that is not a token is never used, only written over.

A refresh token never appears in a log, an error, a ``repr``, a checkpoint or the audit log:
versions are opaque (a store's own version id, or a keyed digest that says nothing of a value),
conflicts and refusals name the entry and the store, never a value.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from apilink.auth.token import OAuthToken
from apilink.credentials.base import CredentialStore, compare_and_set, read_versioned
from apilink.errors import CredentialConflict, TokenResponseError

__all__ = ["ROTATION_WAIT", "StoredToken", "TokenSlot"]

ROTATION_WAIT = 10.0
"""Seconds a process whose refresh token was refused waits for another one to store the token
it got with it: the winner's store write (a KDF run for the encrypted file, a round trip for
Vault or AWS) on a busy machine."""

_FIRST_DELAY = 0.05
_MAX_DELAY = 1.0


@dataclass(frozen=True)
class StoredToken:
    """What a token's store entry held when read.

    Attributes:
        token: the token; ``None`` when nothing is stored or the entry is not a token.
        version: the entry's version for ``compare_and_set``; ``None`` when nothing is stored.
    """

    token: OAuthToken | None
    version: str | None


class TokenSlot:
    """The entry ``key`` of ``store`` where one OAuth section keeps its token.

    Args:
        store: the credential store.
        key: the auth section's ``storage_key``.
        sleep: how to wait between reads while another process stores a rotated token.
        wait: at most this many seconds of such waiting.
    """

    def __init__(
        self,
        store: CredentialStore,
        key: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        wait: float = ROTATION_WAIT,
    ) -> None:
        self.store = store
        self.key = key
        self._sleep = sleep
        self._wait = wait

    def __repr__(self) -> str:
        return f"TokenSlot(key={self.key!r}, store={self.store!r})"

    def read(self) -> StoredToken:
        """The stored token and its version.

        Raises:
            CredentialError: the store could not be read (a missing entry is not an error).
        """
        found = read_versioned(self.store, self.key)
        if found is None:
            return StoredToken(None, None)
        try:
            token = OAuthToken.from_entry(found.entry)
        except TokenResponseError:
            token = None  # not a token: never used, only written over
        return StoredToken(token, found.version)

    def write_back(self, token: OAuthToken, expected: str | None) -> StoredToken:
        """Store ``token`` if the entry is still at version ``expected``.

        Returns what the store holds afterwards: ``token`` with its new version, or, when
        another process stored a token first, that token (use it instead of ``token``).
        """
        try:
            return StoredToken(
                token, compare_and_set(self.store, self.key, token.to_entry(), expected)
            )
        except CredentialConflict:
            stored = self.read()
            if stored.token is None:
                # The other writer left no token (a deletion, or an entry that is not one):
                # ours is still good; the next write compares against what is there now.
                return StoredToken(token, stored.version)
            return stored

    def rotated_since(self, seen: StoredToken, refused: OAuthToken) -> StoredToken | None:
        """The token another process stored after ``seen``, once its refresh token differs
        from ``refused``'s; ``None`` when none appears within the wait."""
        delay, waited = _FIRST_DELAY, 0.0
        while True:
            stored = self.read()
            if (
                stored.version != seen.version
                and stored.token is not None
                and stored.token.refresh_token != refused.refresh_token
            ):
                return stored
            if waited >= self._wait:
                return None
            step = min(delay, self._wait - waited)
            self._sleep(step)
            waited += step
            delay = min(delay * 2, _MAX_DELAY)
