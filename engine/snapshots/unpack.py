"""Unpacking one image layer (a tar stream) into a directory, in the form overlayfs reads.

OCI whiteouts become overlayfs ones (`.wh.NAME` -> a 0/0 character device; `.wh..wh..opq` -> the
`trusted.overlay.opaque` xattr). Ownership, modes, times, xattrs, hard and symbolic links, devices
and FIFOs are kept. Nothing is ever written outside the target: every parent is resolved inside it
(symlinks followed within the target only), entries naming `..` are rejected, and an existing
symlink at an entry's own path is replaced, never written through.
"""
from __future__ import annotations

import os
import shutil
import stat
import tarfile
from typing import BinaryIO

from engine.errors import InvalidArgument
from engine.snapshots.safepath import PathEscape, safe_join

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def open_layer(src: BinaryIO) -> tarfile.TarFile:
    """A tar stream reader that accepts uncompressed, gzip, bzip2 or xz layers."""
    try:
        return tarfile.open(fileobj=src, mode="r|*")
    except tarfile.TarError as e:
        raise InvalidArgument(f"not a valid layer archive: {e}") from None


def _clean_name(name: str) -> str:
    parts = [p for p in name.split("/") if p and p != "."]
    if any(p == ".." for p in parts):
        raise InvalidArgument(f"layer entry {name!r} points outside the layer: refused")
    return "/".join(parts)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def unpack(src: BinaryIO, target: str) -> int:
    """Unpack the layer read from *src* into *target*; returns the bytes of file content written."""
    os.makedirs(target, exist_ok=True)
    target = os.path.realpath(target)
    written = 0
    dirs: list[tuple[str, tarfile.TarInfo]] = []
    try:
        with open_layer(src) as tar:
            for member in tar:
                written += _extract(tar, member, target, dirs)
    except tarfile.TarError as e:
        raise InvalidArgument(f"not a valid layer archive: {e}") from None
    except PathEscape as e:
        raise InvalidArgument(f"layer refused: {e}") from None
    for path, member in reversed(dirs):  # directory times last: writing inside them changes them
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
    return written


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, root: str, dirs: list) -> int:
    name = _clean_name(member.name)
    if not name:
        return 0
    parent_rel, base = os.path.split(name)
    parent = safe_join(root, parent_rel)
    if not os.path.isdir(parent):
        if os.path.lexists(parent):
            _remove(parent)
        os.makedirs(parent, exist_ok=True)
    path = os.path.join(parent, base)

    if base == OPAQUE:
        os.setxattr(parent, "trusted.overlay.opaque", b"y")
        return 0
    if base.startswith(WHITEOUT):
        hidden = os.path.join(parent, base[len(WHITEOUT):])
        _remove(hidden)
        os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        return 0

    if member.isdir():
        if os.path.lexists(path) and not (os.path.isdir(path) and not os.path.islink(path)):
            _remove(path)
        os.makedirs(path, exist_ok=True)
        dirs.append((path, member))
    else:
        if os.path.lexists(path):
            _remove(path)
        if member.isreg():
            f = tar.extractfile(member)
            with open(path, "wb") as out:
                shutil.copyfileobj(f, out, 1 << 20)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            source = safe_join(root, _clean_name(member.linkname), follow_last=False)
            if not os.path.lexists(source):
                raise InvalidArgument(f"layer entry {member.name!r} links to {member.linkname!r}, which is not in "
                                      "the layer: refused")
            os.link(source, path, follow_symlinks=False)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, member.mode & 0o7777)
        else:
            return 0
    for key, value in (member.pax_headers or {}).items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(path, key[len("SCHILY.xattr."):], value.encode("utf-8", "surrogateescape"),
                            follow_symlinks=False)
            except OSError:
                pass
    os.lchown(path, member.uid, member.gid)
    if not member.issym():
        os.chmod(path, member.mode & 0o7777)
        if not member.isdir():
            os.utime(path, (member.mtime, member.mtime))
    return member.size if member.isreg() else 0
