"""Reading a container's state as its monitor records it. Stdlib only and light: `ps`, `logs` and
the monitor itself import it, so it must not pull in subprocess or ctypes."""
from __future__ import annotations

import os

from engine.procs import alive
from engine.store.records import read_json

STOPPING = "stopping"  # a file in the container dir: the user asked it to stop; no restart
PAUSED = "paused"  # a file in the container dir: its cgroup is frozen
ACTIVE = ("running", "restarting")  # statuses in which the container's monitor lives


def monitor_alive(pid: int) -> bool:
    return alive(pid, b"engine.runtime.monitor")


def read_state(cdir: str) -> dict:
    """The container's state; a running state whose monitor is gone reads as exited."""
    state = read_json(os.path.join(cdir, "state.json"), {}, runtime=True) or {}
    if state.get("status") in ACTIVE and not monitor_alive(int(state.get("monitor_pid") or 0)):
        state = {**state, "status": "exited", "exit_code": state.get("exit_code") or 255, "pid": 0}
    if state.get("status") == "running" and os.path.exists(os.path.join(cdir, PAUSED)):
        state = {**state, "paused": True}
    return state
