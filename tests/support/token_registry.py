"""A registry front for tests: bearer-token (or basic) auth in front of a real registry, plus faults.

`AuthProxy(backend)` listens on 127.0.0.1:<free port>. `/token` is its token server: it hands out
tokens for the requested scopes (anonymous callers get `pull` only, unless `anonymous=False`; a
caller with the right basic credentials gets what it asks). Every `/v2/` request must carry a
token covering its repository and action, else it gets a 401 challenge naming the token server;
with `basic=True` the proxy asks for basic auth instead. Allowed requests are forwarded to the
backend registry. Faults for tests: `tamper` flips a byte of every blob body sent; `cut_first_blob`
breaks the first blob download half-way (the client must resume). `requests` logs what came in.
"""
from __future__ import annotations

import base64
import http.client
import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_REPO = re.compile(r"^/v2/(.+?)/(manifests|blobs|tags)/")


class AuthProxy:
    def __init__(self, backend: str, user: str = "alice", password: str = "s3cret", anonymous: bool = True,
                 basic: bool = False):
        self.backend = backend
        self.user, self.password = user, password
        self.anonymous = anonymous
        self.basic = basic
        self.tamper = False
        self.cut_first_blob = False
        self.tokens: dict[str, set[tuple[str, str]]] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                proxy.handle(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- auth ------------------------------------------------------------------------------
    def _basic_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return (user, password) == (self.user, self.password)

    def _token(self, h: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(h.path).query)
        authed = self._basic_ok(h.headers.get("Authorization"))
        if h.headers.get("Authorization") and not authed:
            return self._reply(h, 401, b'{"details":"bad credentials"}')
        if not authed and not self.anonymous:
            return self._reply(h, 401, b'{"details":"credentials needed"}')
        granted = set()
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            repo, _, actions = rest.rpartition(":")
            for action in actions.split(","):
                if kind == "repository" and (authed or action == "pull"):
                    granted.add((repo, action))
        token = secrets.token_hex(16)
        with self.lock:
            self.tokens[token] = granted
        self._reply(h, 200, json.dumps({"token": token, "expires_in": 300}).encode())

    def _allowed(self, h: BaseHTTPRequestHandler, repo: str | None, action: str) -> bool:
        header = h.headers.get("Authorization") or ""
        if self.basic:
            return self._basic_ok(header)
        if not header.startswith("Bearer "):
            return False
        granted = self.tokens.get(header[7:])
        if granted is None:
            return False
        return repo is None or (repo, action) in granted

    def _challenge(self, h: BaseHTTPRequestHandler, repo: str | None, action: str) -> None:
        if self.basic:
            value = 'Basic realm="test registry"'
        else:
            value = f'Bearer realm="http://{self.host}/token",service="test-registry"'
            if repo:
                value += f',scope="repository:{repo}:{action}"'
        self._reply(h, 401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                    {"WWW-Authenticate": value})

    # -- requests --------------------------------------------------------------------------
    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict | None = None) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((h.command, h.path, dict(h.headers)))
        if h.path.startswith("/token"):
            return self._token(h)
        m = _REPO.match(urlsplit(h.path).path)
        repo = m.group(1) if m else None
        if repo is None and "/blobs/uploads" in h.path:
            repo = urlsplit(h.path).path[len("/v2/"):].split("/blobs/uploads")[0]
        if repo is not None:
            from urllib.parse import unquote

            repo = unquote(repo)
        action = "pull" if h.command in ("GET", "HEAD") else "push"
        if not self._allowed(h, repo, action):
            return self._challenge(h, repo, action)
        self._forward(h, body)

    def _forward(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        conn = http.client.HTTPConnection(self.backend, timeout=30)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("authorization", "host", "connection")}
        conn.request(h.command, h.path, body=body if body or h.command in ("PUT", "POST", "PATCH") else None,
                     headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        is_blob = h.command == "GET" and "/blobs/sha256:" in h.path and resp.status in (200, 206)
        if is_blob and self.tamper and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        cut = False
        if is_blob and self.cut_first_blob and len(data) > 1024:
            self.cut_first_blob = False
            cut = True
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            if k.lower() == "location":
                v = v.replace(f"http://{self.backend}", f"http://{self.host}")
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        if cut:
            h.send_header("Connection", "close")
        h.end_headers()
        if h.command != "HEAD":
            if cut:
                h.wfile.write(data[:len(data) // 2])
                h.wfile.flush()
                h.close_connection = True
                import socket

                h.connection.shutdown(socket.SHUT_RDWR)
                return
            h.wfile.write(data)
        conn.close()
