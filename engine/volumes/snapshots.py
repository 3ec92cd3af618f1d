"""Saved states of a named volume's data, to return a volume to a known state quickly (the test
fixtures' reset between tests). A snapshot is a full copy taken with `cp -a` (ownership, modes,
times, xattrs, hard links and sparse files kept), stored beside the volume, so it goes with it.
Restoring replaces the volume's contents in place: containers keep their mount of the same directory.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from engine.errors import EngineError, NotFound


def _dir(volume_dir: str, sid: str = "") -> str:
    return os.path.join(volume_dir, "snapshots", sid) if sid else os.path.join(volume_dir, "snapshots")


def _copy(src: str, dst: str) -> None:
    """Copy the contents of *src* into the existing directory *dst*."""
    res = subprocess.run(["cp", "-a", "--reflink=auto", src + "/.", dst], capture_output=True, text=True)
    if res.returncode != 0:
        raise EngineError(f"copying volume data failed: {res.stderr.strip()}")


def take(volume_dir: str) -> str:
    sid = os.urandom(8).hex()
    tmp = _dir(volume_dir, sid + ".taking")
    os.makedirs(tmp)
    try:
        _copy(os.path.join(volume_dir, "_data"), tmp)
        os.rename(tmp, _dir(volume_dir, sid))  # a snapshot exists whole or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sid


def restore(volume_dir: str, sid: str) -> None:
    src = _dir(volume_dir, sid)
    if not sid or "/" in sid or not os.path.isdir(src) or sid.endswith(".taking"):
        raise NotFound(f"no such volume snapshot: {sid}")
    data = os.path.join(volume_dir, "_data")
    for entry in os.listdir(data):
        path = os.path.join(data, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    _copy(src, data)


def remove(volume_dir: str, sid: str) -> None:
    if sid and "/" not in sid:
        shutil.rmtree(_dir(volume_dir, sid), ignore_errors=True)
