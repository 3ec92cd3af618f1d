"""`cp` between the host and a container's filesystem, both ways, with `docker cp`'s rules.

The container side runs in a forked child that sees the container's files as its processes do: it
joins the mount namespace of a running container, or mounts a stopped one's root (and volumes) in a
private mount namespace that vanishes with it. Parent and child pass a tar stream over a pipe,
preceded by one line naming the source's kind. Paths in the container resolve inside it; archives
from a container are extracted on the host with tarfile's `tar` filter (nothing lands outside the
destination, not even through a symlink) and owned by the caller, as with `docker cp`.

Rules (SRC -> DEST): a file goes to DEST, or into DEST when it is a directory; a directory is copied
as DEST when DEST does not exist, and into DEST when it does; `SRC/.` copies a directory's contents.
"""
from __future__ import annotations

import os
import tarfile

from engine.errors import EngineError, NotFound


class CopyError(EngineError):
    pass


# -- the two ends, usable on either side of the pipe ----------------------------------------

def send(src: str, wfd: int, owner: tuple[int, int] | None = None) -> None:
    """Write "<kind>\\n" then a tar of *src* (its contents for `dir/.`) to *wfd*; raises CopyError."""
    contents = src.endswith("/.") or src == "."
    path = (src[:-2] or "/") if src.endswith("/.") else src
    try:
        os.lstat(path)
    except FileNotFoundError:
        raise NotFound(f"no such file or directory: {src}") from None
    except OSError as e:
        raise CopyError(f"cannot read {src}: {e.strerror}") from None
    is_dir = os.path.isdir(path) and not os.path.islink(path)
    if contents and not is_dir:
        raise CopyError(f"{src}: not a directory")
    kind = "contents" if contents else ("dir" if is_dir else "file")
    top = "." if contents else (os.path.basename(path.rstrip("/")) or ".")

    def as_owner(ti: tarfile.TarInfo) -> tarfile.TarInfo:
        if owner is not None:
            ti.uid, ti.gid = owner
            ti.uname = ti.gname = ""
        return ti

    with os.fdopen(wfd, "wb") as out:
        out.write(f"{kind} {top}\n".encode())
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(path, arcname=top, recursive=True, filter=as_owner)


def receive(rfd: int, dest: str, owner: tuple[int, int] | None = None) -> None:
    """Read what `send` wrote from *rfd* and place it at *dest* by docker cp's rules; raises CopyError."""
    with os.fdopen(rfd, "rb") as inp:
        head = inp.readline().decode(errors="replace").rstrip("\n")
        kind, _, top = head.partition(" ")
        if kind not in ("file", "dir", "contents"):
            raise CopyError(head or "the source sent nothing")
        target_dir, rename = _placement(kind, top, dest)
        with tarfile.open(fileobj=inp, mode="r|") as tar:
            for member in tar:
                if rename is not None:
                    if member.name == top:
                        member.name = rename
                    elif member.name.startswith(top + "/"):
                        member.name = rename + member.name[len(top):]
                if not member.isdir():
                    _clear(target_dir, member.name)
                try:
                    member = tarfile.tar_filter(member, target_dir)
                except tarfile.FilterError as e:
                    raise CopyError(f"refusing to copy {member.name}: {e}") from None
                if owner is not None:
                    member.uid, member.gid = owner
                    member.uname = member.gname = ""
                tar.extract(member, target_dir, set_attrs=True, filter="fully_trusted")


def _clear(target_dir: str, name: str) -> None:
    """Make room for a file, as cp overwrites: an existing symlink or file there is replaced, not
    written through. Only inside *target_dir* (a name climbing out is left to the filter to refuse)."""
    parent = os.path.realpath(os.path.join(target_dir, os.path.dirname(name)))
    root = os.path.realpath(target_dir)
    if os.path.commonpath([parent, root]) != root:
        return
    path = os.path.join(parent, os.path.basename(name))
    if os.path.islink(path) or (os.path.exists(path) and not os.path.isdir(path)):
        os.unlink(path)


def _placement(kind: str, top: str, dest: str) -> tuple[str, str | None]:
    """(directory to extract in, new name of the top entry or None)."""
    trailing = dest.endswith("/")
    path = dest.rstrip("/") or "/"
    if os.path.isdir(path):
        return path, None  # into it (contents: their names start with ".")
    if os.path.exists(path) or os.path.islink(path):
        if kind != "file":
            raise CopyError(f"cannot copy a directory to {dest}: it is a file")
        return os.path.dirname(path) or ".", os.path.basename(path)
    parent = os.path.dirname(path) or "."
    if trailing and kind == "file":
        raise CopyError(f"no such directory: {dest}")
    if not os.path.isdir(parent):
        raise CopyError(f"no such directory: {parent}")
    if kind == "contents":
        os.mkdir(path)
        return path, None
    return parent, os.path.basename(path)


# -- running one end inside the container ---------------------------------------------------

def in_container(cdir: str, cfg: dict, pid: int, work, keep: tuple[int, ...] = ()) -> int:
    """Fork a child that enters the container's filesystem (its mount namespace when *pid* runs it,
    else a private mount of its root) and calls *work*(); returns the child's pid. The child holds
    0, 1, 2 and *keep* only (none of the caller's other descriptors). On failure it writes an
    `error:` line on its stderr and exits 1."""
    import _signal

    child = os.fork()
    if child:
        return child
    code = 0
    try:
        from engine.runtime import syscalls as sc

        sc.hide_host_process("composer-cp")
        sc.close_fds(set(keep))
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
        if pid:

            fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
            sc.setns(fd, sc.CLONE_NEWNS)
            os.close(fd)
            os.chdir("/")
        else:
            from engine.runtime.container_init import setup_root

            setup_root({**cfg, "netns": None, "hostname": ""})
        work()
    except EngineError as e:
        os.write(2, f"error: {e}\n".encode())
        code = 1
    except BaseException as e:  # noqa: BLE001 - nothing may escape a forked child
        os.write(2, f"error: {getattr(e, 'strerror', None) or e}\n".encode())
        code = 1
    os._exit(code)


def copy_from(cdir: str, cfg: dict, pid: int, src: str, dest: str) -> None:
    """Container path *src* to host path *dest*."""
    if not src.startswith("/"):
        src = "/" + src
    r, w = os.pipe()
    err_r, err_w = os.pipe()

    def work():
        os.dup2(err_w, 2)
        send(src, w)

    child = in_container(cdir, cfg, pid, work, keep=(w, err_w))
    os.close(w)
    os.close(err_w)
    failure: Exception | None = None
    try:
        receive(r, dest, owner=(os.getuid(), os.getgid()))
    except (EngineError, OSError, tarfile.TarError) as e:
        failure = e
    _finish(child, err_r, failure)


def copy_to(cdir: str, cfg: dict, pid: int, src: str, dest: str) -> None:
    """Host path *src* to container path *dest* (files owned by root, as docker cp makes them)."""
    if not dest.startswith("/"):
        dest = "/" + dest
    r, w = os.pipe()
    err_r, err_w = os.pipe()

    def work():
        os.dup2(err_w, 2)
        receive(r, dest)

    # fail early, before entering the container, when the host side is missing
    if not os.path.lexists(src.removesuffix("/.") or "/"):
        os.close(r), os.close(w), os.close(err_r), os.close(err_w)
        raise NotFound(f"no such file or directory: {src}")
    child = in_container(cdir, cfg, pid, work, keep=(r, err_w))
    os.close(r)
    os.close(err_w)
    failure: Exception | None = None
    try:
        send(src, w, owner=(0, 0))
    except BrokenPipeError:
        pass  # the child gave up: its message says why
    except (EngineError, OSError, tarfile.TarError) as e:
        failure = e
    _finish(child, err_r, failure)


def _finish(child: int, err_r: int, failure: Exception | None) -> None:
    with os.fdopen(err_r, "rb") as f:
        message = f.read().decode(errors="replace").strip()
    _, status = os.waitpid(child, 0)
    if message:
        raise CopyError(message.splitlines()[-1].removeprefix("error: "))
    if failure is not None:
        if isinstance(failure, EngineError):
            raise failure
        raise CopyError(f"copy failed: {getattr(failure, 'strerror', None) or failure}")
    if status != 0:
        raise CopyError("copy failed")
