"""Advisory file locks (flock) that serialise mutations of engine objects.

Stdlib only. A lock is released when its file descriptor closes, so a killed
process never leaves a lock held.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def file_lock(path: str, shared: bool = False) -> Iterator[None]:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
