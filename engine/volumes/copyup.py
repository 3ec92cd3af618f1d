"""Seeding a new volume with an image's content, as Docker does on a volume's first mount. Stdlib only.

Everything is copied as it is: owners, permission bits (setuid included), times, extended
attributes (file capabilities among them), symlinks as links, hard links as links, device nodes
and fifos. The volume's root takes the owner and mode of the image's directory.
"""
from __future__ import annotations

import errno
import os
import stat


def _xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False), follow_symlinks=False)
        except OSError as e:
            if e.errno not in (errno.ENOTSUP, errno.EPERM, errno.EOPNOTSUPP, errno.ENODATA):
                raise


def _metadata(src: str, dst: str, st: os.stat_result) -> None:
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    _xattrs(src, dst)  # before chmod: setting security.capability clears setuid bits
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_file(src: str, dst: str) -> None:
    with open(src, "rb") as fi, open(dst, "xb") as fo:
        size = os.fstat(fi.fileno()).st_size
        done = 0
        while done < size:
            n = os.sendfile(fo.fileno(), fi.fileno(), None, size - done)
            if n == 0:
                break
            done += n


def _copy_dir(src: str, dst: str, links: dict[tuple[int, int], str]) -> None:
    with os.scandir(src) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        s, d = entry.path, os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(d, 0o700)
            _copy_dir(s, d, links)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(s), d)
        elif stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in links:
                os.link(links[key], d)
                continue
            _copy_file(s, d)
            if st.st_nlink > 1:
                links[key] = d
        elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            os.mknod(d, mode, st.st_rdev)
        else:
            continue  # sockets belong to a running process, not to content
        _metadata(s, d, st)


def copy_tree(src: str, dst: str) -> None:
    """Copy the content of directory *src* into the empty directory *dst*, and *src*'s own metadata."""
    _copy_dir(src, dst, {})
    _metadata(src, dst, os.lstat(src))
