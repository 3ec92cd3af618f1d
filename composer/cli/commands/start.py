"""`composer start`: start stopped services."""
from __future__ import annotations

HELP = "start stopped services"


def configure(p) -> None:
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    from composer.cli.project import converge

    converge(args, lambda r: r.start(args.services or None))
    return 0
