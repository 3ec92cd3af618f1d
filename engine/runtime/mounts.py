"""The container's own mounts (volumes, binds, tmpfs), made in its mount namespace before pivot_root.

Stdlib only: this runs in the container's first process. Each entry of the runtime config's
"mounts" is one of
  {"type": "volume", "source": DATA_DIR, "volume_dir": DIR, "target", "read_only", "subpath", "copy",
   "name", "device": {local driver options: type, device, o}}
  {"type": "bind", "source": HOST_PATH, "target", "read_only", "propagation"}
  {"type": "tmpfs", "target", "read_only", "options"}
A volume is seeded from the image's content at its target the first time any container mounts it
(when it is still empty and "copy" is set); a marker in the volume's directory records that use.
"""
from __future__ import annotations

import os

from engine.runtime import syscalls as sc

PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
}
USED_MARKER = "used"  # in the volume's directory: some container has mounted it (no seeding any more)


class MountError(Exception):
    pass


def root_propagation(mounts: list[dict]) -> int:
    """rprivate, unless a bind asks to share or receive mounts: then rslave, so what the host mounts
    below a shared source still reaches the container, and nothing the container mounts goes back."""
    if any(m.get("propagation", "rprivate") not in ("private", "rprivate") for m in mounts):
        return sc.MS_SLAVE | sc.MS_REC
    return sc.MS_PRIVATE | sc.MS_REC


def _bind(source: str, target: str, read_only: bool, propagation: str = "rprivate") -> None:
    sc.mount(source, target, None, sc.MS_BIND | sc.MS_REC)
    if read_only:
        sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)
    sc.mount(None, target, None, PROPAGATION[propagation or "rprivate"])


def _open_inside(root: str, subpath: str) -> int:
    """An O_PATH descriptor of *subpath* in *root*, refused if it (through symlinks) leaves *root*.

    The check is made on the opened file itself, so swapping a symlink in afterwards changes nothing."""
    real_root = os.path.realpath(root)
    try:
        fd = os.open(os.path.join(real_root, subpath), os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        raise MountError(f"volume subpath {subpath} does not exist in the volume: create it first") from None
    except OSError as e:
        raise MountError(f"volume subpath {subpath}: {e.strerror}") from None
    actual = os.readlink(f"/proc/self/fd/{fd}")
    if actual != real_root and not actual.startswith(real_root.rstrip("/") + "/"):
        os.close(fd)
        raise MountError(f"volume subpath {subpath} leads outside the volume")
    return fd


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


def _device_volume(rootfs: str, m: dict, inside, mount_target) -> None:
    """A local volume with driver options: a bind volume binds its device (a host directory); any other
    type is mounted at the target in this namespace, so it goes away with the container."""
    dev = m["device"]
    flags, data = mount_options(dev.get("o", ""))
    read_only = bool(m.get("read_only")) or bool(flags & sc.MS_RDONLY)
    image_path = inside(rootfs, m["target"])
    if flags & sc.MS_BIND:
        source = dev.get("device", "")
        if not os.path.isdir(source):
            raise MountError(f"volume {m.get('name')}: its device {source} is not a directory on the host")
        if m.get("subpath"):
            fd = _open_inside(source, m["subpath"])
            try:
                _bind(f"/proc/self/fd/{fd}", mount_target(rootfs, m["target"], True), read_only)
            finally:
                os.close(fd)
            return
        _seed({**m, "source": source}, image_path)
        _bind(source, mount_target(rootfs, m["target"], True), read_only)
        return
    seed = m.get("copy") and os.path.isdir(image_path) and not os.path.islink(image_path)
    below = os.open(image_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC) if seed else None
    try:
        target = mount_target(rootfs, m["target"], True)
        try:
            sc.mount(dev.get("device") or dev["type"], target, dev["type"], flags & ~sc.MS_RDONLY, data or None)
        except OSError as e:
            raise MountError(f"volume {m.get('name')}: cannot mount its {dev['type']} device: {e.strerror}") from None
        if below is not None and _is_empty(target):
            _copy(f"/proc/self/fd/{below}", target, m["target"])  # the image's directory, now under the mount
        if read_only:
            sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_RDONLY | (flags & ~sc.MS_RDONLY))
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


def _seed(m: dict, image_path: str) -> None:
    """Copy the image's content at the target into a volume mounted for the first time."""
    import fcntl

    vdir = m["volume_dir"]
    with open(os.path.join(vdir, "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = os.path.join(vdir, USED_MARKER)
        if os.path.exists(marker):
            return
        if m.get("copy") and os.path.isdir(image_path) and not os.path.islink(image_path) \
                and _is_empty(m["source"]):
            _copy(image_path, m["source"], m["target"])
        open(marker, "w").close()


def setup_mounts(rootfs: str, mounts: list[dict], inside, mount_target) -> None:
    """Make *mounts* under *rootfs*. *inside*(root, path) resolves a container path safely;
    *mount_target*(root, path, is_dir) also creates the mount point."""
    for m in mounts:
        kind = m["type"]
        if kind == "volume" and m.get("device"):
            _device_volume(rootfs, m, inside, mount_target)
        elif kind == "volume":
            image_path = inside(rootfs, m["target"])
            if not m.get("subpath"):
                _seed(m, image_path)
            fd = _open_inside(m["source"], m["subpath"]) if m.get("subpath") else None
            try:
                source = f"/proc/self/fd/{fd}" if fd is not None else m["source"]
                target = mount_target(rootfs, m["target"], os.path.isdir(source))
                _bind(source, target, bool(m.get("read_only")))
            finally:
                if fd is not None:
                    os.close(fd)
        elif kind == "bind":
            if not os.path.exists(m["source"]):
                raise MountError(f"bind mount source path does not exist: {m['source']}")
            target = mount_target(rootfs, m["target"], os.path.isdir(m["source"]))
            _bind(m["source"], target, bool(m.get("read_only")), m.get("propagation") or "rprivate")
        elif kind == "tmpfs":
            target = mount_target(rootfs, m["target"], True)
            flags = sc.MS_NOSUID | sc.MS_NODEV | (sc.MS_RDONLY if m.get("read_only") else 0)
            sc.mount("tmpfs", target, "tmpfs", flags, m.get("options") or "mode=1777")
