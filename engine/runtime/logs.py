"""Reading a container's log (JSON lines written by its monitor, rotated as container.log.1, .2 ...),
with tail, a time window and follow. Following goes on while the monitor lives, so it carries on
across the restarts its restart policy makes and across rotations."""
from __future__ import annotations

import json
import os
import time
from collections import deque
from typing import Iterator

LOG = "container.log"


def stamp(epoch: float) -> str:
    """A time in the log's own format (comparable as text with the entries' "time")."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + ".%06dZ" % int((epoch % 1) * 1e6)


def log_files(container_dir: str) -> list[str]:
    """The log files, oldest first: the rotated ones (highest number first), then the current one."""
    path = os.path.join(container_dir, LOG)
    rotated = []
    try:
        names = os.listdir(container_dir)
    except FileNotFoundError:
        return []
    for name in names:
        suffix = name[len(LOG) + 1:]
        if name.startswith(LOG + ".") and suffix.isdigit():
            rotated.append((int(suffix), os.path.join(container_dir, name)))
    return [p for _, p in sorted(rotated, reverse=True)] + ([path] if os.path.exists(path) else [])


def _active(container_dir: str) -> bool:
    from engine.runtime.state import ACTIVE, read_state

    return read_state(container_dir).get("status") in ACTIVE


def _pause(container_dir: str, poll: float) -> None:
    """Sleep up to *poll* seconds, waking at once if the container's monitor exits."""
    from engine.procs import wait_gone
    from engine.store.records import read_json

    monitor = int((read_json(os.path.join(container_dir, "state.json"), {}) or {}).get("monitor_pid") or 0)
    if monitor:
        wait_gone(monitor, poll)
    else:
        time.sleep(poll)


def _entries(lines, since: str | None, until: str | None) -> Iterator[dict]:
    for line in lines:
        if not line.strip():
            continue
        entry = json.loads(line)
        t = entry.get("time", "")
        if (since is None or t >= since) and (until is None or t <= until):
            yield entry


def read_log(container_dir: str, follow: bool = False, tail: int | None = None, since: float | None = None,
             until: float | None = None, poll: float = 0.05) -> Iterator[dict]:
    """Entries ``{"log", "stream", "time"}`` whose time is within [since, until] (epoch seconds), the last
    *tail* of them; with *follow*, then new ones until the container's monitor exits (or *until* passes)."""
    lo = stamp(since) if since is not None else None
    hi = stamp(until) if until is not None else None
    path = os.path.join(container_dir, LOG)
    while not os.path.exists(path):
        if not follow or not _active(container_dir):
            break
        time.sleep(poll)
    files = log_files(container_dir)
    if not files:
        return
    current = None
    try:
        current = open(files[-1], "rb")  # held open: a rotation now does not hide its lines from us
        old = []
        for name in files[:-1]:
            try:
                with open(name, "rb") as f:
                    old.append(f.read())
            except FileNotFoundError:
                pass
        lines: list = [ln for blob in old for ln in blob.splitlines(keepends=True)]
        lines += current.readlines()
        pending = b""
        if lines and not lines[-1].endswith(b"\n"):
            pending = lines.pop()
        found = _entries(lines, lo, hi)
        if tail is not None:
            found = deque(found, maxlen=tail) if tail > 0 else ()
        yield from found
        if not follow:
            return
        while True:
            chunk = current.readline()
            if chunk:
                pending += chunk
                if pending.endswith(b"\n"):
                    yield from _entries([pending], lo, hi)
                    pending = b""
                continue
            if hi is not None and stamp(time.time()) > hi:
                return
            if _rotated(current, path):
                current.close()
                current = open(path, "rb")
                continue
            if not _active(container_dir):
                # one last read: the monitor may have written the final lines before exiting
                rest = pending + current.read()
                if _rotated(current, path):
                    with open(path, "rb") as f:
                        rest += f.read()
                yield from _entries(rest.splitlines(), lo, hi)
                return
            _pause(container_dir, poll)
    finally:
        if current is not None:
            current.close()


def _rotated(f, path: str) -> bool:
    """Whether *path* now names another file than the open *f* (the monitor rotated the log)."""
    try:
        return os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return False
