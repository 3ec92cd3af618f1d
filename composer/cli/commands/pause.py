"""`composer pause`: freeze the processes of services' running containers (cgroup freezer)."""
from __future__ import annotations

HELP = "pause services"


def configure(p) -> None:
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    freeze(args, True)
    return 0


def freeze(args, paused: bool) -> None:
    """Pause (or unpause) the selected services' running containers."""
    import sys

    from composer.cli.project import reconciler, selected

    rec = reconciler(args)
    with rec.lock():
        for c in selected(rec, args.services):
            if c.status == "running" and c.paused != paused:
                rec.engine.pause_container(c.id, paused)
                print(f" Container {c.name}  {'Paused' if paused else 'Unpaused'}", file=sys.stderr)
