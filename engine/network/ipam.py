"""Address management: a free /24 for each network, a free address for each container.

Subnets come from a private pool (10.199.0.0/16, then 10.198.0.0/16, ... down to 10.190) and must
not overlap any address or route the host already has, our own bridges of any engine root included;
the choice and the bridge creation happen under one host-wide lock so two roots never pick the same.
"""
from __future__ import annotations

import ipaddress

POOLS = [ipaddress.ip_network(f"10.{b}.0.0/16") for b in range(199, 189, -1)]
HOST_LOCK = "/run/composer/ipam.lock"


def host_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network the host has an address in, or a route to."""
    from pyroute2 import IPRoute

    nets: list[ipaddress.IPv4Network] = []
    with IPRoute() as ipr:
        for a in ipr.get_addr(family=2):
            addr = a.get_attr("IFA_ADDRESS")
            if addr:
                nets.append(ipaddress.ip_network(f"{addr}/{a['prefixlen']}", strict=False))
        for r in ipr.get_routes(family=2, table=254):
            dst = r.get_attr("RTA_DST")
            if dst and r["dst_len"] > 0:
                nets.append(ipaddress.ip_network(f"{dst}/{r['dst_len']}", strict=False))
    return nets


def pick_subnet(taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    for pool in POOLS:
        for candidate in pool.subnets(new_prefix=24):
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
    from engine.errors import EngineError

    raise EngineError("no free subnet left in the address pool (10.190.0.0/15 to 10.199.0.0/16): "
                      "remove unused networks")


def allocate_ip(subnet: str, gateway: str, used: set[str]) -> str:
    net = ipaddress.ip_network(subnet)
    for host in net.hosts():
        ip = str(host)
        if ip != gateway and ip not in used:
            return ip
    from engine.errors import EngineError

    raise EngineError(f"no free address left in {subnet}")
