#!/usr/bin/env python3
"""Write a minimal root filesystem tarball built from the host's static busybox (Debian busybox-static).

    python3 scripts/busybox_rootfs.py OUT.tar

It is the base image of the example stack, the tests and the benchmarks, made offline:
/bin/busybox with a symlink per applet, /etc/passwd and /etc/group (root and nobody), and the
usual empty directories.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile

BUSYBOX = "/bin/busybox"

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
DIRS = {"bin": 0o755, "sbin": 0o755, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755, "etc": 0o755,
        "root": 0o700, "tmp": 0o1777, "var": 0o755, "var/tmp": 0o1777, "var/www": 0o755, "proc": 0o555,
        "sys": 0o555, "dev": 0o755, "home": 0o755, "run": 0o755}


def applets() -> list[str]:
    out = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def build(out_path: str, extra_files: dict[str, bytes | str] | None = None) -> None:
    """Write the rootfs tarball to *out_path*; *extra_files* maps paths (e.g. "var/www/index.html") to
    contents, added as root-owned 0644 files (their missing parent dirs as 0755).

    The tarball is reproducible: every entry carries busybox's own mtime, so building it twice on
    one host gives the same bytes (the same layer, hence the same image id on import)."""
    if not os.path.exists(BUSYBOX):
        raise SystemExit(f"{BUSYBOX} not found: install Debian's busybox-static")
    mtime = int(os.stat(BUSYBOX).st_mtime)

    def info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.mtime, ti.uid, ti.gid = kind, mode, mtime, 0, 0
        return ti

    files = {"etc/passwd": PASSWD.encode(), "etc/group": GROUP.encode(), "etc/hosts": b"", "etc/resolv.conf": b"",
             "etc/hostname": b""}
    for name, content in (extra_files or {}).items():
        files[name.strip("/")] = content.encode() if isinstance(content, str) else bytes(content)
    dirs = dict(DIRS)
    for name in files:
        parent = os.path.dirname(name)
        while parent and parent not in dirs:
            dirs[parent] = 0o755
            parent = os.path.dirname(parent)
    with tarfile.open(out_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for d, mode in sorted(dirs.items()):
            tar.addfile(info(d, tarfile.DIRTYPE, mode))
        with open(BUSYBOX, "rb") as f:
            data = f.read()
        ti = info("bin/busybox", tarfile.REGTYPE, 0o755)
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))
        for path in applets():
            rel = path.lstrip("/")
            if rel == "bin/busybox":
                continue
            link = info(rel, tarfile.SYMTYPE, 0o777)
            link.linkname = "/bin/busybox"
            tar.addfile(link)
        for name, content in sorted(files.items()):
            ti = info(name, tarfile.REGTYPE, 0o644)
            ti.size = len(content)
            tar.addfile(ti, io.BytesIO(content))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: busybox_rootfs.py OUT.tar")
    build(sys.argv[1])
