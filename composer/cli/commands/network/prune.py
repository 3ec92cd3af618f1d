"""`composer network prune`: remove the networks no container uses."""
from __future__ import annotations

HELP = "remove all unused networks"


def configure(p) -> None:
    p.add_argument("-f", "--force", action="store_true", help="do not ask (nothing is asked anyway)")


def run(args) -> int | None:
    from engine.api import Engine

    engine = Engine()
    used = {net for c in engine.list_containers() for net in c.networks}
    removed = []
    for net in engine.list_networks():
        if net.name not in used:
            engine.remove_network(net.name)
            removed.append(net.name)
    if removed:
        print("Deleted Networks:\n" + "\n".join(removed))
    return 0
