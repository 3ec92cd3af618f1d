"""`composer network connect`: attach a container to a network (at once if it is running)."""
from __future__ import annotations

HELP = "connect a container to a network"


def configure(p) -> None:
    p.add_argument("network")
    p.add_argument("container")
    p.add_argument("--alias", action="append", default=[], help="another name for it on this network")
    p.add_argument("--ip", default="", help="its IPv4 address on this network")
    p.add_argument("--ip6", default="", help="its IPv6 address on this network")


def run(args) -> int | None:
    from engine.api import Engine, NetworkAttachment

    Engine().connect_network(args.container, NetworkAttachment(args.network, list(args.alias), ipv4_address=args.ip,
                                                               ipv6_address=args.ip6))
    return 0
