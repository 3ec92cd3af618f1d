"""`composer stop`: stop services."""
from __future__ import annotations

HELP = "stop services"


def configure(p) -> None:
    p.add_argument("-t", "--timeout", type=float, help="seconds to wait for a container to stop")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    from composer.cli.project import converge

    converge(args, lambda r: r.stop(args.services or None, args.timeout))
    return 0
