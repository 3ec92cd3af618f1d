"""`composer volume create`: create a volume."""
from __future__ import annotations

HELP = "create a volume"


def configure(p) -> None:
    p.add_argument("name")
    p.add_argument("-d", "--driver", default="local")


def run(args) -> int | None:
    from engine.api import Engine

    print(Engine().create_volume(args.name, args.driver).name)
    return 0
