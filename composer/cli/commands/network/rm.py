"""`composer network rm`: remove networks."""
from __future__ import annotations

HELP = "remove networks"


def configure(p) -> None:
    p.add_argument("names", nargs="+")


def run(args) -> int | None:
    from engine.api import Engine

    engine = Engine()
    for n in args.names:
        engine.remove_network(n)
        print(n)
    return 0
