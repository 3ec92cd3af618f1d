"""Normalization: every short syntax of a service becomes its long form (as `docker compose config` prints)."""
from __future__ import annotations

import os
import re
import shlex
from typing import Any, Mapping

from composer.errors import StackFileError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any, where: str) -> float:
    """Go-style durations ("1m30s", "500ms"); a bare number is seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise StackFileError(f"{where}: invalid duration {text!r} (use forms like 10s, 1m30s, 500ms)")
    return total


_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0", ""}


def as_bool(value: Any, where: str = "") -> bool:
    """A boolean from YAML or from an interpolated string ("true", "no", "1"...)."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise StackFileError(f"{where}: {value!r} is not a boolean (use true or false)" if where
                         else f"{value!r} is not a boolean (use true or false)")


def split_command(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    return shlex.split(str(value))


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def key_value_map(value: Any, env: Mapping[str, str] | None = None, resolve: bool = False) -> dict[str, str | None]:
    """List ``["K=V", "K"]`` or mapping to a mapping; with *resolve*, bare keys take the environment's value."""
    out: dict[str, str | None] = {}
    if value is None:
        return out
    items = value.items() if isinstance(value, dict) else []
    if isinstance(value, list):
        pairs = []
        for entry in value:
            entry = str(entry)
            if "=" in entry:
                k, v = entry.split("=", 1)
                pairs.append((k, v))
            else:
                pairs.append((entry, None))
        items = pairs
    for k, v in items:
        if v is None:
            if resolve and env is not None and k in env:
                out[str(k)] = env[k]
            elif not resolve:
                out[str(k)] = None
            continue
        out[str(k)] = _scalar(v)
    return out


def _split_port_spec(spec: str) -> tuple[str, str, str]:
    """``[IP:][HOST:]CONTAINER`` -> (ip, host, container); IPv6 addresses go in brackets."""
    ip = ""
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0:
            raise ValueError("unclosed '[' in host IP")
        ip = spec[1:end]
        rest = spec[end + 1 :]
        if not rest.startswith(":"):
            raise ValueError("expected ':' after the host IP")
        rest = rest[1:]
        host, _, container = rest.rpartition(":")
        return ip, host, container
    parts = spec.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    # unbracketed IPv6 host IP: the last two fields are host and container
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def _port_range(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-", 1)
        lo, hi = int(a), int(b)
        if hi < lo:
            raise ValueError(f"invalid range {text}")
        return list(range(lo, hi + 1))
    return [int(text)]


def _port_number(value: Any, loc: str) -> int:
    try:
        n = int(str(value))
    except ValueError:
        raise StackFileError(f"{loc}: invalid port {value!r}: not a number") from None
    if not 0 <= n < 65536:
        raise StackFileError(f"{loc}: invalid port {value!r}: out of range")
    return n


def normalize_ports(value: list, where) -> list[dict]:
    out: list[dict] = []
    for i, entry in enumerate(value or []):
        loc = where(i)
        if isinstance(entry, dict):
            if "target" not in entry:
                raise StackFileError(f"{loc}: a port in long syntax needs a target")
            item = {"mode": entry.get("mode", "ingress"), "target": _port_number(entry["target"], loc),
                    "protocol": entry.get("protocol", "tcp")}
            if entry.get("host_ip"):
                item["host_ip"] = entry["host_ip"]
            if entry.get("published") not in (None, ""):
                item["published"] = str(entry["published"])
            out.append(item)
            continue
        spec = str(entry)
        proto = "tcp"
        if "/" in spec:
            spec, proto = spec.rsplit("/", 1)
        try:
            ip, host, container = _split_port_spec(spec)
            targets = _port_range(container)
            hosts = _port_range(host) if host else []
        except ValueError as e:
            raise StackFileError(f"{loc}: invalid port {entry!r}: {e}") from None
        if proto not in ("tcp", "udp", "sctp"):
            raise StackFileError(f"{loc}: invalid port {entry!r}: unknown protocol {proto!r}")
        if hosts and len(hosts) != len(targets) and len(targets) != 1:
            raise StackFileError(f"{loc}: invalid port {entry!r}: host and container ranges differ in size")
        for n, target in enumerate(targets):
            if not 0 < target < 65536:
                raise StackFileError(f"{loc}: invalid port {entry!r}: {target} is out of range")
            item = {"mode": "ingress", "target": target, "protocol": proto}
            if ip:
                item["host_ip"] = ip
            if hosts:
                item["published"] = str(hosts[n] if len(hosts) == len(targets) else f"{hosts[0]}-{hosts[-1]}")
            out.append(item)
    return out


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or source == "."


def _abs_path(source: str, project_dir: str) -> str:
    if source.startswith("~"):
        source = os.path.expanduser(source)
    return os.path.normpath(os.path.join(project_dir, source))


def normalize_volumes(value: list, project_dir: str, where) -> list[dict]:
    out: list[dict] = []
    for i, entry in enumerate(value or []):
        loc = where(i)
        if isinstance(entry, dict):
            item = dict(entry)
            if item.get("type") == "bind" and item.get("source"):
                item["source"] = _abs_path(str(item["source"]), project_dir)
            out.append(item)
            continue
        parts = str(entry).split(":")
        mode = ""
        if len(parts) == 1:
            source, target = "", parts[0]
        elif len(parts) == 2:
            source, target = parts
        elif len(parts) == 3:
            source, target, mode = parts
        else:
            raise StackFileError(f"{loc}: invalid volume {entry!r}: expected [SOURCE:]TARGET[:MODE]")
        if not target.startswith("/"):
            raise StackFileError(f"{loc}: invalid volume {entry!r}: the container path must be absolute")
        item: dict[str, Any]
        if not source:
            item = {"type": "volume", "target": target}
        elif _is_path(source):
            item = {"type": "bind", "source": _abs_path(source, project_dir), "target": target,
                    "bind": {"create_host_path": True}}
        else:
            item = {"type": "volume", "source": source, "target": target, "volume": {}}
        modes = set(mode.split(",")) if mode else set()
        if "ro" in modes:
            item["read_only"] = True
        out.append(item)
    return out


def normalize_depends_on(value: Any) -> dict[str, dict]:
    if not value:
        return {}
    if isinstance(value, list):
        return {str(name): {"condition": "service_started", "required": True} for name in value}
    out = {}
    for name, opts in value.items():
        opts = opts or {}
        out[str(name)] = {"condition": opts.get("condition", "service_started"),
                          "required": as_bool(opts.get("required", True)),
                          **({"restart": as_bool(opts["restart"])} if "restart" in opts else {})}
    return out


def normalize_service_networks(value: Any) -> dict[str, dict | None]:
    if value is None:
        return {"default": None}
    if isinstance(value, list):
        return {str(n): None for n in value}
    return {str(k): (dict(v) if v else None) for k, v in value.items()}
