"""Seeding a volume from an image directory keeps what Docker keeps (engine/volumes/copyup.py)."""
from __future__ import annotations

import os
import stat

import pytest

from engine.volumes.copyup import copy_tree


def test_copy_keeps_links_modes_times_xattrs_and_special_files(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "d" / "deep").mkdir(parents=True)
    dst.mkdir()
    (src / "f").write_text("data")
    os.chmod(src / "f", 0o4755)
    os.link(src / "f", src / "d" / "hard")
    os.symlink("/etc/passwd", src / "abs-link")
    os.symlink("../f", src / "d" / "rel-link")
    os.mkfifo(src / "fifo", 0o600)
    os.chmod(src / "d", 0o2750)
    os.utime(src / "f", ns=(1_000_000_000, 2_000_000_000))
    try:
        os.setxattr(src / "f", "user.note", b"kept")
    except OSError:
        pytest.skip("no user xattrs on this filesystem")
    os.chmod(src, 0o711)
    copy_tree(str(src), str(dst))

    assert (dst / "f").read_text() == "data"
    assert stat.S_IMODE(os.stat(dst / "f").st_mode) == 0o4755
    assert os.stat(dst / "f").st_mtime_ns == 2_000_000_000
    assert os.stat(dst / "f").st_ino == os.stat(dst / "d" / "hard").st_ino  # still one file
    assert os.readlink(dst / "abs-link") == "/etc/passwd"  # copied as a link, never followed
    assert os.readlink(dst / "d" / "rel-link") == "../f"
    assert stat.S_ISFIFO(os.lstat(dst / "fifo").st_mode)
    assert stat.S_IMODE(os.stat(dst / "d").st_mode) == 0o2750
    assert os.getxattr(dst / "f", "user.note") == b"kept"
    assert stat.S_IMODE(os.stat(dst).st_mode) == 0o711  # the volume's root takes the directory's mode
    assert sorted(os.listdir(dst / "d")) == ["deep", "hard", "rel-link"]


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_copy_keeps_owners(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "f").write_text("x")
    os.chown(src / "f", 65534, 65534)
    os.chown(src, 1000, 1000)
    copy_tree(str(src), str(dst))
    assert (os.stat(dst / "f").st_uid, os.stat(dst / "f").st_gid) == (65534, 65534)
    assert (os.stat(dst).st_uid, os.stat(dst).st_gid) == (1000, 1000)
