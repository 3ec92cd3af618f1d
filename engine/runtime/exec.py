"""Running another process inside a running container (`exec`).

Two forms: `exec_in` runs to completion and returns the exit code; `exec_start` returns an
`ExecProcess` handle (pid, poll, wait, kill) so a caller can stream through the descriptors it
passed (for instance the ends of its own pipes) while the process runs.
"""
from __future__ import annotations

import _signal as signal  # the C module: `signal` imports enum (the monitor runs healthchecks with this)
import os

from engine.errors import EngineError
from engine.runtime import confine  # noqa: F401 - loaded here: after setns the host's files are out of sight
from engine.runtime import syscalls as sc
from engine.runtime.cgroups import Cgroup
from engine.runtime.container_init import enter_process
from engine.runtime.initerror import InitError
from engine.runtime.state import read_state
from engine.store.records import read_json

# what an exec'd process inherits from the container's own process: the same confinement
CONFINEMENT = ("caps", "seccomp", "no_new_privs", "rlimits", "group_add")

NAMESPACES = (("ipc", sc.CLONE_NEWIPC), ("uts", sc.CLONE_NEWUTS), ("net", sc.CLONE_NEWNET),
              ("pid", sc.CLONE_NEWPID), ("mnt", sc.CLONE_NEWNS))


def _exit_code(status: int) -> int:
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


class ExecProcess:
    """A process started by `exec_start`: our direct child, which waits for the real process in the
    container's pid namespace and exits with its code (126 when it could not be run, as `docker exec`)."""

    def __init__(self, pid: int, container_pid: int):
        self.pid = pid  # the helper, our child
        self.container_pid = container_pid  # the process itself, as the host sees it (0 if it never ran)
        self.returncode: int | None = None
        self.terminal = -1  # with a tty: the master side of the process's pseudo-terminal

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = _exit_code(status)
        return self.returncode

    def wait(self) -> int:
        while self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
            except InterruptedError:
                continue
            self.returncode = _exit_code(status)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Signal the process in the container (still unreaped while the helper lives, so the pid
        cannot have been reused)."""
        if self.poll() is None and self.container_pid:
            try:
                os.kill(self.container_pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def exec_start(cdir: str, args: list[str], env: list[str], user: str, cwd: str, stdin: int | None,
               stdout: int | None, stderr: int | None, tty: bool = False, privileged: bool = False,
               running: tuple[int, dict] | None = None, size: tuple[int, int] | None = None) -> ExecProcess:
    """Start *args* in the container's namespaces and cgroups with the given descriptors as its stdio
    (None: /dev/null). The caller may close its copies of the descriptors once this returns.
    With *tty*, the stdio descriptors are not used: a pseudo-terminal is opened in the container's own
    devpts (*size* its (rows, columns)), its slave is the process's stdio and controlling terminal in
    a session of its own (so ^C typed into the master reaches it as SIGINT), and its master is the
    handle's `terminal` (the caller closes it).
    *running* is (pid, config) when the caller knows them (the monitor: it spares it json's memory)."""
    if running is None:
        state = read_state(cdir)
        if state.get("status") != "running" or not state.get("pid"):
            raise EngineError("container is not running; start it first")
        running = (int(state["pid"]), read_json(os.path.join(cdir, "config.json")))
    pid, cfg = running
    fds: list[tuple[int, int]] = []
    try:
        for name, kind in NAMESPACES:
            fds.append((os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), kind))
    except OSError as e:
        for fd, _ in fds:
            os.close(fd)
        raise EngineError(f"container is not running ({e.strerror}); start it first") from None
    cgroup = Cgroup(cfg["cgroup_parent"], cfg["id"])
    console = None
    if tty:
        from engine.runtime import console as console_mod

        ours, theirs = console_mod.socket_pair()
        console = (ours, theirs, size)
        stdin = stdout = stderr = None
    pid_r, pid_w = os.pipe2(os.O_CLOEXEC)
    try:
        child = os.fork()
        if child == 0:
            os.close(pid_r)
            if console:
                os.close(console[0])
            confinement = {k: v for k, v in (cfg.get("process") or {}).items() if k in CONFINEMENT}
            if privileged:  # exec --privileged: every capability, no seccomp filter, as Docker
                from engine.runtime.caps import host_mask

                confinement.update(caps=host_mask(), seccomp=False)
            process = {**confinement, "args": args, "env": env, "user": user, "cwd": cwd, "terminal": tty}
            _helper(fds, cgroup, pid_w, process, console, stdin, stdout, stderr)
    finally:
        for fd, _ in fds:
            os.close(fd)
        os.close(pid_w)
        if console:
            os.close(console[1])
    master = -1
    if console:
        try:
            master = console_mod.receive_master(console[0])
        except console_mod.ConsoleError as e:
            os.close(pid_r)
            os.waitpid(child, 0)
            raise EngineError(str(e)) from None
        finally:
            os.close(console[0])
    with os.fdopen(pid_r, "rb") as f:
        text = f.read()
    proc = ExecProcess(child, int(text) if text.isdigit() else 0)
    proc.terminal = master
    return proc


def _helper(fds, cgroup: Cgroup, pid_w: int, process: dict, console, stdin, stdout, stderr) -> None:
    """In the forked helper: join the container, fork into its pid namespace, relay the exit code.
    With *console* (our socket, theirs, size): open the pty in the container, hand its master back."""
    code = 126
    tty = console is not None
    try:
        # from here on not inspectable from the container (its grandchild enters the pid namespace),
        # holding none of the caller's descriptors, arguments or environment
        sc.hide_host_process("composer-exec")
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            if fd is None:
                fd = os.open("/dev/null", os.O_RDWR)
            if fd != target:
                os.dup2(fd, target)
        sc.close_fds({pid_w, *(fd for fd, _ in fds), *((console[1],) if console else ())})
        cgroup.add(os.getpid())
        for fd, kind in fds:
            sc.setns(fd, kind)
        if console:  # in the container's mount namespace now: its /dev/pts
            _open_console(console[1], console[2])
        grandchild = os.fork()  # only children enter the pid namespace
        if grandchild == 0:
            os.close(pid_w)
            try:
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                if tty:
                    _take_terminal()
                enter_process(process, make_cwd=False)
            except InitError as e:  # as `docker exec`: whatever kept the command from starting is 126
                os.write(2, f"{e}\n".encode())
                os._exit(126)
            except BaseException as e:  # noqa: BLE001 - nothing may escape a forked child
                os.write(2, f"exec failed: {e}\n".encode())
                os._exit(126)

        os.write(pid_w, str(grandchild).encode())
        os.close(pid_w)

        def forward(signum, frame):
            try:
                os.kill(grandchild, signum)
            except ProcessLookupError:
                pass

        # ^C reaches the process directly (same process group); the helper just relays the exit code
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, forward)
        while True:
            try:
                _, status = os.waitpid(grandchild, 0)
                break
            except InterruptedError:
                continue
        code = _exit_code(status)
    except BaseException as e:  # noqa: BLE001 - nothing may escape the forked helper
        try:
            os.write(2, f"exec failed: {e}\n".encode())
        except OSError:
            pass
    os._exit(code)


def _open_console(sock: int, size) -> None:
    """A pty of the container's devpts: the master goes back to the caller, the slave on 0, 1, 2."""
    from engine.runtime import console

    try:
        master, slave = console.open_pty(size)
    except console.ConsoleError as e:
        console.send_error(sock, str(e))
        os._exit(126)
    console.send_master(sock, master)
    os.close(master)
    os.close(sock)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(slave)


def _take_terminal() -> None:
    """Make stdin (a pty slave) the controlling terminal of a new session led by this process."""
    import fcntl
    import termios

    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def exec_in(cdir: str, args: list[str], env: list[str], user: str, cwd: str, stdin: int | None,
            stdout: int | None, stderr: int | None, tty: bool = False, privileged: bool = False) -> int:
    """Run *args* in the container's namespaces and cgroups; returns the exit code (126 when it could not
    be run, as docker exec, with the reason on *stderr*; 128+N when killed by signal N)."""
    return exec_start(cdir, args, env, user, cwd, stdin, stdout, stderr, tty, privileged).wait()
