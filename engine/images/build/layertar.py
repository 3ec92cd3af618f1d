"""Writing layer tars (uncompressed, PAX): from a container's overlayfs upper dir, or entry by entry.

An upper dir turns into the OCI form: a whiteout (0/0 character device) becomes an empty
`.wh.NAME` file, an opaque directory gets a `.wh..wh..opq` entry; overlayfs's own xattrs
(`trusted.overlay.*`) are left out, other xattrs go in as `SCHILY.xattr.` PAX headers.
"""
from __future__ import annotations

import io
import os
import stat
import tarfile
from typing import BinaryIO

from engine.images.build.layerfs import is_opaque, is_whiteout

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def _xattrs(path: str) -> dict[str, str]:
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        if name.startswith("trusted.overlay."):
            continue
        try:
            out["SCHILY.xattr." + name] = os.getxattr(path, name, follow_symlinks=False).decode(
                "utf-8", "surrogateescape")
        except OSError:
            continue
    return out


class LayerWriter:
    def __init__(self, out: BinaryIO):
        self.tar = tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT)
        self.links: dict[tuple[int, int], str] = {}
        self.names: set[str] = set()

    def close(self) -> None:
        self.tar.close()

    def _info(self, name: str, kind: bytes, mode: int, uid: int, gid: int, mtime: float) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = kind, mode & 0o7777, uid, gid, int(mtime)
        ti.uname = ti.gname = ""
        return ti

    def add_dir(self, name: str, mode: int = 0o755, uid: int = 0, gid: int = 0, mtime: float = 0) -> None:
        if name in self.names:
            return
        self.names.add(name)
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, mode, uid, gid, mtime))

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0,
                  mtime: float = 0) -> None:
        ti = self._info(name, tarfile.REGTYPE, mode, uid, gid, mtime)
        ti.size = len(data)
        self.names.add(name)
        self.tar.addfile(ti, io.BytesIO(data))

    def add_member(self, ti: tarfile.TarInfo, f: BinaryIO | None) -> None:
        ti.uname = ti.gname = ""
        self.names.add(ti.name)
        self.tar.addfile(ti, f)

    def add_whiteout(self, parent: str, name: str) -> None:
        self.add_bytes(f"{parent}/{WHITEOUT}{name}" if parent else WHITEOUT + name, b"", 0o600)

    def add_path(self, name: str, host: str, uid: int | None = None, gid: int | None = None,
                 mode: int | None = None, hardlinks: bool = False) -> None:
        """The host entry *host* (never followed) as *name*, with owner/mode overridden if given."""
        st = os.lstat(host)
        fmt = stat.S_IFMT(st.st_mode)
        kinds = {stat.S_IFREG: tarfile.REGTYPE, stat.S_IFDIR: tarfile.DIRTYPE, stat.S_IFLNK: tarfile.SYMTYPE,
                 stat.S_IFCHR: tarfile.CHRTYPE, stat.S_IFBLK: tarfile.BLKTYPE, stat.S_IFIFO: tarfile.FIFOTYPE}
        if fmt not in kinds:
            return  # sockets are not part of an image
        ti = self._info(name, kinds[fmt], st.st_mode if mode is None else mode,
                        st.st_uid if uid is None else uid, st.st_gid if gid is None else gid, st.st_mtime)
        ti.pax_headers = _xattrs(host)
        self.names.add(name)
        if fmt == stat.S_IFREG and hardlinks and st.st_nlink > 1:
            first = self.links.get((st.st_dev, st.st_ino))
            if first is not None:
                ti.type, ti.linkname = tarfile.LNKTYPE, first
                self.tar.addfile(ti)
                return
            self.links[(st.st_dev, st.st_ino)] = name
        if fmt == stat.S_IFREG:
            ti.size = st.st_size
            with open(host, "rb") as f:
                self.tar.addfile(ti, f)
            return
        if fmt == stat.S_IFLNK:
            ti.linkname = os.readlink(host)
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        self.tar.addfile(ti)

    def add_upper(self, upper: str, skip: set[str] = frozenset()) -> int:
        """Every change in the overlayfs upper dir *upper*; *skip* holds paths (relative) to leave out.
        Returns the number of entries written."""
        count = 0

        def walk(rel: str) -> None:
            nonlocal count
            host_dir = os.path.join(upper, rel) if rel else upper
            for name in sorted(os.listdir(host_dir)):
                child = f"{rel}/{name}" if rel else name
                if child in skip:
                    continue
                host = os.path.join(host_dir, name)
                st = os.lstat(host)
                if is_whiteout(st):
                    self.add_whiteout(rel, name)
                    count += 1
                    continue
                self.add_path(child, host, hardlinks=True)
                count += 1
                if stat.S_ISDIR(st.st_mode):
                    if is_opaque(host):
                        self.add_bytes(f"{child}/{OPAQUE}", b"", 0o600)
                    walk(child)

        walk("")
        return count
