"""Answering a registry's `WWW-Authenticate` challenge: bearer tokens or basic auth.

A bearer token is fetched from the challenge's realm for the scopes a request needs (anonymously,
with basic credentials, or by an OAuth2 refresh token for identity tokens) and cached per scope
set, so a pull asks the token server once.
"""
from __future__ import annotations

import base64
import json
import re
import threading
from urllib.parse import urlencode, urlsplit

from engine.errors import RegistryError, Unauthorized
from engine.images.registry.credentials import Credentials
from engine.images.registry.transport import Transport

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """('bearer'|'basic'|..., params) of one WWW-Authenticate value."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)).replace('\\"', '"')
              for m in _PARAM.finditer(rest)}
    return scheme.lower(), params


def basic_header(creds: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


class Authorizer:
    """The Authorization header for a registry, learnt from its challenges."""

    def __init__(self, registry: str, creds: Credentials | None, transport: Transport):
        self.registry = registry
        self.creds = creds
        self.transport = transport
        self.scheme: str | None = None  # set by the first challenge
        self.params: dict[str, str] = {}
        self._tokens: dict[tuple[str, ...], str] = {}
        self._lock = threading.Lock()

    def header(self, scopes: tuple[str, ...]) -> str | None:
        if self.scheme == "basic" and self.creds:
            return basic_header(self.creds)
        if self.scheme == "bearer":
            with self._lock:
                token = self._tokens.get(scopes)
            if token is None:
                token = self._fetch_token(scopes)
            return "Bearer " + token
        return None

    def challenged(self, headers: list[str], scopes: tuple[str, ...]) -> bool:
        """Learn from a 401's challenges (forgetting the token it refused); True if a retry may succeed."""
        for value in headers:
            scheme, params = parse_challenge(value)
            if scheme == "bearer":
                with self._lock:
                    self._tokens.pop(scopes, None)
                self.scheme, self.params = "bearer", params
                return True
            if scheme == "basic" and self.creds is not None:
                self.scheme, self.params = "basic", params
                return True
        return False

    def _fetch_token(self, scopes: tuple[str, ...]) -> str:
        realm = self.params.get("realm")
        if not realm or urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(f"{self.registry}: the registry asked for a token without a usable realm ({realm!r})")
        query = [("service", self.params["service"])] if self.params.get("service") else []
        query += [("scope", s) for s in scopes]
        creds = self.creds
        if creds and creds.identity_token:
            form = urlencode([("grant_type", "refresh_token"), ("refresh_token", creds.identity_token),
                              ("client_id", "composer"), *query]).encode()
            resp = self.transport.request("POST", realm, {"Content-Type": "application/x-www-form-urlencoded"}, form)
        else:
            headers = {"Authorization": basic_header(creds)} if creds and creds.username else {}
            sep = "&" if "?" in realm else "?"
            resp = self.transport.request("GET", realm + (sep + urlencode(query) if query else ""), headers)
        with resp:
            body = resp.read()
            if resp.status in (401, 403):
                who = f"as {creds.username}" if creds and creds.username else "anonymously"
                raise Unauthorized(f"{self.registry}: the token server refused access {who} "
                                   f"({' '.join(scopes)}): run `composer login {self.registry}`")
            if resp.status != 200:
                raise RegistryError(f"{self.registry}: the token server answered {resp.status}")
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.registry}: the token server sent no token")
        with self._lock:
            self._tokens[scopes] = token
        return token
