"""A one-shot loopback listener that catches the PKCE redirect (RFC 8252 7.3)."""

from __future__ import annotations

import queue
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from urllib.parse import urlsplit

from apilink.errors import AuthError

__all__ = ["RedirectListener"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class RedirectListener:
    """Listens on the redirect URI's loopback host and port; ``wait`` returns the redirect URL.

    Use as a context manager, so the socket is open before the browser is sent away.
    """

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in _LOOPBACK or parts.port is None:
            raise AuthError(
                "redirect_uri must be http://127.0.0.1:PORT/... (or localhost) to catch it here"
            )
        self._host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
        self._port = parts.port
        self._path = parts.path or "/"
        self._base = f"http://{parts.netloc}"
        self._received: queue.Queue[str] = queue.Queue(maxsize=1)
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RedirectListener:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path != listener._path:
                    self.send_error(404)
                    return
                body = b"<p>Authorization received. You may close this window.</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                try:
                    listener._received.put_nowait(listener._base + self.path)
                except queue.Full:
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass  # the request line holds the code and state: never log it

        self._server = HTTPServer((self._host, self._port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float) -> str:
        """The redirect URL, once the browser arrives; ``AuthError`` after ``timeout`` seconds."""
        try:
            return self._received.get(timeout=timeout)
        except queue.Empty:
            raise AuthError(f"no redirect arrived within {timeout:g} seconds") from None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
