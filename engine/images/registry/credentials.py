"""Registry credentials in Docker's client config: `$DOCKER_CONFIG/config.json` (default ~/.docker).

Read: `auths[key].auth` (base64 "user:password") or `username`/`password`, an `identitytoken`,
and credential helpers (`credHelpers[key]` or `credsStore`: `docker-credential-<name> get`).
`login` and `logout` write `auths` (or use the configured helper), keeping every other key.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass

from engine.errors import InvalidArgument
from engine.images.registry.hosts import auth_key


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    identity_token: str = ""


def config_path() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def _read() -> dict:
    try:
        with open(config_path(), encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"cannot read {config_path()}: {e}") from None
    return data if isinstance(data, dict) else {}


def _write(data: dict) -> None:
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent="\t")
        f.write("\n")
    os.replace(tmp, path)


def _helper(data: dict, key: str) -> str | None:
    helpers = data.get("credHelpers") or {}
    return helpers.get(key) or data.get("credsStore") or None


def _run_helper(name: str, action: str, payload: str) -> str:
    try:
        res = subprocess.run([f"docker-credential-{name}", action], input=payload, capture_output=True, text=True,
                             timeout=30)
    except FileNotFoundError:
        raise InvalidArgument(f"credential helper docker-credential-{name} is configured in {config_path()} "
                              "but not installed") from None
    if res.returncode != 0:
        raise InvalidArgument(f"docker-credential-{name} {action}: {(res.stdout + res.stderr).strip()}")
    return res.stdout


def lookup(registry: str) -> Credentials | None:
    data = _read()
    key = auth_key(registry)
    helper = _helper(data, key)
    if helper:
        try:
            out = json.loads(_run_helper(helper, "get", key))
            user, secret = out.get("Username", ""), out.get("Secret", "")
            if user == "<token>":
                return Credentials("", "", secret)
            return Credentials(user, secret)
        except (InvalidArgument, ValueError):
            pass  # no entry in the helper: fall back to auths
    auths = data.get("auths") or {}
    entry = auths.get(key)
    if entry is None and key != registry:
        entry = auths.get(registry)
    if entry is None:
        for k, v in auths.items():  # entries written with a scheme or path: "https://host/v1/"
            if k.removeprefix("https://").removeprefix("http://").split("/")[0] == registry:
                entry = v
                break
    if not isinstance(entry, dict):
        return None
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgument(f"{config_path()}: the auth of {key} is not valid base64") from None
        return Credentials(user, password, entry.get("identitytoken", ""))
    if entry.get("username") or entry.get("identitytoken"):
        return Credentials(entry.get("username", ""), entry.get("password", ""), entry.get("identitytoken", ""))
    return None


def store(registry: str, creds: Credentials) -> None:
    data = _read()
    key = auth_key(registry)
    helper = _helper(data, key)
    if helper:
        _run_helper(helper, "store", json.dumps({"ServerURL": key, "Username": creds.username,
                                                 "Secret": creds.password}))
        data.setdefault("auths", {})[key] = {}
    else:
        raw = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        data.setdefault("auths", {})[key] = {"auth": raw}
    _write(data)


def erase(registry: str) -> bool:
    """Forget the credentials of *registry*; False if there were none."""
    data = _read()
    key = auth_key(registry)
    auths = data.get("auths") or {}
    found = key in auths
    helper = _helper(data, key)
    if helper:
        try:
            _run_helper(helper, "erase", key)
            found = True
        except InvalidArgument:
            pass
    if key in auths:
        del auths[key]
        _write(data)
    return found
