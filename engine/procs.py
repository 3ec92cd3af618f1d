"""Watching processes that are not our children (monitors, resolvers). Stdlib only."""
from __future__ import annotations

import os
import select


def alive(pid: int, marker: bytes) -> bool:
    """Whether *pid* runs and its command line contains *marker* (guards against pid reuse).
    A zombie has an empty command line, so it counts as gone."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker in f.read()
    except OSError:
        return False


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to *timeout* seconds for *pid* to exit; True if it has."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return True
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(max(0.0, timeout) * 1000))
    finally:
        os.close(fd)
