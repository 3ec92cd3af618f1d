"""Where a registry name is served: API host, scheme, and the key its credentials are stored under.

Plain HTTP is used for loopback hosts (`localhost`, 127.0.0.0/8, ::1) and for registries listed
as insecure: in the environment (`COMPOSER_INSECURE_REGISTRIES`, comma-separated `host[:port]`)
or in Docker's /etc/docker/daemon.json (`insecure-registries`); HTTPS everywhere else.
"""
from __future__ import annotations

import ipaddress
import json
import os

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
DAEMON_JSON = "/etc/docker/daemon.json"


def api_host(registry: str) -> str:
    return DOCKER_HUB_API if registry == DOCKER_HUB else registry


def auth_key(registry: str) -> str:
    """The key of `auths` in config.json that holds this registry's credentials."""
    return DOCKER_HUB_AUTH_KEY if registry in (DOCKER_HUB, DOCKER_HUB_API, "index.docker.io") else registry


def _hostname(registry: str) -> str:
    if registry.startswith("["):
        return registry[1:registry.index("]")]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def is_loopback(registry: str) -> bool:
    name = _hostname(registry)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _listed() -> list[str]:
    out = [x.strip() for x in os.environ.get("COMPOSER_INSECURE_REGISTRIES", "").split(",") if x.strip()]
    try:
        with open(DAEMON_JSON) as f:
            listed = json.load(f).get("insecure-registries") or []
        out += [x for x in listed if isinstance(x, str)]
    except (OSError, ValueError, AttributeError):
        pass
    return out


def _matches(registry: str, entry: str) -> bool:
    entry = entry.removeprefix("http://").removeprefix("https://").rstrip("/")
    if entry == registry or entry == _hostname(registry):
        return True
    if "/" in entry:  # a CIDR
        try:
            return ipaddress.ip_address(_hostname(registry)) in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    return False


def scheme(registry: str) -> str:
    if is_loopback(registry) or any(_matches(registry, e) for e in _listed()):
        return "http"
    return "https"
