"""``VaultStore``: credentials read from HashiCorp Vault or OpenBao through hvac.

Each entry is the secret at ``path_prefix + name`` on a KV v2 (or v1) mount. Failures become
the :class:`~apilink.errors.VaultError` family, each naming the server and the path and never
a token; connection errors and 5xx answers are tried again a few times, nothing else is, and
nothing ever falls back to another store.

hvac talks through :func:`apilink.http.clients.vault_session`: https (or loopback) only, no hop of
a redirect to another origin (``X-Vault-Token`` goes to the configured server only), answers
capped at ``max_response_bytes`` after decompression and read within ``timeout`` per phase and
``deadline`` whole. Trusted: the operator and the config author (the URL). Not trusted: the
network, and the server's redirects and answers.

``compare_and_set`` (how a rotated OAuth token is written back) is KV v2's own check-and-set:
the write carries ``cas=<the version read>`` (``cas=0``: only if absent) and the server refuses
it when the path's current version is another, so the check and the write are one step on the
server, whichever process or machine writes. KV v1 keeps no versions: there it is
:func:`~apilink.credentials.base.check_then_put`, whose window is not closed (a documented
limit; use KV v2 for tokens that rotate).
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import hvac
import hvac.exceptions as hvac_errors
import requests

from apilink.config.credentials import VaultAppRoleAuth, VaultStoreConfig
from apilink.credentials.base import Versioned, check_then_put, check_unexpired, entry_version
from apilink.credentials.file_store import check_entry
from apilink.errors import (
    BodyOverLimit,
    CredentialConflict,
    SlowBody,
    VaultCredentialNotFound,
    VaultError,
    VaultForbidden,
    VaultPathNotFound,
    VaultSealed,
    VaultUnreachable,
)
from apilink.http.clients import vault_session

__all__ = ["VaultStore"]

_T = TypeVar("_T")
_RETRYABLE = (
    hvac_errors.InternalServerError,
    hvac_errors.BadGateway,
    hvac_errors.UnexpectedError,
    hvac_errors.RateLimitExceeded,
)
_CONNECTION = (requests.exceptions.ConnectionError, requests.exceptions.Timeout)


class VaultStore:
    """A :class:`~apilink.credentials.base.CredentialStore` over a Vault/OpenBao KV mount.

    Args:
        config: server, login and mount (see :class:`~apilink.config.VaultStoreConfig`).
        now: clock for token expiry and ``expires_at``, Unix seconds.
        sleep: how to wait between retries.
        backoff: first wait between retries, doubled each time.
        client: an hvac client to use instead of one built from ``config``.

    The first call logs in (or looks the token up); before each later call the token is
    renewed when fewer than ``config.renew_threshold`` seconds are left (an AppRole token that
    cannot be renewed is replaced by a new login).
    """

    def __init__(
        self,
        config: VaultStoreConfig,
        *,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        backoff: float = 0.2,
        client: hvac.Client | None = None,
    ) -> None:
        self._config = config
        self._now = now
        self._sleep = sleep
        self._backoff = backoff
        self._client = client or hvac.Client(
            url=config.url,
            namespace=config.namespace,
            verify=config.verify,
            timeout=config.timeout,
            session=vault_session(config),
        )
        self._session = threading.Lock()
        self._logged_in = False
        self._token_expires_at: float | None = None
        self._renewable = False
        self.renewals = 0
        """How many times the token was renewed (or replaced by a new login)."""

    def __repr__(self) -> str:
        c = self._config
        return (
            f"VaultStore(url={c.url!r}, mount_point={c.mount_point!r}, "
            f"kv_version={c.kv_version}, path_prefix={c.path_prefix!r})"
        )

    @property
    def token_expires_at(self) -> float | None:
        """When the current token expires (by the injected clock); ``None`` if it never does."""
        return self._token_expires_at

    # -- CredentialStore -------------------------------------------------------------------

    def get(self, name: str) -> dict[str, Any]:
        """The fields of the secret at ``path_prefix + name``.

        Raises:
            VaultCredentialNotFound: nothing there (also a ``CredentialNotFound``).
            CredentialExpired: the entry's ``expires_at`` is not in the future.
            VaultSealed, VaultForbidden, VaultUnreachable, VaultError: as the server answers.
        """
        return self._read(name)[0]

    def get_versioned(self, name: str) -> Versioned:
        """``get``, with the version for ``compare_and_set`` (KV v2's version number)."""
        entry, version = self._read(name)
        return Versioned(entry, version)

    def compare_and_set(self, name: str, entry: Mapping[str, Any], expected: str | None) -> str:
        """Write ``entry`` only while the stored version is ``expected`` (``None``: only if
        nothing is there); returns the new version.

        Raises:
            CredentialConflict: another version is stored; nothing was written.
            VaultSealed, VaultForbidden, VaultUnreachable, VaultError: as the server answers.
        """
        if self._config.kv_version != 2 or not (expected is None or expected.isdigit()):
            # KV v1, or a server that reported no version number: nothing to give `cas`.
            return check_then_put(self, name, entry, expected)
        clean = check_entry(name, entry)
        path = self._entry_path(name)
        kv = self._client.secrets.kv
        mount = self._config.mount_point
        cas = 0 if expected is None else int(expected)

        def write() -> Any:
            try:
                return kv.v2.create_or_update_secret(
                    path=path, secret=clean, cas=cas, mount_point=mount
                )
            except hvac_errors.InvalidRequest as exc:
                if "check-and-set" not in str(exc):
                    raise
                # A retried write that did land also ends here: the caller reads the entry
                # again and finds its own value, which is as good.
                raise CredentialConflict(
                    f"credential {name!r} at {self._where(path)} changed since it was read "
                    "(check-and-set refused); not written"
                ) from None

        response = self._call("write", path, write)
        return str(response["data"]["version"])

    def _read(self, name: str) -> tuple[dict[str, Any], str]:
        path = self._entry_path(name)
        kv = self._client.secrets.kv
        if self._config.kv_version == 2:
            response = self._call(
                "read",
                path,
                lambda: kv.v2.read_secret_version(
                    path=path, mount_point=self._config.mount_point, raise_on_deleted_version=True
                ),
            )
            entry = dict(response["data"]["data"] or {})
            metadata = response["data"].get("metadata") or {}
            number = metadata.get("version")
            version = str(number) if isinstance(number, int) else entry_version(entry)
        else:
            response = self._call(
                "read",
                path,
                lambda: kv.v1.read_secret(path=path, mount_point=self._config.mount_point),
            )
            entry = dict(response["data"] or {})
            version = entry_version(entry)
        check_unexpired(name, entry, self._now(), self._where(path))
        return entry, version

    def put(self, name: str, entry: Mapping[str, Any]) -> None:
        """Write ``entry`` at ``path_prefix + name`` (a new version on KV v2)."""
        clean = check_entry(name, entry)
        path = self._entry_path(name)
        kv = self._client.secrets.kv
        mount = self._config.mount_point
        if self._config.kv_version == 2:
            self._call(
                "write",
                path,
                lambda: kv.v2.create_or_update_secret(path=path, secret=clean, mount_point=mount),
            )
        else:
            self._call(
                "write",
                path,
                lambda: kv.v1.create_or_update_secret(path=path, secret=clean, mount_point=mount),
            )

    def delete(self, name: str) -> None:
        """Remove the entry (every version and its metadata on KV v2)."""
        self.get(name)  # a clear not-found, as the other stores give
        path = self._entry_path(name)
        kv = self._client.secrets.kv
        mount = self._config.mount_point
        if self._config.kv_version == 2:
            self._call(
                "delete",
                path,
                lambda: kv.v2.delete_metadata_and_all_versions(path=path, mount_point=mount),
            )
        else:
            self._call("delete", path, lambda: kv.v1.delete_secret(path=path, mount_point=mount))

    def list(self) -> builtins.list[str]:
        """The entry names directly under ``path_prefix`` (sub-folders left out), sorted."""
        prefix = self._config.path_prefix
        kv = self._client.secrets.kv
        mount = self._config.mount_point
        reader = kv.v2 if self._config.kv_version == 2 else kv.v1
        try:
            response = self._call(
                "list", prefix, lambda: reader.list_secrets(path=prefix, mount_point=mount)
            )
        except VaultPathNotFound:
            return []
        keys: builtins.list[str] = response["data"]["keys"]
        return sorted(k for k in keys if not k.endswith("/"))

    # -- session ---------------------------------------------------------------------------

    def _entry_path(self, name: str) -> str:
        if not isinstance(name, str) or not name.strip():
            raise VaultError("a credential name must be a non-empty string")
        return f"{self._config.path_prefix}{name}"

    def _where(self, path: str) -> str:
        return f"{self._config.url} ({self._config.mount_point}/{path})"

    def _ensure_session(self) -> None:
        with self._session:
            if not self._logged_in:
                self._login()
                self._logged_in = True
            elif self._token_due():
                self._refresh()

    def _token_due(self) -> bool:
        if self._token_expires_at is None:
            return False
        return self._token_expires_at - self._now() < self._config.renew_threshold

    def _login(self) -> None:
        auth = self._config.auth
        if isinstance(auth, VaultAppRoleAuth):
            response = self._request(
                "log in with AppRole",
                f"auth/{auth.mount_point}/login",
                lambda: self._client.auth.approle.login(
                    role_id=auth.role_id,
                    secret_id=auth.secret_id.get_secret_value(),
                    mount_point=auth.mount_point,
                ),
            )
            self._set_lease(response["auth"]["lease_duration"], response["auth"]["renewable"])
            return
        self._client.token = auth.token.get_secret_value()
        response = self._request(
            "look up the token", "auth/token/lookup-self", self._client.auth.token.lookup_self
        )
        self._set_lease(response["data"]["ttl"], response["data"].get("renewable", False))

    def _refresh(self) -> None:
        if self._renewable:
            increment = self._config.renew_increment
            response = self._request(
                "renew the token",
                "auth/token/renew-self",
                lambda: self._client.auth.token.renew_self(increment=increment),
            )
            self._set_lease(response["auth"]["lease_duration"], response["auth"]["renewable"])
        elif isinstance(self._config.auth, VaultAppRoleAuth):
            self._login()
        else:
            return  # a fixed token: nothing to do; the server will say when it is gone
        self.renewals += 1

    def _set_lease(self, ttl: int, renewable: bool) -> None:
        self._renewable = bool(renewable)
        self._token_expires_at = self._now() + ttl if ttl else None

    def _call(self, action: str, path: str, request: Callable[[], _T]) -> _T:
        self._ensure_session()
        return self._request(action, path, request)

    def _request(self, action: str, path: str, request: Callable[[], _T]) -> _T:
        """Run ``request``, retrying connection errors and 5xx; map failures to ours."""
        where = self._where(path)
        kv_path = f"{self._config.mount_point}/{path}"
        attempts = self._config.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return request()
            except _CONNECTION:
                if attempt == attempts:
                    raise VaultUnreachable(
                        f"Vault at {self._config.url} is unreachable (tried {attempts} times "
                        f"to {action} {self._config.mount_point}/{path})",
                        path=kv_path,
                    ) from None
            except BodyOverLimit as exc:
                raise VaultError(
                    f"Vault at {where} answered {action} with a body that {exc.detail} than "
                    f"max_response_bytes ({exc.limit}); refused",
                    path=kv_path,
                ) from None
            except SlowBody:
                raise VaultError(
                    f"Vault at {where}: the answer to {action} did not arrive within the "
                    f"{self._config.deadline:g} s deadline",
                    path=kv_path,
                ) from None
            except hvac_errors.VaultDown:
                raise VaultSealed(
                    f"Vault at {where} is sealed or unavailable (HTTP 503) on {action}; "
                    "unseal it, then run again",
                    path=kv_path,
                    status=503,
                ) from None
            except hvac_errors.Forbidden:
                raise VaultForbidden(
                    f"Vault at {where} refused to {action}: permission denied (HTTP 403)",
                    path=kv_path,
                    status=403,
                ) from None
            except hvac_errors.Unauthorized:
                raise VaultForbidden(
                    f"Vault at {where} refused to {action}: not authenticated (HTTP 401)",
                    path=kv_path,
                    status=401,
                ) from None
            except hvac_errors.InvalidPath:
                raise VaultCredentialNotFound(
                    f"Vault at {where}: nothing at this path (HTTP 404) on {action}",
                    path=kv_path,
                    status=404,
                ) from None
            except _RETRYABLE as exc:
                if attempt == attempts:
                    raise VaultError(
                        f"Vault at {where} failed to {action} after {attempts} tries "
                        f"({type(exc).__name__})",
                        path=kv_path,
                    ) from None
            except hvac_errors.VaultError as exc:
                raise VaultError(
                    f"Vault at {where} refused to {action} ({type(exc).__name__})",
                    path=kv_path,
                ) from None
            self._sleep(self._backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover
