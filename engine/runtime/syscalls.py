"""Thin ctypes wrappers for the Linux calls Python 3.11's os module lacks. Stdlib only."""
from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MNT_DETACH = 2

_SYS_PIVOT_ROOT = 155  # x86_64
_SYS_OPEN_TREE = 428  # the same number on every architecture (the new mount API, Linux 5.2)
_SYS_MOVE_MOUNT = 429
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
_SYS_CAPSET = 126
_SYS_SECCOMP = 317
_SYS_CLOSE_RANGE = 436
CLOSE_RANGE_CLOEXEC = 4
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_SET_MODE_FILTER = 1
_CAP_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(s: str | None) -> bytes | None:
    return s.encode() if s is not None else None


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def umount(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), f"umount {target}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), "sethostname")


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, len(raw)), "setdomainname")


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.syscall(_SYS_PIVOT_ROOT, _b(new_root), _b(put_old)), "pivot_root")


def clone_tree(fd: int) -> int | None:
    """open_tree(OPEN_TREE_CLONE | AT_RECURSIVE) of what *fd* holds: a detached copy of that mount tree,
    as a descriptor; None where the kernel lacks the new mount API."""
    import errno

    ret = _libc.syscall(_SYS_OPEN_TREE, ctypes.c_int(fd), b"",
                        ctypes.c_uint(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH))
    if ret < 0:
        err = ctypes.get_errno()
        if err == errno.ENOSYS:
            return None
        raise OSError(err, f"open_tree: {os.strerror(err)}")
    return int(ret)


def move_mount(tree: int, target: int) -> None:
    """Attach the detached mount *tree* on the directory (or file) the descriptor *target* holds."""
    _check(_libc.syscall(_SYS_MOVE_MOUNT, ctypes.c_int(tree), b"", ctypes.c_int(target), b"",
                         ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)), "move_mount")


def prctl(option: int, arg: int = 0, arg3: int = 0) -> int:
    ret = _libc.prctl(option, arg, arg3, 0, 0)
    if ret < 0:
        _check(ret, "prctl")
    return ret


def close_fds(keep: set[int] | frozenset[int] = frozenset()) -> None:
    """Close every descriptor above 2 but *keep* (os.closerange is close_range(2) on Linux)."""
    low = 3
    for fd in sorted(f for f in keep if f >= 3):
        if fd > low:
            os.closerange(low, fd)
        low = max(low, fd + 1)
    os.closerange(low, 0x7FFFFFFF)


def cloexec_fds(low: int = 3) -> None:
    """Mark every descriptor from *low* up close-on-exec: what runs after execve holds only 0, 1, 2 and
    what it opens itself, whoever opened the rest (the caller, the monitor, a mount step)."""
    if _libc.syscall(_SYS_CLOSE_RANGE, low, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC) == 0:
        return
    import fcntl  # kernels before 5.11: one by one

    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= low:
            try:
                fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
            except OSError:
                pass  # the directory's own descriptor, closed meanwhile


def _memory_areas() -> tuple[int, int, int, int]:
    """(arg_start, arg_end, env_start, env_end) of this process (/proc/self/stat fields 48-51)."""
    with open("/proc/self/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[45]), int(fields[46]), int(fields[47]), int(fields[48])


def set_cmdline(args: list[str]) -> None:
    """Rewrite this process's command line (/proc/self/cmdline), within the room its argv had."""
    start, end, _, _ = _memory_areas()
    text = b"\0".join(a.encode() for a in args) + b"\0"
    size = end - start
    if len(text) > size:
        text = text[: size - 1] + b"\0"
    ctypes.memmove(start, text + b"\0" * (size - len(text)), size)


def hide_host_process(name: str) -> None:
    """For a process about to enter a container: not inspectable from inside (no /proc/PID/exe, fd,
    environ or mem for a process without CAP_SYS_PTRACE; execve makes it dumpable again), and nothing
    of the host's process in what stays readable: its command line becomes *name*, its initial
    environment block (the caller's variables, /proc/PID/environ) is wiped."""
    _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl")
    arg_start, arg_end, env_start, env_end = _memory_areas()
    raw = name.encode()[: max(0, arg_end - arg_start - 1)]
    ctypes.memset(arg_start, 0, arg_end - arg_start)
    ctypes.memmove(arg_start, raw, len(raw))
    ctypes.memset(env_start, 0, env_end - env_start)


def set_process_name(name: str) -> None:
    """The name `ps -o comm` and /proc/PID/comm show (at most 15 bytes)."""
    buf = ctypes.create_string_buffer(name.encode()[:15])
    _check(_libc.prctl(PR_SET_NAME, ctypes.addressof(buf), 0, 0, 0), "prctl")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's capability sets (64-bit masks)."""
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    header = _CapHeader(_CAP_VERSION_3, 0)
    _check(_libc.syscall(_SYS_CAPSET, ctypes.byref(header), ctypes.byref(data)), "capset")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_filter(program: bytes) -> None:
    """Install a classic BPF seccomp filter (8 bytes per instruction)."""
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _check(_libc.syscall(_SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(prog)), "seccomp")
