"""HTTP for the registry client, on the standard library's http.client.

One keep-alive connection per thread and (scheme, host); a request that finds its kept connection
closed by the server is sent once more on a fresh one. GET and HEAD follow redirects (blob
downloads are often redirected to storage elsewhere); Authorization is not sent to another host.
"""
from __future__ import annotations

import http.client
import ssl
import threading
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

from engine.errors import RegistryError

TIMEOUT = 60.0
_RETRYABLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine)


class Response:
    """A response whose body is read by the caller; `close()` keeps the connection only if fully read."""

    def __init__(self, raw: http.client.HTTPResponse, conn: http.client.HTTPConnection, url: str):
        self.raw = raw
        self.status = raw.status
        self.url = url
        self._conn = conn

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.raw.getheader(name, default)

    def headers_all(self, name: str) -> list[str]:
        return self.raw.headers.get_all(name) or []

    def read(self, n: int = -1) -> bytes:
        return self.raw.read(n) if n >= 0 else self.raw.read()

    def readinto(self, b) -> int:
        return self.raw.readinto(b)

    def close(self) -> None:
        if not self.raw.isclosed():
            self._conn.close()  # unread body on the wire: this connection cannot be reused
        self.raw.close()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Transport:
    def __init__(self, timeout: float = TIMEOUT):
        self.timeout = timeout
        self._local = threading.local()

    def _conn(self, scheme: str, netloc: str, fresh: bool) -> http.client.HTTPConnection:
        pool = self._local.__dict__.setdefault("pool", {})
        key = (scheme, netloc)
        conn = pool.get(key)
        if conn is not None and fresh:
            conn.close()
            conn = None
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=ssl.create_default_context())
            else:
                conn = http.client.HTTPConnection(netloc, timeout=self.timeout)
            pool[key] = conn
        return conn

    def close(self) -> None:
        for conn in self._local.__dict__.get("pool", {}).values():
            conn.close()
        self._local.__dict__["pool"] = {}

    def request(self, method: str, url: str, headers: dict[str, str] | None = None,
                body: bytes | BinaryIO | None = None, follow: bool = True) -> Response:
        headers = dict(headers or {})
        start = body.tell() if body is not None and hasattr(body, "seek") else None
        for _ in range(6):
            parts = urlsplit(url)
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            resp = self._send(method, parts.scheme, parts.netloc, path, headers, body, start, url)
            if follow and method in ("GET", "HEAD") and resp.status in (301, 302, 303, 307, 308):
                location = resp.header("Location")
                resp.read()
                resp.close()
                if not location:
                    raise RegistryError(f"{url}: redirect without a Location")
                new = urljoin(url, location)
                if urlsplit(new).netloc != parts.netloc:
                    headers.pop("Authorization", None)
                url = new
                continue
            return resp
        raise RegistryError(f"{url}: too many redirects")

    def _send(self, method: str, scheme: str, netloc: str, path: str, headers: dict[str, str],
              body: bytes | BinaryIO | None, start: int | None, url: str) -> Response:
        for attempt in (0, 1):
            conn = self._conn(scheme, netloc, fresh=attempt > 0)
            try:
                conn.request(method, path, body=body, headers=headers)
                return Response(conn.getresponse(), conn, url)
            except _RETRYABLE as e:
                conn.close()
                if attempt or (body is not None and not isinstance(body, bytes) and start is None):
                    raise RegistryError(f"{method} {url}: connection lost ({type(e).__name__})") from None
                if start is not None:
                    body.seek(start)  # type: ignore[union-attr]
            except ssl.SSLError as e:
                conn.close()
                raise RegistryError(f"{netloc}: TLS failed ({e.reason or e}); if this registry speaks plain HTTP, "
                                    "list it in COMPOSER_INSECURE_REGISTRIES") from None
            except OSError as e:
                conn.close()
                raise RegistryError(f"cannot reach {netloc}: {e.strerror or e}") from None
        raise AssertionError("unreachable")
