"""A service's mounts as engine Mounts: its normalized `volumes`, `tmpfs` and `volumes_from` (and its
`secrets` and `configs`, from composer/filerefs.py)."""
from __future__ import annotations

import re
from typing import Any

from composer.errors import ComposerError
from composer.model import Project, Service
from composer.load.parsers import abs_path, parse_bytes, parse_volume
from engine.api import ContainerInfo, Mount

_ANONYMOUS_NAME = re.compile(r"^[0-9a-f]{64}$")


def _mode(value: Any, where: str) -> int | None:
    """A permission mode: an int as written in YAML, or an octal string ("1777", "0755")."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        raise ComposerError(f"{where}: invalid mode {value!r} (use octal, like 1777)") from None


def _mount(item: dict, where: str, volume_name, anonymous_labels: dict[str, str]) -> Mount:
    """A mount in long form as an engine Mount; *volume_name* maps a named source to the engine's name."""
    kind = item.get("type", "volume")
    target = str(item.get("target") or "")
    read_only = bool(item.get("read_only"))
    source = str(item.get("source") or "")
    if kind == "volume":
        opts = item.get("volume") or {}
        return Mount("volume", target, volume_name(source) if source else "", read_only,
                     subpath=str(opts.get("subpath") or ""), nocopy=bool(opts.get("nocopy")),
                     volume_labels={} if source else dict(anonymous_labels))
    if kind == "bind":
        opts = item.get("bind") or {}
        return Mount("bind", target, source, read_only, propagation=str(opts.get("propagation") or ""),
                     create_host_path=bool(opts.get("create_host_path")))
    if kind == "tmpfs":
        opts = item.get("tmpfs") or {}
        size = opts.get("size")
        return Mount("tmpfs", target, read_only=read_only, tmpfs_size=parse_bytes(size, where) if size else 0,
                     tmpfs_mode=_mode(opts.get("mode"), where))
    raise ComposerError(f"{where}: mount type {kind!r} is not supported (use volume, bind or tmpfs)")


def _project_mount(project: Project, item: dict, where: str) -> Mount:
    from composer.converge import containerspec as desired

    def volume_name(key: str) -> str:
        if key not in project.volumes:
            raise ComposerError(f"{where}: volume {key!r} is not declared in the top-level volumes")
        return project.volumes[key].name

    return _mount(item, where, volume_name, {desired.LABEL_PROJECT: project.name})


def option_mount(spec: str, cwd: str, project: Project | None = None) -> Mount:
    """A `run -v [SOURCE:]TARGET[:MODE]` as a Mount: SOURCE is a host path (made when missing, as
    Docker's -v does) or a volume's name (with *project*, a key of its volumes first); none makes an
    anonymous volume."""
    from composer.converge import containerspec as desired

    item = parse_volume(spec, f"-v {spec}")
    if item["type"] == "bind":
        item["source"] = abs_path(item["source"], cwd)
        item.setdefault("bind", {})["create_host_path"] = True
    known = project.volumes if project else {}
    labels = {desired.LABEL_PROJECT: project.name} if project else {}
    return _mount(item, f"-v {spec}", lambda name: known[name].name if name in known else name, labels)


def _tmpfs_entry(entry: str, where: str) -> Mount:
    """A `tmpfs:` entry, "PATH[:OPTIONS]" with Docker's options (size=64m, mode=1770, ro...)."""
    target, _, options = str(entry).partition(":")
    m = Mount("tmpfs", target)
    for opt in filter(None, options.split(",")):
        key, _, value = opt.partition("=")
        if key == "size":
            m.tmpfs_size = parse_bytes(value, where)
        elif key == "mode":
            m.tmpfs_mode = _mode(value, where)
        elif key in ("ro", "rw"):
            m.read_only = key == "ro"
        elif key not in ("nosuid", "nodev", "noexec", "exec", "suid", "dev", "async", "sync", "atime",
                         "noatime", "relatime", "strictatime", "nr_inodes", "uid", "gid"):
            raise ComposerError(f"{where}: unknown tmpfs option {opt!r}")
    return m


def service_mounts(project: Project, svc: Service, previous: ContainerInfo | None = None) -> list[Mount]:
    """The mounts of *svc*'s container. With *previous* (the container it replaces), anonymous
    volumes reuse that container's volume at the same path, so their data survives a recreate."""
    mounts = [_project_mount(project, item, f"services.{svc.name}.volumes[{i}]")
              for i, item in enumerate(svc.raw.get("volumes") or [])]
    tmpfs = svc.raw.get("tmpfs") or []
    for i, entry in enumerate([tmpfs] if isinstance(tmpfs, str) else tmpfs):
        mounts.append(_tmpfs_entry(entry, f"services.{svc.name}.tmpfs[{i}]"))
    if previous is not None:
        inherit_anonymous(mounts, previous)
    if svc.raw.get("secrets") or svc.raw.get("configs"):
        import os

        from composer.converge.secretfiles import service_file_mounts

        mounts += service_file_mounts(project, svc, {os.path.normpath(m.target) for m in mounts})
    return mounts


def inherit_anonymous(mounts: list[Mount], previous: ContainerInfo) -> None:
    old = {m.target: m.source for m in previous.spec.mounts
           if m.type == "volume" and _ANONYMOUS_NAME.match(m.source)}
    for m in mounts:
        if m.type == "volume" and not m.source and m.target in old:
            m.source = old[m.target]


def volumes_from(project: Project, svc: Service) -> list[str]:
    """`volumes_from` entries as engine container names with their mode: service:NAME (or a bare
    NAME) is that service's first container, container:NAME a container by name."""
    from composer.converge.containerspec import container_name

    out = []
    for entry in svc.raw.get("volumes_from") or []:
        entry = str(entry)
        kind, _, rest = entry.partition(":")
        if kind not in ("service", "container"):
            kind, rest = "service", entry
        name, _, mode = rest.partition(":")
        if mode not in ("", "ro", "rw"):
            raise ComposerError(f"services.{svc.name}.volumes_from: {entry!r}: unknown mode {mode!r} (use ro or rw)")
        if kind == "service":
            if name not in project.services:
                raise ComposerError(f"services.{svc.name}.volumes_from: {entry!r}: no such service: {name}")
            name = container_name(project, project.services[name])
        out.append(f"{name}:{mode}" if mode else name)
    return out


def services_mounted_from(svc: Service) -> list[str]:
    """The services whose container *svc*'s `volumes_from` needs to exist before its own is created."""
    out = []
    for entry in svc.raw.get("volumes_from") or []:
        kind, _, rest = str(entry).partition(":")
        if kind == "container":
            continue
        out.append((rest if kind == "service" else str(entry)).partition(":")[0])
    return out


def volume_options(project: Project, key: str) -> dict[str, str]:
    """A top-level volume's driver_opts (local: type, device, o), as strings."""
    raw = (project.raw.get("volumes") or {}).get(key) or {}
    return {str(k): str(v) for k, v in (raw.get("driver_opts") or {}).items()}
