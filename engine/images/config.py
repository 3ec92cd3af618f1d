"""Image configs: building one for `import`, and applying Dockerfile-style `--change` lines to it.

The config is Docker/OCI image config JSON. As with `docker import`, nothing is set in its
"config" (no Env, no Cmd) unless a change line sets it.
"""
from __future__ import annotations

import json
import platform
import re
import shlex
from datetime import UTC, datetime

from engine.errors import InvalidArgument

ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm", "armv6l": "arm",
        "i686": "386", "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}
CHANGE_COMMANDS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")
_PORT = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?(?:/(tcp|udp|sctp))?$", re.IGNORECASE)


def host_architecture() -> str:
    """The host's architecture in OCI/Go terms (amd64, arm64...)."""
    machine = platform.machine()
    return ARCH.get(machine, machine)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _words(rest: str, line: str) -> list[str]:
    try:
        return shlex.split(rest)
    except ValueError as e:
        raise InvalidArgument(f"cannot parse change {line!r}: {e}") from None


def _json_or_shell(rest: str, line: str) -> list[str]:
    """The exec form (a JSON array of strings) as is; the shell form wrapped in /bin/sh -c."""
    rest = rest.strip()
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        # like Docker, a line that is not a valid JSON array is taken as the shell form
    return ["/bin/sh", "-c", rest]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _pairs(rest: str, instruction: str, line: str) -> list[tuple[str, str]]:
    """`K=V K2="v 2"` pairs, or the legacy single pair `K the rest of the line`."""
    first = rest.split(None, 1)[0]
    if "=" not in first:
        parts = rest.split(None, 1)
        if len(parts) < 2:
            raise InvalidArgument(f"{instruction} needs a name and a value: {line!r} (e.g. {instruction} KEY=value)")
        return [(parts[0], _unquote(parts[1]))]
    out = []
    for word in _words(rest, line):
        if "=" not in word:
            raise InvalidArgument(f"{instruction} expects KEY=VALUE pairs: {line!r}")
        key, value = word.split("=", 1)
        if not key:
            raise InvalidArgument(f"{instruction} has an empty name: {line!r}")
        out.append((key, value))
    return out


def _ports(rest: str, line: str) -> list[str]:
    out = []
    for word in rest.split():
        m = _PORT.match(word)
        if not m:
            raise InvalidArgument(f"invalid port {word!r} in {line!r}: use PORT, PORT/PROTO or FROM-TO[/PROTO]")
        lo, hi, proto = int(m.group(1)), int(m.group(2) or m.group(1)), (m.group(3) or "tcp").lower()
        if not 0 < lo <= hi <= 65535:
            raise InvalidArgument(f"invalid port range {word!r} in {line!r}: ports are 1-65535")
        out += [f"{p}/{proto}" for p in range(lo, hi + 1)]
    return out


def apply_changes(config: dict, changes: list[str]) -> None:
    """Apply Dockerfile-style lines (`ENV`, `CMD`, `ENTRYPOINT`, `WORKDIR`, `USER`, `LABEL`, `EXPOSE`,
    `STOPSIGNAL`, `VOLUME`) to an image config's "config" object, in order."""
    for raw in changes:
        line = raw.strip()
        instruction, _, rest = line.partition(" ")
        instruction, rest = instruction.upper(), rest.strip()
        if instruction not in CHANGE_COMMANDS:
            raise InvalidArgument(f"{line.split(' ')[0] or raw!r} is not a valid change command: use one of "
                                  + ", ".join(CHANGE_COMMANDS))
        if not rest:
            raise InvalidArgument(f"{instruction} needs an argument: {raw!r}")
        if instruction == "ENV":
            env = dict(e.split("=", 1) if "=" in e else (e, "") for e in config.get("Env") or [])
            env.update(_pairs(rest, "ENV", line))
            config["Env"] = [f"{k}={v}" for k, v in env.items()]
        elif instruction == "LABEL":
            labels = dict(config.get("Labels") or {})
            labels.update(_pairs(rest, "LABEL", line))
            config["Labels"] = labels
        elif instruction == "CMD":
            config["Cmd"] = _json_or_shell(rest, line)
        elif instruction == "ENTRYPOINT":
            config["Entrypoint"] = _json_or_shell(rest, line)
        elif instruction == "WORKDIR":
            config["WorkingDir"] = _unquote(rest)
        elif instruction == "USER":
            config["User"] = _unquote(rest)
        elif instruction == "STOPSIGNAL":
            config["StopSignal"] = _unquote(rest)
        elif instruction == "EXPOSE":
            ports = dict(config.get("ExposedPorts") or {})
            for p in _ports(rest, line):
                ports[p] = {}
            config["ExposedPorts"] = ports
        elif instruction == "VOLUME":
            vols = dict(config.get("Volumes") or {})
            names = _json_or_shell(rest, line) if rest.startswith("[") else rest.split()
            if names[:2] == ["/bin/sh", "-c"]:
                names = rest.split()
            for v in names:
                vols[v] = {}
            config["Volumes"] = vols


def new_config(diff_ids: list[str], changes: list[str], comment: str = "Imported from tarball") -> bytes:
    """The config bytes of a new image of these layers (bottom first) with *changes* applied."""
    config: dict = {}
    apply_changes(config, changes)
    created = now()
    doc = {
        "architecture": host_architecture(),
        "os": "linux",
        "config": config,
        "created": created,
        "history": [{"created": created, "comment": comment}],
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
