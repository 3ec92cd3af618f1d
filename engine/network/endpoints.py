"""A container's place on the networks: its network mode, interface order, and addresses."""
from __future__ import annotations

import ipaddress
import re

from engine.errors import InvalidArgument
from engine.types import ContainerSpec, NetworkAttachment, NetworkInfo

_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
HOST_NETNS = "/proc/self/ns/net"  # opened by the container's first process, still in the host's namespace


def network_mode(spec: ContainerSpec) -> str:
    """"bridge" (our networks), "none", "host" or "container"; bad combinations are refused."""
    mode = spec.network_mode or ""
    kind, _, target = mode.partition(":")
    if kind == "container":
        if not target:
            raise InvalidArgument(f"container {spec.name}: network_mode container: needs a container name or id")
    elif mode not in ("", "none", "host"):
        raise InvalidArgument(f"container {spec.name}: unsupported network_mode {mode!r}: use none, host, "
                              "container:NAME, service:NAME, or networks")
    if mode and spec.networks:
        raise InvalidArgument(f"container {spec.name}: network_mode {mode} cannot be combined with networks")
    if kind == "container" and spec.ports:
        raise InvalidArgument(f"container {spec.name}: ports cannot be published with network_mode {mode}: "
                              "publish them on the container whose network it joins")
    if kind == "container":
        return "container"
    return mode or ("bridge" if spec.networks else "none")


def ordered(attachments: list[NetworkAttachment]) -> list[NetworkAttachment]:
    """Interface order: highest priority first (eth0, and the default route), then as declared."""
    return sorted(attachments, key=lambda a: -int(a.priority or 0))


def check_mac(mac: str, where: str) -> None:
    if mac and not _MAC.match(mac):
        raise InvalidArgument(f"{where}: invalid mac_address {mac!r}: expected six hex pairs like 02:42:ac:11:00:02")
    if mac and int(mac[:2], 16) & 1:
        raise InvalidArgument(f"{where}: mac_address {mac} is a multicast address: the first byte must be even")


def plan_addresses(spec: ContainerSpec, nets: list[NetworkInfo], recs: list[dict]) -> tuple[dict, dict]:
    """({network: IPv4}, {network: IPv6}) for the container: requested addresses checked first, then the
    rest allocated (from ip_range where the network has one) around what other containers hold."""
    from engine.network.ipam import allocate_ip, check_static_ip

    v4: dict[str, str] = {}
    v6: dict[str, str] = {}
    atts = ordered(spec.networks)
    check_mac(spec.mac_address, f"container {spec.name}")
    for att in atts:
        check_mac(att.mac_address, f"container {spec.name}, network {att.network}")

    def used(net: NetworkInfo, key: str) -> set[str]:
        return {r[key][net.name] for r in recs if net.name in (r.get(key) or {})}

    for att, net in zip(atts, nets):
        if att.ipv4_address:
            v4[net.name] = check_static_ip(att.ipv4_address, net.subnet, net.gateway, used(net, "addresses"),
                                           net.name)
        if att.ipv6_address:
            if not net.subnet6:
                raise InvalidArgument(f"container {spec.name}: ipv6_address {att.ipv6_address} on network {net.name}, "
                                      "which has no IPv6 (set enable_ipv6 on the network)")
            v6[net.name] = check_static_ip(att.ipv6_address, net.subnet6, net.gateway6, used(net, "addresses6"),
                                           net.name)
    for att, net in zip(atts, nets):
        if net.name not in v4:
            v4[net.name] = allocate_ip(net.subnet, net.gateway, used(net, "addresses"), net.ip_range)
        if net.subnet6 and net.name not in v6:
            v6[net.name] = allocate_ip(net.subnet6, net.gateway6, used(net, "addresses6"))
    return v4, v6


def host_gateway(nets: list[NetworkInfo], mode: str) -> str:
    """What `host-gateway` in extra_hosts means: the host's address on the first network (loopback in host mode)."""
    if mode == "host":
        return "127.0.0.1"
    return nets[0].gateway if nets else ""


def default_route_network(nets: list[NetworkInfo]) -> NetworkInfo | None:
    """The first network with a way out (internal ones have none)."""
    return next((n for n in nets if not n.internal), None)


def prefixlen(subnet: str) -> int:
    return ipaddress.ip_network(subnet).prefixlen
