"""Persistent network namespaces: a namespace kept alive by a bind mount on a file. Stdlib only."""
from __future__ import annotations

import fcntl
import os
import socket
import struct

from engine.runtime import syscalls as sc

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def create_netns(path: str) -> None:
    """A new network namespace, with `lo` up, pinned at *path*."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a short-lived child: unsharing here leaves the caller (and its threads) alone
        err = b""
        try:
            os.close(r)
            sc.unshare(sc.CLONE_NEWNET)
            _loopback_up()
            sc.mount("/proc/self/ns/net", path, None, sc.MS_BIND)
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            err = str(e).encode() or b"failed"
        os.write(w, err)
        os._exit(1 if err else 0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        err = f.read()
    os.waitpid(pid, 0)
    if err:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise OSError(f"cannot create a network namespace at {path}: {err.decode(errors='replace')}")


def destroy_netns(path: str) -> None:
    """Unpin and delete; the namespace (and veth ends in it) go when nothing else holds it. Idempotent."""
    try:
        sc.umount(path, sc.MNT_DETACH)
    except OSError:
        pass
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
