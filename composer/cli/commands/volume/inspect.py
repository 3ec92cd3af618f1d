"""`composer volume inspect`: show volumes' details."""
from __future__ import annotations

HELP = "show a volume's details"


def configure(p) -> None:
    p.add_argument("names", nargs="+")


def run(args) -> int | None:
    from composer.cli.output import dump_json
    from engine.api import Engine

    engine = Engine()
    dump_json([engine.inspect_volume(n) for n in args.names])
    return 0
