"""The container's own mounts (volumes, binds, tmpfs), made in its mount namespace before pivot_root.

Stdlib only: this runs in the container's first process. Each entry of the runtime config's
"mounts" is one of
  {"type": "volume", "source": DATA_DIR, "volume_dir": DIR, "target", "read_only", "subpath", "copy",
   "name", "device": {local driver options: type, device, o}}
  {"type": "bind", "source": HOST_PATH, "target", "read_only", "propagation", "source_root": DIR}
  {"type": "tmpfs", "target", "read_only", "options"}
A volume is seeded from the image's content at its target the first time any container mounts it
(when it is still empty and "copy" is set); a marker in the volume's directory records that use.
A bind's "source_root" (a build context) keeps its source inside that directory: symlinks on the way
are followed within it, never out. Sources and targets are held by descriptors from resolution to mount:
a bind is a detached copy of the source (open_tree) attached on the target's descriptor (move_mount),
or, before Linux 5.2, a mount on /proc/self/fd/N of the target.
"""
from __future__ import annotations

import os

from engine.runtime import syscalls as sc
from engine.snapshots.safepath import PathEscape, fd_path, open_in_root

PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
}
# what runc lets a bind cover in /proc (lxcfs's files); anything else there is refused
PROC_FILES = frozenset("/proc/" + p for p in ("cpuinfo", "diskstats", "meminfo", "stat", "swaps", "uptime",
                                               "loadavg", "slabinfo", "net/dev", "sys/kernel/ns_last_pid"))
USED_MARKER = "used"  # in the volume's directory: some container has mounted it (no seeding any more)


class MountError(Exception):
    pass


def root_propagation(mounts: list[dict]) -> int:
    """rprivate, unless a bind asks to share or receive mounts: then rslave, so what the host mounts
    below a shared source still reaches the container, and nothing the container mounts goes back."""
    if any(m.get("propagation", "rprivate") not in ("private", "rprivate") for m in mounts):
        return sc.MS_SLAVE | sc.MS_REC
    return sc.MS_PRIVATE | sc.MS_REC


class Root:
    """The container's root filesystem, held by a descriptor. Every path in it (a mount target, an
    image's directory to seed a volume from) is resolved inside it (openat2 RESOLVE_IN_ROOT, or a walk
    of O_PATH descriptors) and mounted on through /proc/self/fd/N, never looked up again by name: a
    container that swaps a directory for a symlink cannot send a mount outside (runc CVE-2021-30465)."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.path = os.readlink(fd_path(self.fd))

    def close(self) -> None:
        os.close(self.fd)

    def _real(self, fd: int, what: str) -> str:
        """Where *fd* is (closed if that is outside the root: cannot happen, checked all the same)."""
        real = os.readlink(fd_path(fd))
        if real != self.path and not real.startswith(self.path.rstrip("/") + "/"):
            os.close(fd)
            raise MountError(f"mount point {what} resolves outside the container's root filesystem")
        return real

    def open(self, path: str) -> int | None:
        """An O_PATH descriptor of the image's *path* in the root (to seed a volume from), or None if it
        does not exist or is the container's /proc (refused as a mount point later)."""
        try:
            fd = open_in_root(self.fd, path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except PathEscape as e:
            raise MountError(f"mount point {e}") from None
        rel = self._real(fd, path)[len(self.path):]
        if rel == "/proc" or rel.startswith("/proc/"):
            os.close(fd)
            return None
        return fd

    def mountpoint(self, path: str, is_dir: bool) -> int:
        """An O_PATH descriptor of the mount point *path*, made (a directory, or an empty file for a file
        bind) where missing. A mount may not cover the root itself or go into /proc, as runc says."""
        try:
            fd = open_in_root(self.fd, path, create="dir" if is_dir else "file")
        except PathEscape as e:
            raise MountError(f"mount point {e}") from None
        except OSError as e:
            raise MountError(f"cannot make the mount point {path} in the container: {e.strerror}") from None
        real = self._real(fd, path)
        rel = real[len(self.path):] or "/"
        if rel == "/" or rel == "/proc" or rel.startswith("/proc/") and rel not in PROC_FILES:
            os.close(fd)
            where = "is the container's root" if rel == "/" else "is inside /proc"
            raise MountError(f"mount point {path} {where} (through {rel}): not allowed")
        return fd

    def reopen(self, fd: int, what: str) -> int:
        """After a mount on *fd* (which still names the directory below): the new mount's root, found
        again inside the root and checked to be the same place (as runc does before the new mount API)."""
        real = os.readlink(fd_path(fd))
        try:
            top = open_in_root(self.fd, real[len(self.path):] or "/")
        except (OSError, PathEscape):
            top = None
        if top is None or os.readlink(fd_path(top)) != real:
            if top is not None:
                os.close(top)
            raise MountError(f"mount point {what} was moved while it was being mounted")
        return top


def _mount(source: str | None, fd: int, fstype: str | None, flags: int, data: str | None, what: str) -> None:
    try:
        sc.mount(source, fd_path(fd), fstype, flags, data)
    except OSError as e:
        raise MountError(f"cannot mount {what}: {os.strerror(e.errno) if e.errno else e}") from None


def _bind(root: Root, source: int, target: int, read_only: bool, propagation: str = "rprivate",
          what: str = "") -> None:
    """Bind what the descriptor *source* holds on the mount point descriptor *target*. With the new
    mount API a detached copy of the source is attached there and its descriptor names the new mount
    for what follows, so no name is looked up again; before it, the mount point is found again."""
    tree = None
    try:
        tree = sc.clone_tree(source)
        if tree is not None:
            sc.move_mount(tree, target)
    except OSError as e:
        if tree is not None:
            os.close(tree)
        raise MountError(f"cannot mount {what}: {os.strerror(e.errno) if e.errno else e}") from None
    if tree is None:
        _mount(fd_path(source), target, None, sc.MS_BIND | sc.MS_REC, None, what)
        tree = root.reopen(target, what)
    try:
        if read_only:
            _mount(None, tree, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC, None, what)
        _mount(None, tree, None, PROPAGATION[propagation or "rprivate"], None, what)
    finally:
        os.close(tree)


def bind_fd(root: Root, source: str, target: int, what: str) -> None:
    """A read-write bind of the host path *source* on the mount point descriptor *target*."""
    src = _open_source(source, what=f"{what}: its source")
    try:
        _bind(root, src, target, False, what=what)
    finally:
        os.close(src)


def _open_source(path: str, root: str = "", beneath: bool = False, what: str = "") -> int:
    """An O_PATH descriptor of a mount's source. With *root*, *path* (inside it) is resolved inside
    *root* and never leaves it: with *beneath*, a way out is refused (a volume's subpath), otherwise
    symlinks stay within (a build context, as BuildKit resolves a bind source)."""
    try:
        if not root:
            return os.open(path, os.O_PATH | os.O_CLOEXEC)
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            rel = os.path.relpath(path, root) if path.startswith("/") else path
            if rel == ".." or rel.startswith("../"):
                raise PathEscape(f"{path} is not inside {root}")
            return open_in_root(root_fd, rel, beneath=beneath)
        finally:
            os.close(root_fd)
    except PathEscape:
        raise MountError(f"{what} {path} leads outside {'the volume' if beneath else root}") from None
    except FileNotFoundError:
        if beneath:
            raise MountError(f"{what} {path} does not exist in the volume: create it first") from None
        raise MountError(f"{what} does not exist: {path}") from None
    except OSError as e:
        raise MountError(f"{what} {path}: {e.strerror}") from None


def _is_dir_fd(fd: int) -> bool:
    import stat

    return stat.S_ISDIR(os.fstat(fd).st_mode)


_FLAGS = {"ro": sc.MS_RDONLY, "rw": 0, "nosuid": sc.MS_NOSUID, "nodev": sc.MS_NODEV, "noexec": sc.MS_NOEXEC,
          "bind": sc.MS_BIND, "rbind": sc.MS_BIND | sc.MS_REC, "defaults": 0}


def mount_options(o: str) -> tuple[int, str]:
    """`o` of a local volume ("size=64m,uid=1000,nosuid", "bind") as mount flags and filesystem data."""
    flags, data = 0, []
    for opt in filter(None, o.split(",")):
        if opt in _FLAGS:
            flags |= _FLAGS[opt]
        else:
            data.append(opt)
    return flags, ",".join(data)


def _device_volume(root: Root, m: dict) -> None:
    """A local volume with driver options: a bind volume binds its device (a host directory); any other
    type is mounted at the target in this namespace, so it goes away with the container."""
    dev = m["device"]
    flags, data = mount_options(dev.get("o", ""))
    read_only = bool(m.get("read_only")) or bool(flags & sc.MS_RDONLY)
    what = m["target"]
    if flags & sc.MS_BIND:
        source = dev.get("device", "")
        if not os.path.isdir(source):
            raise MountError(f"volume {m.get('name')}: its device {source} is not a directory on the host")
        if m.get("subpath"):
            src = _open_source(m["subpath"], source, True, "volume subpath")
        else:
            _seed({**m, "source": source}, root)
            src = _open_source(source, what=f"volume {m.get('name')}: its device")
        try:
            target = root.mountpoint(m["target"], _is_dir_fd(src))
            try:
                _bind(root, src, target, read_only, what=what)
            finally:
                os.close(target)
        finally:
            os.close(src)
        return
    below = root.open(m["target"]) if m.get("copy") else None
    if below is not None and not _is_dir_fd(below):
        os.close(below)
        below = None
    try:
        target = root.mountpoint(m["target"], True)
        try:
            try:
                sc.mount(dev.get("device") or dev["type"], fd_path(target), dev["type"], flags & ~sc.MS_RDONLY,
                         data or None)
            except OSError as e:
                raise MountError(f"volume {m.get('name')}: cannot mount its {dev['type']} device: "
                                 f"{e.strerror}") from None
            top = root.reopen(target, what)
        finally:
            os.close(target)
        try:
            if below is not None and _is_empty(fd_path(top)):
                _copy(fd_path(below) + "/", fd_path(top) + "/", what)  # the image's directory, under the mount
            if read_only:
                _mount(None, top, None, sc.MS_REMOUNT | sc.MS_RDONLY | (flags & ~sc.MS_RDONLY), None, what)
        finally:
            os.close(top)
    finally:
        if below is not None:
            os.close(below)


def _is_empty(path: str) -> bool:
    with os.scandir(path) as it:
        return next(it, None) is None


def _copy(src: str, dst: str, target: str) -> None:
    from engine.volumes.copyup import copy_tree

    try:
        copy_tree(src, dst)
    except OSError as e:
        raise MountError(f"cannot copy the image's content at {target} into the volume: "
                         f"{e.strerror or e} ({e.filename or ''})") from None


def _seed(m: dict, root: Root) -> None:
    """Copy the image's content at the target into a volume mounted for the first time."""
    import fcntl

    vdir = m["volume_dir"]
    with open(os.path.join(vdir, "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = os.path.join(vdir, USED_MARKER)
        if os.path.exists(marker):
            return
        image = root.open(m["target"]) if m.get("copy") else None
        try:
            if image is not None and _is_dir_fd(image) and _is_empty(m["source"]):
                _copy(fd_path(image) + "/", m["source"], m["target"])
        finally:
            if image is not None:
                os.close(image)
        open(marker, "w").close()


def setup_mounts(root: Root, mounts: list[dict]) -> None:
    """Make *mounts* in the container's root filesystem *root*."""
    for m in mounts:
        kind = m["type"]
        if kind == "volume" and m.get("device"):
            _device_volume(root, m)
            continue
        if kind == "tmpfs":
            target = root.mountpoint(m["target"], True)
            try:
                flags = sc.MS_NOSUID | sc.MS_NODEV | (sc.MS_RDONLY if m.get("read_only") else 0)
                _mount("tmpfs", target, "tmpfs", flags, m.get("options") or "mode=1777", m["target"])
            finally:
                os.close(target)
            continue
        if kind == "volume":
            if m.get("subpath"):
                src = _open_source(m["subpath"], m["source"], True, "volume subpath")
            else:
                _seed(m, root)
                src = _open_source(m["source"], what=f"volume {m.get('name')}: its data directory")
            propagation = "rprivate"
        else:  # bind: a host path, or (source_root) a path that must stay inside a directory, e.g. a build context
            src = _open_source(m["source"], m.get("source_root") or "", False,
                               "bind mount source path")
            propagation = m.get("propagation") or "rprivate"
        try:
            target = root.mountpoint(m["target"], _is_dir_fd(src))
            try:
                _bind(root, src, target, bool(m.get("read_only")), propagation, m["target"])
            finally:
                os.close(target)
        finally:
            os.close(src)
