"""Address management: a free /24 for each network, a free address for each container.

Subnets come from a private pool (10.199.0.0/16, then 10.198.0.0/16, ... down to 10.190) and must
not overlap any address or route the host already has, nor a subnet reserved by any engine root on
this host. Reservations live in RESERVED (one file per subnet naming the owner's network record), so a
network whose bridge is missing for a while (deleted by hand, or before `ensure_running`) keeps its
subnet; /run is emptied by a reboot, together with all bridges. A reservation whose owner record is
gone, or records another subnet, is stale and ignored. Choosing, reserving and creating the bridge
happen under one host-wide lock (HOST_LOCK), so two roots never pick the same subnet.
"""
from __future__ import annotations

import ipaddress
import json
import os

POOLS = [ipaddress.ip_network(f"10.{b}.0.0/16") for b in range(199, 189, -1)]
POOL6 = ipaddress.ip_network("fd63:6f6d:706f::/48")  # a ULA prefix of our own; /64 per network
HOST_LOCK = "/run/composer/ipam.lock"
RESERVED = "/run/composer/subnets"


def _reservation(subnet: str) -> str:
    return os.path.join(RESERVED, subnet.replace("/", "_"))


def reserve(subnet: str, owner_record: str) -> None:
    """Mark *subnet* as used by the network whose record is *owner_record* (hold HOST_LOCK)."""
    from engine.store.records import write_json

    os.makedirs(RESERVED, exist_ok=True)
    write_json(_reservation(subnet), {"subnet": subnet, "record": owner_record})


def release(subnet: str, owner_record: str) -> None:
    """Drop the reservation of *subnet* if *owner_record* holds it (idempotent; hold HOST_LOCK)."""
    from engine.store.records import read_json

    path = _reservation(subnet)
    rec = read_json(path)
    if rec is not None and rec.get("record") == owner_record:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def reserved(exclude_record: str | None = None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The subnets live reservations hold (all but *exclude_record*'s); stale ones are removed."""
    from engine.store.records import read_json

    out: list = []
    try:
        entries = os.listdir(RESERVED)
    except FileNotFoundError:
        return out
    for entry in entries:
        path = os.path.join(RESERVED, entry)
        rec = read_json(path)
        if not rec or rec.get("record") == exclude_record:
            continue
        try:
            with open(rec["record"]) as f:
                owner = json.load(f)
            live = rec["subnet"] in (owner.get("subnet"), owner.get("subnet6"))
        except (OSError, ValueError, KeyError, AttributeError):
            live = False
        if live:
            out.append(ipaddress.ip_network(rec["subnet"]))
        else:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    return out


def host_networks(family: int = 2) -> list:
    """Every network (IPv4; IPv6 with family=10) the host has an address in, or a route to."""
    from engine.network.netlink import Netlink

    nets: list = []
    with Netlink() as nl:
        for _index, addr, plen in nl.addresses(family):
            nets.append(ipaddress.ip_network(f"{addr}/{plen}", strict=False))
        for dst, plen in nl.routes(family):
            if dst and plen > 0:
                nets.append(ipaddress.ip_network(f"{dst}/{plen}", strict=False))
    return nets


def pick_subnet6(taken: list) -> ipaddress.IPv6Network:
    for candidate in POOL6.subnets(new_prefix=64):
        if not any(candidate.version == t.version and candidate.overlaps(t) for t in taken):
            return candidate
    from engine.errors import EngineError

    raise EngineError(f"no free IPv6 subnet left in {POOL6}: remove unused networks")


def check_free(subnet, taken: list) -> None:
    """Conflict if a user-chosen *subnet* overlaps one the host or another network has."""
    for t in taken:
        if t.version == subnet.version and t.overlaps(subnet):
            from engine.errors import Conflict

            raise Conflict(f"subnet {subnet} overlaps {t}, which this host or another network already uses: "
                           "choose another subnet")


def pick_subnet(taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    for pool in POOLS:
        for candidate in pool.subnets(new_prefix=24):
            if not any(t.version == 4 and candidate.overlaps(t) for t in taken):
                return candidate
    from engine.errors import EngineError

    raise EngineError("no free subnet left in the address pool (10.190.0.0/15 to 10.199.0.0/16): "
                      "remove unused networks")


def allocate_ip(subnet: str, gateway: str, used: set[str], ip_range: str = "") -> str:
    """The first free address of *ip_range* (or of *subnet*), never the gateway."""
    net = ipaddress.ip_network(ip_range or subnet)
    taken = {ipaddress.ip_address(u) for u in used if u} | {ipaddress.ip_address(gateway)}
    broadcast = ipaddress.ip_network(subnet).broadcast_address
    for n, host in enumerate(net.hosts() if net.num_addresses > 2 else net):
        if host not in taken and host != broadcast:
            return str(host)
        if n > 65536:
            break
    from engine.errors import EngineError

    raise EngineError(f"no free address left in {ip_range or subnet}")


def check_static_ip(ip: str, subnet: str, gateway: str, used: set[str], network: str) -> str:
    """A requested address, validated: inside the subnet, not its gateway, not taken."""
    from engine.errors import Conflict, InvalidArgument

    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        raise InvalidArgument(f"invalid address {ip!r} for network {network}") from None
    net = ipaddress.ip_network(subnet)
    if addr.version != net.version or addr not in net:
        raise InvalidArgument(f"address {ip} is not in network {network}'s subnet {subnet}: "
                              "choose one inside it or set the network's ipam subnet")
    if str(addr) == gateway or addr in (net.network_address, net.broadcast_address):
        raise InvalidArgument(f"address {ip} is reserved in network {network} (gateway, network or broadcast)")
    if {str(addr)} & {str(ipaddress.ip_address(u)) for u in used if u}:
        raise Conflict(f"address {ip} is already in use on network {network}")
    return str(addr)
