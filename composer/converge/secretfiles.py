"""A service's `secrets` and `configs` as engine mounts, and the values of build secrets.

As Docker Compose (without Swarm) does: a `file:` source is bound read-only at the target (its
`uid`, `gid` and `mode` are ignored, with Compose's warning); an `environment:` source (and a
config's `content:`) becomes a file of its own with the reference's mode (default 0444) and owner
(default 0:0). Secrets go to /run/secrets/<source> (or /run/secrets/<target> for a relative
target, or the absolute target), configs to /<source> (or /<target>). Unlike Compose, which copies
an environment or content source into the container's filesystem, the engine keeps those files
out of it (engine/volumes/files.py). `external: true` needs Swarm and is refused.
"""
from __future__ import annotations

import os
import sys

from composer.errors import ComposerError
from composer.model import Project, Service
from engine.types import Mount

_warned: set[str] = set()


def _warn(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        print(f"WARN[0000] {message}", file=sys.stderr)


def definition(project: Project, kind: str, key: str, where: str) -> dict:
    """The top-level secret or config *key*, refused when Docker Compose cannot mount it either."""
    singular = kind[:-1]
    spec = (project.raw.get(kind) or {}).get(key)
    if spec is None:
        raise ComposerError(f"{where}: {singular} {key!r} is not declared in the top-level {kind}")
    if spec.get("external"):
        raise ComposerError(f"{where}: {singular} {key!r} is external (name {spec.get('name') or key}): external "
                            f"{kind} need Docker Swarm; give it a file: or environment: source instead")
    for attr in ("driver", "template_driver"):
        if spec.get(attr):
            raise ComposerError(f"{where}: {singular} {key!r}: {kind}.*.{attr} is not supported (as in Docker Compose)")
    return spec


def environment_value(project: Project, kind: str, key: str, spec: dict, where: str) -> str:
    var = str(spec["environment"])
    value = project.environment.get(var)
    if value is None:
        raise ComposerError(f"{where}: environment variable {var!r} required by {kind[:-1]} {key!r} is not set")
    return value


def service_file_mounts(project: Project, svc: Service, taken: set[str]) -> list[Mount]:
    """The mounts of *svc*'s secrets and configs; a target in *taken* (a volume's) keeps the volume,
    as in Docker Compose."""
    out: dict[str, Mount] = {}
    counts = {"secrets": 0, "configs": 0}
    for ref in svc.files:
        kind = ref.kind
        where = f"services.{svc.name}.{kind}[{counts[kind]}]"
        counts[kind] += 1
        spec = definition(project, kind, ref.source, where)
        path = os.path.normpath(ref.target)
        if path in taken or path in out:
            continue
        if spec.get("file") is not None and spec.get("environment") is None and spec.get("content") is None:
            if ref.ownership_given:
                _warn(f"{kind} `uid`, `gid` and `mode` are not supported, they will be ignored")
            source = str(spec["file"])
            if not os.path.exists(source):
                raise ComposerError(f"{where}: the file {source} of {kind[:-1]} {ref.source!r} does not exist")
            out[path] = Mount("bind", path, source, read_only=True)
            continue
        if spec.get("content") is not None:
            text = str(spec["content"])
        elif spec.get("environment") is not None:
            text = environment_value(project, kind, ref.source, spec, where)
        else:
            raise ComposerError(f"{where}: {kind[:-1]} {ref.source!r} has no source (give it file:, environment:"
                                f"{' or content:' if kind == 'configs' else ''})")
        out[path] = Mount("file", path, content=text.encode(), file_mode=ref.mode, uid=ref.uid, gid=ref.gid)
    return list(out.values())


def build_secrets(project: Project, svc: Service) -> dict[str, bytes]:
    """`build.secrets` of *svc*: {id: value} for RUN --mount=type=secret, the id being the
    reference's target (default its source), as Docker Compose passes them to the builder."""
    out: dict[str, bytes] = {}
    for i, ref in enumerate(svc.build_secrets):
        where = f"services.{svc.name}.build.secrets[{i}]"
        spec = definition(project, "secrets", ref.source, where)
        if spec.get("environment") is not None:
            out[ref.target] = environment_value(project, "secrets", ref.source, spec, where).encode()
        elif spec.get("file") is not None:
            out[ref.target] = read_secret_file(str(spec["file"]), f"{where}: secret {ref.source!r}")
        else:
            raise ComposerError(f"{where}: secret {ref.source!r} has no source (give it file: or environment:)")
    return out


def read_secret_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ComposerError(f"{what}: cannot read {path}: {e.strerror}") from None
