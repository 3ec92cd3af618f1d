"""Unpacking ordinary layers: file types, metadata, whiteouts, and every compression told by magic."""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import shutil
import stat
import subprocess

import pytest

from engine.snapshots.compression import decompressed, kind
from engine.snapshots.unpack import unpack
from tests.support.archives import layer

RICH = layer([
    ("etc", "dir", None, {"mode": 0o750, "uid": 7, "gid": 8, "mtime": 1_600_000_000}),
    ("etc/conf", "file", "a=1\n", {"mode": 0o640, "uid": 1000, "gid": 1001, "mtime": 1_500_000_000}),
    ("etc/suid", "file", "s", {"mode": 0o4755}),
    ("etc/hard", "hardlink", "etc/conf"),
    ("etc/soft", "symlink", "conf", {"uid": 5, "gid": 6, "mtime": 1_400_000_000}),
    ("etc/abs-soft", "symlink", "/nowhere/at/all"),
    ("dev", "dir", None),
    ("dev/null", "chr", (1, 3)),
    ("dev/loopish", "blk", (7, 200)),
    ("run", "dir", None),
    ("run/pipe", "fifo", None, {"mode": 0o620}),
    ("cap", "file", "bin", {"xattrs": {"user.note": "hello"}}),
    ("implicit/parent/file", "file", "p"),
])


def test_file_types_and_metadata(tmp_path):
    written = unpack(io.BytesIO(RICH), str(tmp_path))
    assert written == len("a=1\n") + 1 + 3 + 1
    st = os.stat(tmp_path / "etc")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime) == (0o750, 7, 8, 1_600_000_000)
    st = os.stat(tmp_path / "etc/conf")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime) == (0o640, 1000, 1001, 1_500_000_000)
    assert stat.S_IMODE(os.stat(tmp_path / "etc/suid").st_mode) == 0o4755
    assert os.path.samefile(tmp_path / "etc/hard", tmp_path / "etc/conf")
    assert os.stat(tmp_path / "etc/conf").st_nlink == 2
    st = os.lstat(tmp_path / "etc/soft")
    assert stat.S_ISLNK(st.st_mode) and os.readlink(tmp_path / "etc/soft") == "conf"
    assert (st.st_uid, st.st_gid, st.st_mtime) == (5, 6, 1_400_000_000)
    assert os.readlink(tmp_path / "etc/abs-soft") == "/nowhere/at/all"
    st = os.lstat(tmp_path / "dev/null")
    assert stat.S_ISCHR(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3)
    st = os.lstat(tmp_path / "dev/loopish")
    assert stat.S_ISBLK(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (7, 200)
    st = os.lstat(tmp_path / "run/pipe")
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o620
    assert os.getxattr(tmp_path / "cap", "user.note") == b"hello"
    assert (tmp_path / "implicit/parent/file").read_text() == "p"


def test_whiteouts_become_overlayfs_ones(tmp_path):
    top = layer([("gone", "whiteout", None), ("dir/also-gone", "whiteout", None), ("data", "opaque", None),
                 ("data/new", "file", "n"), (".wh..wh.plnk", "dir", None)])
    unpack(io.BytesIO(top), str(tmp_path))
    for name in ("gone", "dir/also-gone"):
        st = os.lstat(tmp_path / name)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert os.getxattr(tmp_path / "data", "trusted.overlay.opaque") == b"y"
    assert os.listdir(tmp_path / "data") == ["new"]
    assert not os.path.lexists(tmp_path / ".wh..wh.plnk")


def test_later_entries_replace_earlier_ones(tmp_path):
    unpack(io.BytesIO(layer([("x", "dir", None), ("x/in", "file", "1"), ("x", "file", "now a file"),
                             ("y", "file", "f"), ("y", "dir", None), ("y/z", "file", "2")])), str(tmp_path))
    assert (tmp_path / "x").read_text() == "now a file"
    assert (tmp_path / "y/z").read_text() == "2"


def _zstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize("name,compress", [
    ("plain", lambda d: d), ("gzip", gzip.compress), ("bzip2", bz2.compress), ("xz", lzma.compress),
    pytest.param("zstd", _zstd, marks=pytest.mark.skipif(not shutil.which("zstd"), reason="no zstd program")),
])
def test_compression_is_told_by_magic(tmp_path, name, compress):
    data = compress(RICH)
    assert kind(data[:6]) == name
    with decompressed(io.BytesIO(data)) as f:
        assert f.read() == RICH
    unpack(io.BytesIO(data), str(tmp_path))
    assert (tmp_path / "etc/conf").read_text() == "a=1\n"


def test_damaged_zstd_is_an_error(tmp_path):
    if not shutil.which("zstd"):
        pytest.skip("no zstd program")
    from engine.errors import InvalidArgument

    data = _zstd(RICH)
    with pytest.raises(InvalidArgument), decompressed(io.BytesIO(data[: len(data) // 2])) as f:
        f.read()


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, bz2.compress])
def test_damaged_compressed_layers_are_errors(tmp_path, compress):
    from engine.errors import InvalidArgument

    data = compress(layer([("f", "file", os.urandom(1 << 16))]))
    bad = data[:40] + bytes(b ^ 0x55 for b in data[40:200]) + data[200:]
    with pytest.raises(InvalidArgument):
        unpack(io.BytesIO(bad), str(tmp_path))
