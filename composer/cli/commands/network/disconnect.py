"""`composer network disconnect`: detach a container from a network."""
from __future__ import annotations

HELP = "disconnect a container from a network"


def configure(p) -> None:
    p.add_argument("network")
    p.add_argument("container")
    p.add_argument("-f", "--force", action="store_true", help="accepted for compatibility")


def run(args) -> int | None:
    from engine.api import Engine

    Engine().disconnect_network(args.container, args.network)
    return 0
