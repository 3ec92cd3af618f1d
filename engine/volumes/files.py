"""The files of file mounts (secrets and configs), kept in the container's own directory.

They are written when the container is created, into ``containers/<id>/files/`` (0700, root's: no
other host user reaches them), one file per mount with the mount's mode and owner; the container's
first process binds each one read-only at its target, so nothing of them is written into the
container's root filesystem, and they go with the container's directory when it is removed.
"""
from __future__ import annotations

import os

from engine.types import Mount

DIRECTORY = "files"


def write_files(mounts: list[Mount], container_dir: str) -> None:
    """Write the content of each file mount of *mounts* under *container_dir*; each mount then names
    its file (relative to *container_dir*) and no longer holds the content."""
    todo = [m for m in mounts if m.type == "file"]
    if not todo:
        return
    base = os.path.join(container_dir, DIRECTORY)
    os.mkdir(base, 0o700)
    for i, m in enumerate(todo):
        name = str(i)
        fd = os.open(os.path.join(base, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            view = memoryview(m.content or b"")
            while view:
                view = view[os.write(fd, view):]
            os.fchown(fd, m.uid, m.gid)
            os.fchmod(fd, m.file_mode)  # after chown, which clears setuid/setgid bits
            os.fsync(fd)
        finally:
            os.close(fd)
        m.source, m.content = f"{DIRECTORY}/{name}", None


def host_path(m: Mount, container_dir: str) -> str:
    """Where the file of file mount *m* (as its container's record holds it) is kept."""
    name = os.path.basename(m.source)
    if not name or name.startswith("."):
        raise ValueError(f"file mount {m.target}: no file recorded")
    return os.path.join(container_dir, DIRECTORY, name)
