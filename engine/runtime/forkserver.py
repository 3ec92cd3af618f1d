"""Container monitors forked from one lean server process, instead of one interpreter started each.

An interpreter costs ~20 ms of CPU to start and import the monitor; a fork of a process that
already has, well under 1 ms. So a process that starts containers (the CLI, an API user) gets one
server, started on its first container start and connected by a SOCK_SEQPACKET socket pair; it
lives as long as that socket: when the process exits, however it exits, the server sees the end of
its socket and exits too (monitors it forked live on, detached).

A request is one message: the marshalled ``{"cdir", "config", "targets"}``, with descriptors attached
(SCM_RIGHTS): the monitor's log first (its stdout and stderr), then one per entry of ``targets``,
the descriptor number the monitor expects it under (the ready pipe, published ports' sockets,
stdio of a foreground run). The server forks twice, so the monitor is not its child (as a monitor
started directly outlives the CLI), and the monitor rewrites its command line to the one a directly
started monitor has: `ps`, the pid-reuse guards (engine/procs.py) and leak checks name its container.
What goes wrong before the monitor runs is written to the log; the launcher then reads an empty
answer on the ready pipe and reports the log.
"""
from __future__ import annotations

import marshal
import os
import socket
import sys
import threading

# a directly started monitor's command line, which a forked monitor takes over (`-c` rather than
# `-m`: runpy alone would add almost 1 MB to every monitor)
MONITOR_MAIN = "import sys; from engine.runtime.monitor import main; sys.exit(main(sys.argv[1:]))"
SERVER_MAIN = "import sys; from engine.runtime.forkserver import serve; sys.exit(serve(int(sys.argv[1])))"
# room in the server's argv for a monitor's command line (the container dir and the ready fd)
_ARGV_ROOM = 1024
MAX_MESSAGE = 128 * 1024  # a bigger config goes the slow way (a monitor started directly)
MAX_FDS = 64

_client = None  # this process's connection to its server, made on first use
_client_lock = threading.Lock()


# -- the client (engine/runtime/launch.py) ----------------------------------------------------------

def prestart(env: dict[str, str]) -> None:
    """Start the server ahead of the first request (idempotent)."""
    _connect(env)


def spawn(cdir: str, config: bytes, log_fd: int, fds: list[int], env: dict[str, str]) -> bool:
    """Have the server fork the monitor of *cdir*; *fds* keep their numbers in it. False when no server
    can take the request (the caller starts the monitor directly)."""
    msg = marshal.dumps({"cdir": cdir, "config": config, "targets": list(fds)})
    if len(msg) > MAX_MESSAGE or len(fds) + 1 > MAX_FDS:
        return False
    import array

    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [log_fd, *fds]).tobytes())]
    for _ in range(2):  # a server that died is replaced once
        sock = _connect(env)
        if sock is None:
            return False
        try:
            sock.sendmsg([msg], ancillary)
            return True
        except OSError:
            _drop(sock)
    return False


def _connect(env: dict[str, str]):
    global _client
    with _client_lock:
        if _client is not None and _client[1] != os.getpid():  # inherited through a fork: not ours
            _client = None
        if _client is None:
            import subprocess

            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-S", "-c", SERVER_MAIN, str(theirs.fileno()), " " * _ARGV_ROOM],
                    pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True, cwd="/", env=env)
            except OSError:
                ours.close()
                return None
            finally:
                theirs.close()
            proc.returncode = 0  # it ends with our socket; no warning from Popen's finalizer
            ours.set_inheritable(False)
            _client = (ours, os.getpid())
        return _client[0]


def _drop(sock) -> None:
    global _client
    with _client_lock:
        if _client is not None and _client[0] is sock:
            _client = None
    sock.close()


# -- the server ---------------------------------------------------------------------------------------

def serve(fd: int) -> int:
    import signal

    # imported once here, shared by every fork: what every monitor and container start needs
    from engine import events  # noqa: F401
    from engine.network import netns, registry  # noqa: F401
    from engine.runtime import caps, confine, container_init, init, monitor, procfs, seccomp  # noqa: F401

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C of the CLI is the CLI's to handle
    sock = socket.socket(fileno=fd)
    space = socket.CMSG_SPACE(MAX_FDS * 4)
    while True:
        try:
            msg, ancillary, _, _ = sock.recvmsg(MAX_MESSAGE + 1024, space)
        except InterruptedError:
            continue
        fds: list[int] = []
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += [int.from_bytes(data[i:i + 4], sys.byteorder, signed=True)
                        for i in range(0, len(data) - len(data) % 4, 4)]
        if not msg:
            return 0  # the process we serve is gone
        try:
            _fork_monitor(sock, marshal.loads(msg), fds)
        finally:
            for f in fds:
                os.close(f)


def _fork_monitor(sock, request: dict, fds: list[int]) -> None:
    middle = os.fork()
    if middle == 0:
        code = 0
        try:
            if os.fork() == 0:
                code = 1
                try:
                    code = _become_monitor(sock, request, fds)
                except BaseException as e:  # noqa: BLE001 - reported in the log, read by the launcher
                    try:
                        os.write(2, f"monitor: {type(e).__name__}: {e}\n".encode())
                    except OSError:
                        pass
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            os._exit(code)
    os.waitpid(middle, 0)


def _become_monitor(sock, request: dict, fds: list[int]) -> int:
    import fcntl

    os.setsid()
    targets = list(request["targets"])
    sock.close()
    # out of the way of the numbers they get in the monitor, then onto those numbers
    high = [fcntl.fcntl(f, fcntl.F_DUPFD_CLOEXEC, 4096) for f in fds]
    keep = {0, 1, 2, *targets}
    for name in os.listdir("/proc/self/fd"):
        n = int(name)
        if n not in keep and n not in high:
            try:
                os.close(n)
            except OSError:
                pass
    log, rest = high[0], high[1:]
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    for f, target in zip(rest, targets):
        os.dup2(f, target)
    for f in (null, *high):
        if f not in keep:
            os.close(f)
    os.chdir("/")
    cdir = request["cdir"]
    ready = targets[0] if targets else -1
    argv = [cdir, "--ready-fd", str(ready)]
    from engine.runtime.syscalls import set_cmdline

    set_cmdline([sys.executable, "-S", "-c", MONITOR_MAIN, *argv])
    from engine.runtime.monitor import main

    return main(argv, config=marshal.loads(request["config"]))
