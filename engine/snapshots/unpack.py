"""Unpacking one image layer (a tar stream, plain/gzip/bzip2/xz/zstd) into a directory overlayfs can use.

OCI whiteouts become overlayfs ones (`.wh.NAME` -> a 0/0 character device; `.wh..wh..opq` -> the
`trusted.overlay.opaque=y` xattr on the directory). Ownership, modes, times, xattrs, hard and
symbolic links, devices and FIFOs are kept.

Containment, the rule every step follows: nothing is ever written, removed, or has its metadata
changed outside the target.
- entry names are cleaned: a leading `/` is dropped (absolute names land inside), `..` is refused;
- every parent directory is resolved inside the target as if it were `/`: a symlink met on the way
  is followed within the target and never out of it (engine.snapshots.safepath);
- the entry's own path is never followed: an existing symlink there is replaced, not written
  through; files are created with O_EXCL|O_NOFOLLOW;
- hard links must name an existing non-directory of the layer (resolved the same way);
- metadata of a symlink is set with the l-variants only; a hard link changes no metadata;
- whiteout names that are not plain names (`.wh.`, `.wh..`, `.wh...`) are refused.
"""
from __future__ import annotations

import os
import shutil
import stat
import tarfile
from typing import BinaryIO

from engine.errors import InvalidArgument
from engine.snapshots.compression import DECOMPRESS_ERRORS, decompressed
from engine.snapshots.safepath import PathEscape, safe_join

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
WHITEOUT_META = ".wh..wh."  # aufs bookkeeping (`.wh..wh.plnk`, ...): not part of the filesystem
OVERLAY_XATTR = "trusted.overlay."


def clean_name(name: str) -> str:
    """The entry's path relative to the layer root; InvalidArgument if it climbs out with `..`."""
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise InvalidArgument(f"layer entry {name!r} points outside the layer (contains '..'): refused")
    return "/".join(parts)


def _remove(path: str) -> None:
    """Remove whatever is at *path* (never following a symlink there)."""
    st = _lstat(path)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def unpack(src: BinaryIO, target: str) -> int:
    """Unpack the layer read from *src* into the directory *target* (created if missing).

    Returns the bytes of file content written. A malformed or hostile layer raises InvalidArgument;
    *target* may then hold part of the layer (callers unpack into a temporary directory).
    """
    os.makedirs(target, exist_ok=True)
    root = os.path.realpath(target)
    written = 0
    dirs: list[tuple[str, int]] = []
    try:
        with decompressed(src) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                written += _extract(tar, member, root, dirs)
    except tarfile.TarError as e:
        raise InvalidArgument(f"not a valid layer archive: {e}") from None
    except PathEscape as e:
        raise InvalidArgument(f"layer refused: {e}") from None
    except DECOMPRESS_ERRORS as e:  # OSError included
        raise InvalidArgument(f"cannot unpack the layer: {e}") from None
    for path, mtime in reversed(dirs):  # directory times last: writing inside a directory changes its mtime
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    return written


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, root: str, dirs: list[tuple[str, int]]) -> int:
    name = clean_name(member.name)
    if not name:  # the layer's root directory itself
        if member.isdir():
            _set_metadata(root, member)
            dirs.append((root, int(member.mtime)))
        return 0
    parent_rel, base = os.path.split(name)
    parent = safe_join(root, parent_rel)
    st = _lstat(parent)
    if st is None or not stat.S_ISDIR(st.st_mode):
        if st is not None:
            _remove(parent)
        os.makedirs(parent, exist_ok=True)
    path = os.path.join(parent, base)

    if base == OPAQUE:
        os.setxattr(parent, "trusted.overlay.opaque", b"y", follow_symlinks=False)
        return 0
    if base.startswith(WHITEOUT_META):
        return 0
    if base.startswith(WHITEOUT):
        hidden = base[len(WHITEOUT):]
        if hidden in ("", ".", ".."):
            raise InvalidArgument(f"layer entry {member.name!r} is not a valid whiteout: refused")
        hidden_path = os.path.join(parent, hidden)
        _remove(hidden_path)
        os.mknod(hidden_path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        return 0

    if member.isdir():
        st = _lstat(path)
        if st is not None and not stat.S_ISDIR(st.st_mode):
            _remove(path)
        if st is None or not stat.S_ISDIR(st.st_mode):
            os.mkdir(path, 0o700)
        dirs.append((path, int(member.mtime)))
        _set_metadata(path, member)
        return 0

    _remove(path)
    size = 0
    if member.isreg():
        f = tar.extractfile(member)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            if f is not None:
                shutil.copyfileobj(f, out, 1 << 20)
        size = member.size
    elif member.issym():
        os.symlink(member.linkname, path)
    elif member.islnk():
        source = safe_join(root, clean_name(member.linkname), follow_last=False)
        st = _lstat(source)
        if st is None or stat.S_ISDIR(st.st_mode) or source == root:
            raise InvalidArgument(f"layer entry {member.name!r} is a hard link to {member.linkname!r}, which is not "
                                  "a file of this layer: refused")
        os.link(source, path, follow_symlinks=False)
        return 0  # like GNU tar: the inode keeps the metadata of the entry that made it
    elif member.ischr() or member.isblk():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
    elif member.isfifo():
        os.mkfifo(path, 0o600)
    else:
        return 0  # other tar types (GNU volume headers...) carry nothing for a filesystem
    _set_metadata(path, member)
    return size


def _set_metadata(path: str, member: tarfile.TarInfo) -> None:
    """Owner, xattrs, mode and mtime of *path*, never through a symlink at *path*."""
    is_link = stat.S_ISLNK(os.lstat(path).st_mode)
    os.chown(path, member.uid, member.gid, follow_symlinks=False)
    for key, value in (member.pax_headers or {}).items():
        if not key.startswith("SCHILY.xattr."):
            continue
        attr = key[len("SCHILY.xattr."):]
        if attr.startswith(OVERLAY_XATTR):
            continue  # overlayfs metadata is ours to write (whiteouts), never the layer's
        try:
            os.setxattr(path, attr, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
        except OSError:
            pass  # an attribute this filesystem does not support: keep going like tar does
    if not is_link:
        os.chmod(path, member.mode & 0o7777)  # after chown, which clears set-id bits
    if not member.isdir():
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
