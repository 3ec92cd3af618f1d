"""Starting, stopping and observing containers from the CLI's side of the monitor."""
from __future__ import annotations

import os
import signal as _signal
import subprocess
import sys

from engine.errors import EngineError
from engine.procs import wait_gone
from engine.runtime.forkserver import MONITOR_MAIN
from engine.runtime.state import PAUSED, STOPPING, read_state
from engine.runtime.state import monitor_alive as _monitor_alive
from engine.store.records import open_log, read_json


class StartError(EngineError):
    """The container's process could not be started; exit_code is what Docker would report."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def start(cdir: str, pass_fds: list[int] | tuple[int, ...] = (), stdio: dict | None = None) -> int:
    """Spawn the container's monitor and wait until the process runs. Returns its host pid.

    *stdio* ({"fds": [in, out, err]}) gives the first process the caller's descriptors instead of the
    log (for this start only; it is not recorded); {"fds": [sock], "console": True, "size": [rows, cols]}
    gives it a pty of the container's devpts instead, whose master is sent over the unix socket *sock*."""
    for flag in (STOPPING, PAUSED):
        try:
            os.unlink(os.path.join(cdir, flag))
        except FileNotFoundError:
            pass
    import marshal

    config = read_json(os.path.join(cdir, "config.json"))
    if stdio:
        config["stdio"] = stdio
        pass_fds = (*pass_fds, *stdio["fds"])
    config = marshal.dumps(config)
    ready_r, ready_w = os.pipe()
    log = open_log(os.path.join(cdir, "monitor.log"))
    try:
        env = _monitor_env()
        from engine.runtime import forkserver

        proc = None
        if not forkserver.spawn(cdir, config, log.fileno(), [ready_w, *pass_fds], env):
            proc = subprocess.Popen(
                [sys.executable, "-S", "-c", MONITOR_MAIN, cdir, "--ready-fd", str(ready_w)],
                stdin=subprocess.PIPE, stdout=log, stderr=log, start_new_session=True,
                pass_fds=(ready_w, *pass_fds), cwd="/", env=env)
            proc.stdin.write(config)
            proc.stdin.close()
    finally:
        os.close(ready_w)
        log.close()
    try:
        answer = _read_line(ready_r)
        if answer.startswith(b"ok "):
            if proc is not None:
                _reap_later(proc)
            return int(answer.split()[1])
        if proc is not None:
            proc.wait()
        else:  # a forked monitor holds the pipe until it has cleaned up and exited
            _wait_eof(ready_r, 10)
    finally:
        os.close(ready_r)
    if answer.startswith(b"err "):
        _, code, message = answer.decode(errors="replace").rstrip("\n").split(" ", 2)
        raise StartError(message, int(code))
    raise StartError(f"the container's monitor failed to start (see {os.path.join(cdir, 'monitor.log')})", 125)


def prepare() -> None:
    """Start this process's monitor fork server now, so that its start overlaps with other work."""
    from engine.runtime import forkserver

    forkserver.prestart(_monitor_env())


def _monitor_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": _package_root()}


def _read_line(fd: int) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


def _wait_eof(fd: int, timeout: float) -> None:
    import select
    import time

    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
        if not os.read(fd, 4096):
            return


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _reap_later(proc: subprocess.Popen) -> None:
    """The monitor lives on after the CLI; don't let Popen's finalizer warn about it."""
    proc.returncode = 0


def _signal_number(sig: str | int) -> int:
    if isinstance(sig, int):
        return sig
    s = str(sig).upper()
    if s.isdigit():
        return int(s)
    if not s.startswith("SIG"):
        s = "SIG" + s
    try:
        return int(getattr(_signal, s))
    except AttributeError:
        raise EngineError(f"invalid signal: {sig}") from None


def stop(cdir: str, timeout: float, signal: str | int = "SIGTERM") -> None:
    """Ask the process to stop, kill it after *timeout* seconds, and wait for the monitor's cleanup."""
    try:
        open(os.path.join(cdir, STOPPING), "a").close()
        flagged = True
    except OSError:  # a full disk: no flag, so the monitor is told by SIGTERM (it then restarts nothing)
        flagged = False
    state = read_json(os.path.join(cdir, "state.json"), {}) or {}
    monitor = int(state.get("monitor_pid") or 0)
    if not _monitor_alive(monitor):
        clean_after_monitor(cdir)
        return
    pid = int(state.get("pid") or 0)
    sig = _signal_number(signal)
    if not flagged:
        _kill(monitor, _signal.SIGTERM)
    if pid:
        _kill(pid, sig)
    if os.path.exists(os.path.join(cdir, PAUSED)):
        _thaw(cdir)  # a frozen process gets its signal once thawed
    if wait_gone(monitor, timeout):
        return
    state = read_json(os.path.join(cdir, "state.json"), {}) or {}
    if state.get("pid"):
        _kill(int(state["pid"]), _signal.SIGKILL)
    if not wait_gone(monitor, 10):
        _kill(monitor, _signal.SIGKILL)
        raise EngineError(f"the monitor of {cdir} did not exit; it was killed")


def wait_monitor_gone(cdir: str, timeout: float = 5.0) -> None:
    """Let the container's monitor finish its own clean-up and exit (it does so right after the
    process ends), so that removing the container leaves no process of ours behind."""
    pid = int((read_json(os.path.join(cdir, "state.json"), {}) or {}).get("monitor_pid") or 0)
    if not pid:
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if os.path.basename(cdir).encode() not in f.read():
                return  # that pid is some other process now
    except OSError:
        return
    wait_gone(pid, timeout)


def reap_dead_monitor(cdir: str) -> None:
    """Before a start: a container whose record says it runs but whose monitor is gone (kill -9)
    leaves nothing behind, and no process of its old run lives on beside the new one."""
    from engine.runtime.state import ACTIVE

    state = read_json(os.path.join(cdir, "state.json"), {}) or {}
    if state.get("status") in ACTIVE and not _monitor_alive(int(state.get("monitor_pid") or 0)):
        clean_after_monitor(cdir)


def clean_after_monitor(cdir: str) -> None:
    """Do what a monitor that died (kill -9, reboot) no longer can: end the container's processes and
    remove its namespace, DNS entries and cgroups."""
    from engine.runtime.monitor import Monitor

    config = read_json(os.path.join(cdir, "config.json"))
    if config is None:
        return
    orphan = Monitor(cdir, config)
    orphan.cgroup.kill_all()
    orphan.cleanup()
    state = read_json(config["state"], {}) or {}
    if state.get("status") == "running":
        orphan.save(**{**state, "status": "exited", "pid": 0, "exit_code": state.get("exit_code") or 255})


def kill(cdir: str, signal: str | int = "SIGKILL", stop_signal: str | int | None = None) -> None:
    """Send *signal* to the container's process. Given the container's *stop_signal* (as `kill`
    does), a fatal signal, SIGKILL or that stop signal, also turns the restart policy off until the
    next start, as Docker's kill does; without it this is a bare signal, which the policy answers."""
    state = read_state(cdir)
    if state.get("status") != "running" or not state.get("pid"):
        raise EngineError("container is not running")
    sig = _signal_number(signal)
    if state.get("paused") and sig != _signal.SIGKILL:
        raise EngineError("container is paused: unpause it first (only SIGKILL reaches a paused container)")
    if stop_signal is not None and sig in (_signal.SIGKILL, _signal_number(stop_signal)):
        try:
            open(os.path.join(cdir, STOPPING), "a").close()
        except OSError:
            pass  # a full disk: the signal still goes, the policy may answer it
    _kill(int(state["pid"]), sig)
    if state.get("paused"):
        _thaw(cdir)


def _cgroup(cdir: str):
    from engine.runtime.cgroups import Cgroup

    config = read_json(os.path.join(cdir, "config.json")) or {}
    return Cgroup(config["cgroup_parent"], config["id"])


def set_paused(cdir: str, paused: bool) -> None:
    """Freeze or thaw every process of the container (the freezer cgroup)."""
    state = read_state(cdir)
    if state.get("status") != "running":
        raise EngineError("container is not running")
    if bool(state.get("paused")) == paused:
        raise EngineError("container is already paused" if paused else "container is not paused")
    flag = os.path.join(cdir, PAUSED)
    try:
        if paused:
            open(flag, "a").close()
        _cgroup(cdir).freeze(paused)
    except OSError as e:
        if paused:
            _unlink(flag)
        raise EngineError(f"cannot {'pause' if paused else 'unpause'} the container: {e.strerror or e}") from None
    if not paused:
        _unlink(flag)


def _thaw(cdir: str) -> None:
    try:
        _cgroup(cdir).freeze(False)
    except (OSError, KeyError):
        pass  # gone with its container
    _unlink(os.path.join(cdir, PAUSED))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def wait(cdir: str) -> int:
    """Block until the container is no longer running; its exit code."""
    while True:
        state = read_json(os.path.join(cdir, "state.json"), {}) or {}
        monitor = int(state.get("monitor_pid") or 0)
        if state.get("status") != "running" or not _monitor_alive(monitor):
            return int(read_state(cdir).get("exit_code") or 0)
        wait_gone(monitor, 60)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
