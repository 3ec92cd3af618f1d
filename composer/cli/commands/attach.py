"""`composer attach`: follow a running service container's output and pass it our signals."""
from __future__ import annotations

HELP = "attach to a service container's output; Ctrl-C is passed to it"


def configure(p) -> None:
    p.add_argument("--index", type=int, default=1, help="which replica of the service (default 1)")
    p.add_argument("--no-stdin", action="store_true", help="do not attach stdin (stdin is never attached)")
    p.add_argument("--sig-proxy", default="true", choices=["true", "false"],
                   help="pass the signals we receive to the container (default true)")
    p.add_argument("service")


def run(args) -> int:
    import signal
    import sys

    from composer import desired
    from composer.cli.project import reconciler
    from composer.errors import ComposerError
    from engine.api import EngineError

    rec = reconciler(args)
    rec.project.service(args.service)
    target = next((c for c in rec.containers(args.service)
                   if c.labels.get(desired.LABEL_NUMBER) == str(args.index)), None)
    if target is None or target.status not in ("running", "restarting"):
        raise ComposerError(f"service {args.service} is not running: cannot attach to a stopped container, start it first")
    engine = rec.engine

    def forward(signum, frame):
        try:
            engine.kill_container(target.id, signum)
        except EngineError:
            pass

    if args.sig_proxy == "true":
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, forward)
    out = sys.stdout.buffer
    for entry in engine.logs(target.id, follow=True, tail=0):  # from now on, across policy restarts
        stream = out if entry.get("stream") != "stderr" else sys.stderr.buffer
        stream.write(entry["log"].encode())
        stream.flush()
    return engine.wait_container(target.id)
