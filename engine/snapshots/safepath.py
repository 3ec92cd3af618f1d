"""Resolving a path inside a root directory as if that directory were '/'. Stdlib only.

Symlinks met on the way are followed *within* the root (an absolute link target restarts at the
root, `..` stops at the root), so the result never names anything outside it.
"""
from __future__ import annotations

import os


class PathEscape(ValueError):
    pass


def safe_join(root: str, path: str, follow_last: bool = True) -> str:
    parts = [p for p in path.split("/") if p and p != "."]
    current = root
    depth = 0
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if depth > 0:
                current = os.path.dirname(current)
                depth -= 1
            continue
        candidate = os.path.join(current, part)
        if (parts or follow_last) and os.path.islink(candidate):
            hops += 1
            if hops > 40:
                raise PathEscape(f"too many levels of symbolic links in {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current, depth = root, 0
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        current, depth = candidate, depth + 1
    return current


# -- descriptors: the same rules, enforced by the kernel (openat2) or by a walk of O_PATH descriptors --

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
_SYS_OPENAT2 = 437  # x86_64 and aarch64 alike
_openat2_missing = False
MAX_LINKS = 40


def _split(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


_call = None


def _openat2_call():
    """openat2's struct open_how and a libc handle, made on first use (ctypes only where it is needed)."""
    global _call
    if _call is None:
        import ctypes

        class OpenHow(ctypes.Structure):
            _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]

        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        _call = (ctypes, OpenHow, libc)
    return _call


def _openat2(dirfd: int, path: str, flags: int, resolve: int) -> int | None:
    """openat2(2), or None where the kernel (before 5.6) or a seccomp filter lacks it."""
    global _openat2_missing
    if _openat2_missing:
        return None
    import errno

    ctypes, OpenHow, libc = _openat2_call()
    how = OpenHow(flags, 0, resolve)
    for _ in range(16):  # EAGAIN: a rename raced with a `..`; the kernel asks to try again
        fd = libc.syscall(_SYS_OPENAT2, ctypes.c_int(dirfd), path.encode() or b".", ctypes.byref(how),
                          ctypes.c_size_t(ctypes.sizeof(how)))
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err == errno.ENOSYS:
            _openat2_missing = True
            return None
        if err != errno.EAGAIN:
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), path)


def _walk(root_fd: int, path: str, beneath: bool, create: str | None, mode: int) -> int:
    """An O_PATH descriptor of *path* under *root_fd*, each component opened with O_NOFOLLOW from the
    descriptor of its parent; symlinks are read and followed here, inside the root (or refused if they
    leave it, with *beneath*). With *create* ("dir" or "file"), missing components are made."""
    import errno
    import stat

    stack = [os.dup(root_fd)]
    parts = _split(path)
    hops = 0
    try:
        while parts:
            part = parts.pop(0)
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                elif beneath:
                    raise PathEscape(f"{path} leads outside its root")
                continue
            try:
                fd = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            except FileNotFoundError:
                if create is None:
                    raise
                try:
                    if parts or create == "dir":
                        os.mkdir(part, mode, dir_fd=stack[-1])
                    else:
                        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                                         0o644, dir_fd=stack[-1]))
                except FileExistsError:
                    pass  # made meanwhile: open it again (as whatever it is now)
                parts.insert(0, part)
                continue
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink("", dir_fd=fd)  # the link's own text: never followed by the kernel
                os.close(fd)
                hops += 1
                if hops > MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                if target.startswith("/"):
                    if beneath:
                        raise PathEscape(f"{path} leads outside its root (a symlink to {target})")
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts = _split(target) + parts
                continue
            if parts and not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            stack.append(fd)
        return stack.pop()
    finally:
        for fd in stack:
            os.close(fd)


def open_in_root(root_fd: int, path: str, *, beneath: bool = False, create: str | None = None,
                 mode: int = 0o755) -> int:
    """An O_PATH descriptor (close-on-exec) of *path* inside the directory *root_fd*.

    By default as `safe_join` resolves (an absolute symlink restarts at the root, `..` stops there:
    openat2 RESOLVE_IN_ROOT); with *beneath*, any way out (an absolute symlink, `..` above the root)
    raises PathEscape instead (RESOLVE_BENEATH). Magic links (/proc/PID/root, fd/N) are never followed.
    With *create* ("dir" or "file"), missing components are made inside the root (directories with
    *mode*; the last one a directory or an empty file). The descriptor names the file itself, so what
    is done through /proc/self/fd/N cannot be redirected by a rename or a symlink swapped in later."""
    import errno

    resolve = (RESOLVE_BENEATH if beneath else RESOLVE_IN_ROOT) | RESOLVE_NO_MAGICLINKS
    try:
        fd = _openat2(root_fd, path.lstrip("/"), os.O_PATH | os.O_CLOEXEC, resolve)
    except OSError as e:
        if e.errno == errno.EXDEV:
            raise PathEscape(f"{path} leads outside its root") from None
        if e.errno == errno.ELOOP:
            raise PathEscape(f"{path}: a symlink loop, or a link of /proc on the way (never followed)") from None
        if e.errno != errno.ENOENT or create is None:
            raise
        fd = None
    if fd is not None:
        return fd
    return _walk(root_fd, path, beneath, create, mode)


def fd_path(fd: int) -> str:
    """The name through which the kernel reaches exactly the file *fd* holds (mount, bind, copy)."""
    return f"/proc/self/fd/{fd}"
