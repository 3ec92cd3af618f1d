"""`composer container inspect`: show containers' details."""
from __future__ import annotations

HELP = "show a container's details"


def configure(p) -> None:
    p.add_argument("containers", nargs="+")


def run(args) -> int | None:
    from composer.cli.output import dump_json
    from engine.api import Engine

    engine = Engine()
    dump_json([engine.inspect_container(ref) for ref in args.containers])
    return 0
