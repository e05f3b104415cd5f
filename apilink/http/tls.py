"""TLS of the clients apilink builds: whom it trusts (``verify``) and who it is (``tls``, the
client certificate of mutual TLS).

:class:`ClientTLS` is one connection's TLS, and :meth:`ClientTLS.context` the
``ssl.SSLContext`` every client of that connection uses (the aiohttp transport of the sync, the
httpx transports of its token endpoint and rate limit), so a client certificate configured once
is presented on every connection a sync opens.

The private key never touches a disk in clear: ``SSLContext.load_cert_chain`` reads only files,
so the PEM text goes into an anonymous in-memory file (``memfd_create``, Linux) that is closed
as soon as OpenSSL has read it; where that does not exist, into a 0600 file in a private 0700
temporary folder, removed straight after loading. The key is a ``SecretStr`` throughout and no
repr, log line or error shows it.

A server that refuses the handshake usually just closes the connection (an alert, if it sends
one, is often lost), which looks like any dropped connection and would be retried until the
deadline. So after such a failure on https, :func:`diagnose` makes one probe handshake with the
same context, and sends nothing over it: a server that asked for a certificate and then closed
the connection refused it, and the run stops with :class:`~apilink.errors.TLSRefused` naming
``tls.client_cert``, instead of retrying.

Trusted: the worker's operator and the config author (they name the certificate and the CA).
Not trusted: the network and the servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from apilink.errors import ConfigError, TLSRefused
from apilink.http.tls_config import TLSConfig

if TYPE_CHECKING:
    from apilink.config.models import ConnectionConfig

__all__ = [
    "ClientTLS",
    "connection_tls",
    "diagnose",
    "diagnose_sync",
    "is_tls_failure",
    "ssl_context",
]

_PROBE_SECONDS = 5.0
# After a handshake, a server that accepted the client waits for a request; one that refused
# it closes the connection at once. Waiting longer only delays the error of a refused one.
_WAIT_AFTER_HANDSHAKE = 1.0


@dataclass(frozen=True, repr=False)
class ClientTLS:
    """The TLS of one connection.

    Args:
        verify: ``True`` (certifi's CA bundle), ``False`` (no verification) or a CA bundle path.
        identity: the client certificate and key (``None``: none is presented).
        where: the connection's key path, for messages (``"source"``, ``"target"``).
    """

    verify: bool | str = True
    identity: TLSConfig | None = None
    where: str = "connection"

    def __repr__(self) -> str:
        who = "a client certificate" if self.identity is not None else "no client certificate"
        return f"ClientTLS({self.where}, verify={self.verify!r}, {who})"

    @property
    def field(self) -> str:
        """The config key of the client certificate (``source.tls.client_cert``)."""
        return f"{self.where}.tls.client_cert"

    def context(self) -> ssl.SSLContext:
        """A fresh context: ``verify``'s trust, and the client certificate when there is one.

        Raises:
            ConfigError: the certificate or key is not valid PEM, they do not match, or the
                key's password is wrong; the message names the key, never its value.
        """
        return ssl_context(self.verify, self.identity, where=self.where)

    def for_httpx(self) -> ssl.SSLContext | bool | str:
        """What httpx takes as ``verify``: the plain setting, or a context with the identity."""
        return self.context() if self.identity is not None else self.verify


def connection_tls(connection: ConnectionConfig, where: str) -> ClientTLS:
    """The TLS of one side of a sync (``where``: ``"source"`` or ``"target"``)."""
    return ClientTLS(connection.verify, connection.tls, where)


def ssl_context(
    verify: bool | str, identity: TLSConfig | None = None, *, where: str = "connection"
) -> ssl.SSLContext:
    """The client context of ``verify`` (as httpx reads it) with ``identity`` loaded.

    Raises:
        ConfigError: the identity cannot be loaded (see :meth:`ClientTLS.context`).
    """
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        import certifi

        context = ssl.create_default_context(
            cafile=verify if isinstance(verify, str) else certifi.where()
        )
    if identity is not None:
        _load_identity(context, identity, where)
    return context


def _load_identity(context: ssl.SSLContext, identity: TLSConfig, where: str) -> None:
    password = identity.client_key_password
    key = identity.client_key.get_secret_value().encode()
    try:
        with _private_file(identity.client_cert.encode()) as cert_path:
            with _private_file(key) as key_path:
                context.load_cert_chain(
                    cert_path,
                    key_path,
                    password=(lambda: password.get_secret_value()) if password else None,
                )
    except ssl.SSLError as exc:
        raise ConfigError(
            f"{where}.tls: the client certificate could not be loaded ({_reason(exc)}): "
            f"`{where}.tls.client_cert` must be a PEM certificate and `{where}.tls.client_key` "
            "its PEM private key (with `client_key_password` when the key is encrypted)"
        ) from None
    finally:
        del key


def _reason(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "reason", None)
    if reason == "KEY_VALUES_MISMATCH":
        return "the key is not the certificate's"
    if reason in ("BAD_DECRYPT", "BAD_PASSWORD_READ"):
        return "the key's password is wrong or missing"
    return "not valid PEM" if reason is None or "PEM" in str(reason) else str(reason)


@contextlib.contextmanager
def _private_file(content: bytes) -> Iterator[str]:
    """A path OpenSSL can read ``content`` from, gone when the block ends.

    ``load_cert_chain`` takes paths only (Python's ssl has no in-memory loader), so: an
    anonymous memory file where the kernel has them (nothing on any disk), else a 0600 file in
    a fresh 0700 folder, deleted as soon as it has been read.
    """
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None and Path("/proc/self/fd").is_dir():
        fd = memfd("apilink-tls", getattr(os, "MFD_CLOEXEC", 0))
        try:
            os.write(fd, content)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="apilink-tls-") as folder:
        path = os.path.join(folder, "pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
        try:
            yield path
        finally:
            os.unlink(path)


# -- telling a refused handshake from a dropped connection -----------------------------------


def is_tls_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (an httpx or aiohttp error, with its causes) may be a refused handshake:
    an SSL error, or a connection closed or reset before any answer."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, ssl.SSLError | ConnectionResetError | ConnectionAbortedError):
            return True
        names = {kind.__name__ for kind in type(current).__mro__}
        if names & {"ServerDisconnectedError", "RemoteProtocolError", "ClientSSLError"}:
            return True
        if names & {"ClientOSError", "ReadError", "ConnectError"} and "SSL" in str(current):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


async def diagnose(tls: ClientTLS, url: httpx.URL, what: str) -> TLSRefused | None:
    """:func:`diagnose_sync` in a worker thread (the probe blocks)."""
    return await asyncio.to_thread(diagnose_sync, tls, url, what)


def diagnose_sync(tls: ClientTLS, url: httpx.URL, what: str) -> TLSRefused | None:
    """One probe handshake to ``url``'s host with ``tls``: the error to raise when the server
    refuses the client (or the client the server), ``None`` when TLS is not what failed.

    Nothing is sent over the probe: no request, no credential.
    """
    if url.scheme != "https":
        return None
    host, port = url.host, url.port or 443
    origin = f"https://{host}:{port}"
    context = tls.context()

    try:
        raw = socket.create_connection((host, port), timeout=_PROBE_SECONDS)
    except OSError:
        return None  # unreachable: a connection problem, retried as one
    with raw:
        try:
            conn = context.wrap_socket(raw, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            return TLSRefused(
                f"{what} {origin}: the server's certificate is not trusted "
                f"({exc.verify_message}); `{tls.where}.verify` names the CA bundle to trust"
            )
        except ssl.SSLError as exc:
            alert = str(getattr(exc, "reason", "") or "")
            about_certificate = "CERTIFICATE" in alert or "UNKNOWN_CA" in alert
            return _refused(tls, origin, what) if about_certificate else None
        except OSError:
            return None
        with conn:
            conn.settimeout(_WAIT_AFTER_HANDSHAKE)
            try:
                closed = conn.recv(1) == b""
            except TimeoutError:
                return None  # it waits for a request: the handshake was accepted
            except (ssl.SSLError, OSError):
                closed = True
    # A server that closes a connection it just completed a handshake on, before any request,
    # refused the certificate (TLS 1.3 checks it after the handshake).
    return _refused(tls, origin, what) if closed else None


def _refused(tls: ClientTLS, origin: str, what: str) -> TLSRefused:
    key = tls.field
    if tls.identity is None:
        return TLSRefused(
            f"{what} {origin}: the server refused the TLS connection: it requires a client "
            f"certificate (mutual TLS) and none is configured; set `{key}` and "
            f"`{tls.where}.tls.client_key`"
        )
    return TLSRefused(
        f"{what} {origin}: the server refused the client certificate of `{key}` (not issued by a "
        "CA it trusts, expired, or not for client authentication)"
    )
