"""`composer up`: create and start the stack's containers."""
from __future__ import annotations

HELP = "create and start the stack's containers"


def configure(p) -> None:
    p.add_argument("-d", "--detach", action="store_true", help="run in the background")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    from composer.cli.project import converge

    rec = converge(args, lambda r: r.up(args.services or None))
    if args.detach:
        return 0
    return _attach(rec, args.services)


def _attach(rec, services: list[str]) -> int:
    """Follow the output of the stack until its containers exit; Ctrl-C stops the stack."""
    import sys

    import anyio

    from composer import desired
    from composer.cli.follow import follow

    containers = [c for c in rec.containers() if not services or c.labels.get(desired.LABEL_SERVICE) in services]
    try:
        follow(rec.engine, containers, follow=True, tail=None, prefix=True)
    except KeyboardInterrupt:
        print("Gracefully stopping... (press Ctrl+C again to force)", file=sys.stderr)
        with rec.lock():
            anyio.run(rec.stop, services or None)
        return 130
    return 0
