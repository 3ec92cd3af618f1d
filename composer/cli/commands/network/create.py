"""`composer network create`: create a network (bridge driver), with ipam and driver options."""
from __future__ import annotations

HELP = "create a network"


def configure(p) -> None:
    p.add_argument("name")
    p.add_argument("-d", "--driver", default="bridge", help="only bridge is available")
    p.add_argument("--subnet", action="append", default=[], help="an IPv4 and/or an IPv6 subnet (CIDR)")
    p.add_argument("--gateway", action="append", default=[], help="the gateway of the subnet of its family")
    p.add_argument("--ip-range", default="", help="automatic IPv4 addresses come from this range (CIDR)")
    p.add_argument("--internal", action="store_true", help="no way out: no default route, no NAT")
    p.add_argument("--ipv6", action="store_true", help="IPv6 addresses too (a /64 from the pool without --subnet)")
    p.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                   help="driver options: com.docker.network.bridge.name, com.docker.network.driver.mtu")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")


def config_from_args(args):
    """The NetworkConfig that the flags describe."""
    from composer.cli.keyvalue import pairs
    from composer.errors import ComposerError
    from engine.api import NetworkConfig

    if args.driver not in ("bridge", "default"):
        raise ComposerError(f"network driver {args.driver!r} is not available (this engine has: bridge)")
    cfg = NetworkConfig(ip_range=args.ip_range, internal=args.internal, enable_ipv6=args.ipv6,
                        options=pairs(args.opt, "option", bare="refuse"))
    v4 = [s for s in args.subnet if ":" not in s]
    v6 = [s for s in args.subnet if ":" in s]
    if len(v4) > 1 or len(v6) > 1:
        raise ComposerError("at most one IPv4 and one IPv6 --subnet")
    cfg.subnet, cfg.subnet6 = (v4 or [""])[0], (v6 or [""])[0]
    for gw in args.gateway:
        if ":" in gw:
            cfg.gateway6 = gw
        else:
            cfg.gateway = gw
    if (cfg.gateway6 and not cfg.subnet6) or (cfg.gateway and not cfg.subnet):
        raise ComposerError("a --gateway needs a --subnet of its family")
    return cfg


def run(args) -> int | None:
    from composer.cli.keyvalue import pairs
    from engine.api import Engine, NotFound

    engine = Engine()
    cfg = config_from_args(args)
    labels = pairs(args.label, "label")
    try:
        engine.inspect_network(args.name)
    except NotFound:
        pass
    else:
        from composer.errors import ComposerError

        raise ComposerError(f"network with name {args.name} already exists")
    print(engine.create_network(args.name, labels, cfg).id)
    return 0
