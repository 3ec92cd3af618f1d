"""`composer network ls`: list networks."""
from __future__ import annotations

HELP = "list networks"


def configure(p) -> None:
    p.add_argument("-q", "--quiet", action="store_true")


def run(args) -> int | None:
    from composer.cli.output import table
    from engine.api import Engine

    nets = Engine().list_networks()
    if args.quiet:
        print("\n".join(n.id[:12] for n in nets))
    else:
        rows = [[n.id[:12], n.name, "bridge", "local", ",".join(x for x in (n.subnet, n.subnet6) if x)] for n in nets]
        print(table(["NETWORK ID", "NAME", "DRIVER", "SCOPE", "SUBNET"], rows))
    return 0
