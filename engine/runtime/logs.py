"""Reading a container's log file (JSON lines written by its monitor), with tail and follow."""
from __future__ import annotations

import json
import os
import time
from collections import deque
from typing import Iterator


def _running(container_dir: str) -> bool:
    from engine.runtime.state import read_state

    return read_state(container_dir).get("status") == "running"


def _pause(container_dir: str, poll: float) -> None:
    """Sleep up to *poll* seconds, waking at once if the container's monitor exits."""
    from engine.procs import wait_gone
    from engine.store.records import read_json

    monitor = int((read_json(os.path.join(container_dir, "state.json"), {}) or {}).get("monitor_pid") or 0)
    if monitor:
        wait_gone(monitor, poll)
    else:
        time.sleep(poll)


def read_log(container_dir: str, follow: bool = False, tail: int | None = None,
             poll: float = 0.05) -> Iterator[dict]:
    """Entries ``{"log", "stream", "time"}``; with *follow*, keeps reading until the container stops."""
    path = os.path.join(container_dir, "container.log")
    while not os.path.exists(path):
        if not follow or not _running(container_dir):
            return
        time.sleep(poll)
    with open(path, "rb") as f:
        if tail is not None:
            for line in deque(f, maxlen=tail) if tail > 0 else []:
                yield json.loads(line)
        pending = b""
        while True:
            chunk = f.readline()
            if chunk:
                pending += chunk
                if pending.endswith(b"\n"):
                    if tail is None or tail >= 0:
                        yield json.loads(pending)
                    pending = b""
                continue
            if not follow:
                return
            if not _running(container_dir):
                # one last read: the monitor may have written the final lines before exiting
                rest = f.read()
                for line in (pending + rest).splitlines():
                    if line.strip():
                        yield json.loads(line)
                return
            _pause(container_dir, poll)
