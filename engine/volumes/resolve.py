"""A new container's mounts, checked and completed before its record is written.

`volumes_from` is expanded into the other containers' volume and bind mounts, bind sources are
checked (or made, with create_host_path), and anonymous volumes get their engine volume. File
mounts (secrets, configs) are checked here and written by engine/volumes/files.py.
"""
from __future__ import annotations

import dataclasses
import os

from engine.errors import InvalidArgument, NotFound
from engine.types import ContainerSpec, Mount
from engine.volumes.local import is_bind

PROPAGATIONS = ("", "private", "rprivate", "shared", "rshared", "slave", "rslave")


def _check(m: Mount, volumes) -> None:
    where = f"mount {m.target or '?'}"
    if m.type not in ("volume", "bind", "tmpfs", "file"):
        raise InvalidArgument(f"{where}: unknown mount type {m.type!r} (use volume, bind, tmpfs or file)")
    if not m.target.startswith("/"):
        raise InvalidArgument(f"{where}: the container path must be absolute")
    if m.type == "volume":
        options = volumes.get(m.source).options if m.source else {}
        if options and is_bind(options) and not os.path.isdir(options.get("device", "")):
            raise InvalidArgument(f"volume {m.source}: its device {options.get('device')} is not a directory "
                                  "on the host")
        if options and m.subpath and not is_bind(options):
            raise InvalidArgument(f"{where}: subpath needs a volume whose data is a directory (not a {options['type']} "
                                  "device)")
        sub = m.subpath
        if sub and (sub.startswith("/") or ".." in sub.split("/")):
            raise InvalidArgument(f"{where}: volume subpath {sub!r} must be a relative path inside the volume "
                                  "(no '..', not absolute)")
    elif m.subpath or m.nocopy:
        raise InvalidArgument(f"{where}: subpath and nocopy apply to volume mounts only")
    if m.propagation not in PROPAGATIONS:
        raise InvalidArgument(f"{where}: unknown propagation {m.propagation!r} "
                              f"(use one of {', '.join(p for p in PROPAGATIONS if p)})")
    if m.propagation and m.type != "bind":
        raise InvalidArgument(f"{where}: propagation applies to bind mounts only")
    if m.type == "bind":
        if not m.source.startswith("/"):
            raise InvalidArgument(f"{where}: the bind source {m.source!r} must be an absolute host path")
        if not os.path.exists(m.source):
            if not m.create_host_path:
                raise InvalidArgument(f"bind mount source path does not exist: {m.source} "
                                      "(create it, or set bind.create_host_path)")
    if m.type == "file":
        if m.content is None:
            raise InvalidArgument(f"{where}: a file mount needs its content")
        if not 0 <= m.file_mode <= 0o7777:
            raise InvalidArgument(f"{where}: invalid file mode {oct(m.file_mode)}")
        if m.uid < 0 or m.gid < 0:
            raise InvalidArgument(f"{where}: invalid owner {m.uid}:{m.gid}")
    elif m.content is not None:
        raise InvalidArgument(f"{where}: content applies to file mounts only")
    if m.type == "tmpfs":
        if m.tmpfs_size < 0:
            raise InvalidArgument(f"{where}: tmpfs size must not be negative")
        if m.tmpfs_mode is not None and not 0 <= m.tmpfs_mode <= 0o7777:
            raise InvalidArgument(f"{where}: invalid tmpfs mode {oct(m.tmpfs_mode)}")


def _inherited(entry: str, records, own: set[str]) -> list[Mount]:
    name, _, mode = entry.partition(":")
    if mode not in ("", "ro", "rw"):
        raise InvalidArgument(f"volumes_from {entry}: unknown mode {mode!r} (use ro or rw)")
    try:
        rec = records.find(name)
    except NotFound:
        raise NotFound(f"volumes_from {entry}: no such container: {name}") from None
    out = []
    for d in rec["spec"]["mounts"]:
        m = Mount(**d)
        if m.type in ("tmpfs", "file") or m.target in own:  # secrets and configs are granted, not shared
            continue
        if mode:
            m.read_only = mode == "ro"
        out.append(m)
    return out


def resolve_mounts(spec: ContainerSpec, volumes, records) -> list[Mount]:
    """The container's full mount list, checked; anonymous volumes still without a name."""
    mounts = [dataclasses.replace(m) for m in spec.mounts]
    own = {m.target for m in mounts}
    for entry in spec.volumes_from:
        for m in _inherited(entry, records, own):
            own.add(m.target)
            mounts.append(m)
    seen: set[str] = set()
    for m in mounts:
        _check(m, volumes)
        target = os.path.normpath(m.target)
        if target in seen:
            raise InvalidArgument(f"duplicate mount point: {m.target}")
        seen.add(target)
    return mounts


def make_host_paths(mounts: list[Mount]) -> None:
    """Create the missing bind sources that ask for it (create_host_path), as Docker does."""
    for m in mounts:
        if m.type == "bind" and m.create_host_path and not os.path.exists(m.source):
            os.makedirs(m.source, exist_ok=True)


def name_anonymous(mounts: list[Mount], volumes) -> list[str]:
    """Give each anonymous volume mount a new engine volume; returns the names made."""
    made = []
    try:
        for m in mounts:
            if m.type == "volume" and not m.source:
                m.source = volumes.create_anonymous(m.volume_labels).name
                made.append(m.source)
    except BaseException:
        for name in made:
            volumes.remove(name)
        raise
    return made
