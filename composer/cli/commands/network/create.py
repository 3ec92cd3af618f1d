"""`composer network create`: create a network."""
from __future__ import annotations

HELP = "create a network"


def configure(p) -> None:
    p.add_argument("name")


def run(args) -> int | None:
    from engine.api import Engine

    print(Engine().create_network(args.name).id)
    return 0
