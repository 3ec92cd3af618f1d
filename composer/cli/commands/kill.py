"""`composer kill`: send a signal to services' running containers."""
from __future__ import annotations

HELP = "force stop service containers (send a signal)"


def configure(p) -> None:
    p.add_argument("-s", "--signal", default="SIGKILL", help="signal to send (name or number; default SIGKILL)")
    p.add_argument("--remove-orphans", action="store_true", help="accepted for compatibility; orphans are left alone")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    import sys

    from composer.cli.project import reconciler, selected

    rec = reconciler(args)
    _check_signal(args.signal)
    with rec.lock():
        targets = [c for c in selected(rec, args.services) if c.status == "running"]
        if not targets:
            print("no container to kill", file=sys.stderr)
        for c in reversed(targets):
            rec.engine.kill_container(c.id, args.signal)
            print(f" Container {c.name}  Killed", file=sys.stderr)
    return 0


def _check_signal(sig: str) -> None:
    import signal

    from composer.errors import ComposerError

    text = str(sig).upper()
    if text.isdigit() and 0 < int(text) < signal.NSIG:
        return
    if not text.startswith("SIG"):
        text = "SIG" + text
    if not isinstance(getattr(signal, text, None), signal.Signals):
        raise ComposerError(f"invalid signal: {sig} (use a name such as SIGTERM, HUP or a number)")
