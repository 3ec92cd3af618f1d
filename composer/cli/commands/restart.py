"""`composer restart`: restart services."""
from __future__ import annotations

HELP = "restart services"


def configure(p) -> None:
    p.add_argument("-t", "--timeout", type=float, help="seconds to wait for a container to stop")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    from composer.cli.project import converge

    converge(args, lambda r: r.stop(args.services or None, args.timeout),
             lambda r: r.start(args.services or None))
    return 0
