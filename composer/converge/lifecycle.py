"""A service's supervision settings, read from its normalized mapping (`Service.raw`): the restart
policy (`restart` or `deploy.restart_policy`), the healthcheck and the log rotation options."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from composer.load import parsers as norm
from composer.errors import StackFileError

POLICIES = ("no", "always", "on-failure", "unless-stopped")
CONDITIONS = {"none": "no", "on-failure": "on-failure", "any": "always"}


@dataclass
class RestartSettings:
    """How a service's containers are restarted: its restart policy and back-off settings."""

    policy: str = "no"  # as Docker spells it: no, always, unless-stopped, on-failure[:N]
    delay: float | None = None  # deploy.restart_policy.delay: a fixed wait instead of the back-off
    max_attempts: int | None = None


def restart_settings(name: str, raw: dict[str, Any]) -> RestartSettings:
    """`deploy.restart_policy`, when given, wins over `restart` (as in Docker Compose)."""
    where = f"services.{name}"
    policy = (raw.get("deploy") or {}).get("restart_policy")
    if policy is not None:
        condition = str(policy.get("condition") or "any")
        if condition not in CONDITIONS:
            raise StackFileError(f"{where}.deploy.restart_policy.condition: invalid value {condition!r} "
                                 "(use none, on-failure or any)")
        delay = policy.get("delay")
        attempts = policy.get("max_attempts")
        return RestartSettings(
            CONDITIONS[condition],
            None if delay is None else norm.parse_duration(delay, f"{where}.deploy.restart_policy.delay"),
            None if attempts is None else _count(attempts, f"{where}.deploy.restart_policy.max_attempts"))
    value = raw.get("restart", "no")
    text = "no" if value is False or value is None else str(value)
    kind, colon, limit = text.partition(":")
    if kind not in POLICIES or (colon and (kind != "on-failure" or not limit.isdigit())):
        raise StackFileError(f"{where}.restart: invalid restart policy {text!r} "
                             "(use no, always, on-failure[:N] or unless-stopped)")
    return RestartSettings(text)


def _count(value: Any, where: str) -> int:
    try:
        n = int(str(value))
    except ValueError:
        raise StackFileError(f"{where}: {value!r} is not a whole number") from None
    if n < 0:
        raise StackFileError(f"{where}: must not be negative")
    return n


def healthcheck(name: str, raw: dict[str, Any]) -> dict | None:
    """The engine's healthcheck mapping: None when the service sets none (the image's applies),
    {"test": ["NONE"]} when it disables checks."""
    hc = raw.get("healthcheck")
    if hc is None:
        return None
    where = f"services.{name}.healthcheck"
    if norm.as_bool(hc.get("disable", False), f"{where}.disable"):
        return {"test": ["NONE"]}
    out: dict[str, Any] = {}
    test = hc.get("test")
    if isinstance(test, str):
        out["test"] = ["CMD-SHELL", test]
    elif isinstance(test, list):
        if not test or str(test[0]) not in ("NONE", "CMD", "CMD-SHELL"):
            raise StackFileError(f"{where}.test: a list must start with NONE, CMD or CMD-SHELL")
        out["test"] = [str(t) for t in test]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if hc.get(key) is not None:
            out[key] = norm.parse_duration(hc[key], f"{where}.{key}")
    if hc.get("retries") is not None:
        out["retries"] = _count(hc["retries"], f"{where}.retries")
    return out


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)b?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1000, "m": 1000 ** 2, "g": 1000 ** 3}  # Docker's json-file reads decimal units


def log_rotation(name: str, raw: dict[str, Any]) -> tuple[int, int]:
    """(max-size in bytes, max-file) from `logging.options`; (0, 1) means no rotation."""
    options = (raw.get("logging") or {}).get("options") or {}
    where = f"services.{name}.logging.options"
    size = 0
    if options.get("max-size") not in (None, "", "-1"):
        m = _SIZE.match(str(options["max-size"]))
        if not m:
            raise StackFileError(f"{where}.max-size: invalid size {options['max-size']!r} (use forms like 10k, 5m, 1g)")
        size = int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])
    files = 1
    if options.get("max-file") not in (None, ""):
        files = _count(options["max-file"], f"{where}.max-file")
        if files < 1:
            raise StackFileError(f"{where}.max-file: must be at least 1")
        if files > 1 and not size:
            raise StackFileError(f"{where}.max-file: needs max-size too")
    return size, files


def flag(name: str, raw: dict[str, Any], key: str) -> bool:
    """A boolean attribute of the service (tty, stdin_open)."""
    return norm.as_bool(raw.get(key, False), f"services.{name}.{key}")
