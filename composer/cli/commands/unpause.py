"""`composer unpause`: thaw services' paused containers."""
from __future__ import annotations

HELP = "unpause services"


def configure(p) -> None:
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    from composer.cli.commands.pause import freeze

    freeze(args, False)
    return 0
