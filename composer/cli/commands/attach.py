"""`composer attach`: attach our terminal to a service container's main process: its output, our
signals, and (when the service has stdin_open) our input; a tty service gets our terminal raw."""
from __future__ import annotations

HELP = "attach to a service container's output (and input, with stdin_open); Ctrl-C is passed to it"


def configure(p) -> None:
    p.add_argument("--index", type=int, default=1, help="which replica of the service (default 1)")
    p.add_argument("--no-stdin", action="store_true", help="do not attach stdin")
    p.add_argument("--sig-proxy", default="true", choices=["true", "false"],
                   help="pass the signals we receive to the container (default true)")
    p.add_argument("service")


def run(args) -> int:
    import os
    import signal
    import sys
    import threading
    import time

    from composer import labels
    from composer.cli.project import reconciler
    from composer.errors import ComposerError
    from engine.api import EngineError

    rec = reconciler(args)
    rec.project.service(args.service)
    target = next((c for c in rec.containers(args.service)
                   if c.labels.get(labels.LABEL_NUMBER) == str(args.index)), None)
    if target is None or target.status not in ("running", "restarting"):
        raise ComposerError(f"service {args.service} is not running: cannot attach to a stopped container, start it first")
    engine = rec.engine
    stdin_fd = engine.attach_stdin(target.id) if target.spec.stdin_open and not args.no_stdin else -1

    def forward(signum, frame):
        try:
            engine.kill_container(target.id, signum)
        except EngineError:
            pass

    if args.sig_proxy == "true":
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, forward)
    since = time.time()  # output from now on, even what our input causes before the log is open
    restore = None
    if stdin_fd >= 0:
        if target.spec.tty and os.isatty(0):
            import termios
            import tty

            restore = termios.tcgetattr(0)
            tty.setraw(0)  # keys, ^C included, go to the container's terminal
        threading.Thread(target=_copy_input, args=(stdin_fd,), daemon=True).start()
    try:
        out = sys.stdout.buffer
        for entry in engine.logs(target.id, follow=True, since=since):  # across policy restarts too
            stream = out if entry.get("stream") != "stderr" else sys.stderr.buffer
            stream.write(entry["log"].encode())
            stream.flush()
    finally:
        if restore is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, restore)
    return engine.wait_container(target.id)


def _copy_input(fd: int) -> None:
    import os

    try:
        while data := os.read(0, 65536):
            while data:
                data = data[os.write(fd, data):]
    except OSError:
        pass  # the container went away
    finally:
        os.close(fd)
