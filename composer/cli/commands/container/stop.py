"""`composer container stop`: stop containers."""
from __future__ import annotations

HELP = "stop containers"


def configure(p) -> None:
    p.add_argument("-t", "--timeout", type=float)
    p.add_argument("containers", nargs="+")


def run(args) -> int | None:
    from engine.api import Engine

    engine = Engine()
    for ref in args.containers:
        engine.stop_container(ref, args.timeout)
        print(ref)
    return 0
