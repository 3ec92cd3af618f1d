"""`init: true`: the container's PID 1 stays ours (like tini / docker-init), already confined like
the command itself; it runs the command as its child, forwards every signal it gets to it, reaps
every orphan of the container, and exits with the command's exit status. Stdlib only: busybox
images have no tini, and this process is a fork of the monitor, so nothing new is loaded."""
from __future__ import annotations

import _signal as signal
import os

# not forwarded: job control and the faults that concern the init itself
KEEP = {signal.SIGCHLD, signal.SIGKILL, signal.SIGSTOP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGFPE,
        signal.SIGILL, signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGTRAP, signal.SIGSYS}


def _status_code(status: int) -> int:
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def run_init(path: str, args: list[str], env: dict[str, str]) -> None:
    """Never returns."""
    child = os.fork()
    if child == 0:
        from engine.runtime.container_init import default_signals

        default_signals()
        try:
            os.execve(path, args, env)
        except OSError as e:
            os.write(2, f'exec: "{args[0]}": {e.strerror}\n'.encode())
        os._exit(126)

    def forward(signum, frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for sig in range(1, 32):
        if sig not in KEEP:
            try:
                signal.signal(sig, forward)
            except (OSError, ValueError):
                pass
    from engine.runtime.syscalls import close_fds, set_process_name

    set_process_name("init")
    close_fds()  # the start pipes: the monitor learns of the exec from the child's copy
    code = 0
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == child:
            code = _status_code(status)
            break
    os._exit(code)
