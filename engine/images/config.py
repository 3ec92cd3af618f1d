"""Image configs: building one for `import`, and applying Dockerfile-style `--change` lines."""
from __future__ import annotations

import json
import platform
import shlex
from datetime import datetime, timezone

from engine.errors import InvalidArgument

ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_or_shell(rest: str) -> list[str]:
    rest = rest.strip()
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            raise InvalidArgument(f"invalid JSON array: {rest}") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidArgument(f"expected a JSON array of strings: {rest}")
        return value
    return ["/bin/sh", "-c", rest]


def _pairs(rest: str, instruction: str) -> list[tuple[str, str]]:
    words = shlex.split(rest)
    if len(words) >= 1 and "=" not in words[0]:
        if len(words) < 2 and instruction == "ENV":
            raise InvalidArgument(f"ENV needs a value: ENV {rest}")
        key, _, value = rest.strip().partition(" ")
        return [(key, value.strip())]
    out = []
    for w in words:
        if "=" not in w:
            raise InvalidArgument(f"{instruction} expects KEY=VALUE pairs: {instruction} {rest}")
        k, v = w.split("=", 1)
        out.append((k, v))
    return out


def apply_changes(config: dict, changes: list[str]) -> None:
    """Apply `ENV`, `CMD`, `ENTRYPOINT`, `WORKDIR`, `USER`, `LABEL`, `EXPOSE`, `STOPSIGNAL`, `VOLUME` lines."""
    for line in changes:
        instruction, _, rest = line.strip().partition(" ")
        instruction = instruction.upper()
        if instruction == "ENV":
            env = {e.split("=", 1)[0]: e.split("=", 1)[1] for e in config.get("Env") or []}
            env.update(_pairs(rest, "ENV"))
            config["Env"] = [f"{k}={v}" for k, v in env.items()]
        elif instruction == "CMD":
            config["Cmd"] = _json_or_shell(rest)
        elif instruction == "ENTRYPOINT":
            config["Entrypoint"] = _json_or_shell(rest)
        elif instruction == "WORKDIR":
            config["WorkingDir"] = rest.strip()
        elif instruction == "USER":
            config["User"] = rest.strip()
        elif instruction == "LABEL":
            labels = config.get("Labels") or {}
            labels.update(_pairs(rest, "LABEL"))
            config["Labels"] = labels
        elif instruction == "EXPOSE":
            ports = config.get("ExposedPorts") or {}
            for p in rest.split():
                ports[p if "/" in p else f"{p}/tcp"] = {}
            config["ExposedPorts"] = ports
        elif instruction == "STOPSIGNAL":
            config["StopSignal"] = rest.strip()
        elif instruction == "VOLUME":
            vols = config.get("Volumes") or {}
            for v in (_json_or_shell(rest) if rest.strip().startswith("[") else rest.split()):
                vols[v] = {}
            config["Volumes"] = vols
        else:
            raise InvalidArgument(f"{instruction} is not a valid change command (use ENV, CMD, ENTRYPOINT, WORKDIR, "
                                  "USER, LABEL, EXPOSE, STOPSIGNAL or VOLUME)")


def new_config(diff_ids: list[str], changes: list[str], comment: str = "Imported from tarball") -> bytes:
    config: dict = {}
    apply_changes(config, changes)
    created = now()
    doc = {
        "architecture": ARCH.get(platform.machine(), platform.machine()),
        "os": "linux",
        "config": config,
        "created": created,
        "history": [{"created": created, "comment": comment}],
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
