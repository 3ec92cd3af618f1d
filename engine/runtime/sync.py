"""Bring a running container's files up to date with the host's in one go (`composer watch` sync).

One forked child enters the container's mount namespace (as `cp` does), removes the paths that
were deleted on the host, then extracts a tar stream of the changed files at their container paths.
Modes come from the host files; the owner is the container's user (as Docker Compose copies them),
so that a service running as a non-root user can rewrite what was synced. Parent directories missing
in the container are made, owned by that user too.
"""
from __future__ import annotations

import os
import shutil
import tarfile

from engine.errors import EngineError
from engine.runtime import syscalls  # noqa: F401 - imported once here, not in every forked child (ctypes: ~40 ms)
from engine.runtime.container_init import resolve_user  # before the child leaves the host's files
from engine.runtime.copy import _clear, _finish, in_container
from engine.runtime.initerror import InitError


def sync_into(cdir: str, cfg: dict, pid: int, files: list[tuple[str, str]], removals: list[str]) -> None:
    """Copy each (host path, absolute container path) of *files* (a directory: itself, not its
    contents) and remove each absolute container path of *removals* (recursively; missing is fine)."""
    names = [(host, dest.strip("/")) for host, dest in files if dest.strip("/")]
    r, w = os.pipe()
    err_r, err_w = os.pipe()

    def work():
        os.dup2(err_w, 2)
        try:  # the container's own passwd and group files name its user
            uid, gid = resolve_user(str(cfg.get("process", {}).get("user") or ""))[:2]
        except InitError as e:
            raise EngineError(str(e)) from None
        for path in removals:
            _remove("/" + path.strip("/"))
        with os.fdopen(r, "rb") as inp, tarfile.open(fileobj=inp, mode="r|") as tar:
            for member in tar:
                made = _missing_parents("/" + member.name)
                if not member.isdir():
                    _clear("/", member.name)
                elif os.path.lexists("/" + member.name) and not os.path.isdir("/" + member.name):
                    os.unlink("/" + member.name)  # a file became a directory
                member.uid, member.gid, member.uname, member.gname = uid, gid, "", ""
                tar.extract(member, "/", set_attrs=True, numeric_owner=True, filter="fully_trusted")
                for d in made:
                    os.lchown(d, uid, gid)

    child = in_container(cdir, cfg, pid, work, keep=(r, err_w))
    os.close(r)
    os.close(err_w)
    failure: Exception | None = None
    try:
        with os.fdopen(w, "wb") as out, tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for host, name in names:
                try:
                    tar.add(host, arcname=name, recursive=False)
                except FileNotFoundError:
                    continue  # gone again since the change was seen: the next batch removes it
    except BrokenPipeError:
        pass  # the child gave up: its message says why
    except (EngineError, OSError, tarfile.TarError) as e:
        failure = e
    _finish(child, err_r, failure)


def _missing_parents(path: str) -> list[str]:
    """The directories above *path* that do not exist yet (extracting it will make them)."""
    out = []
    parent = os.path.dirname(path)
    while parent != "/" and not os.path.lexists(parent):
        out.append(parent)
        parent = os.path.dirname(parent)
    return out


def _remove(path: str) -> None:
    if path == "/":
        return
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
