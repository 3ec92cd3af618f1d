"""Wiring a container's network namespace into a bridge with a veth pair (our netlink module, in-process).

The pair is made with one netlink request that already puts the peer, under its final name, into the
container's namespace and the host end into the bridge, up. (Creating it on the host and moving the
peer afterwards costs ~17 ms in the kernel; this way the whole connect takes ~5 ms.) The peer's
address, state and default route are then set from a short-lived thread that joined the namespace:
setns changes only the calling thread's namespace, and the thread ends right after.

A container's MAC address is, unless it sets one, made from its IPv4 address as Docker made it
(02:42 and the address's four bytes): a container started again with its address has its MAC too,
so its peers' ARP caches stay right (with a new random one they sent to a dead address for 15-45 s).
Its interface also announces itself when it comes up (arp_notify: a gratuitous ARP), for the rest
(an address taken over by a container with a MAC of its own).
"""
from __future__ import annotations

import hashlib
import os
import threading

MAX_IFNAME = 15


def mac_for(ip: str) -> bytes:
    """The MAC address of a container's interface with IPv4 address *ip* that sets none: 02:42 + the
    address (locally administered, unicast), as Docker's libnetwork derived it."""
    import socket

    return b"\x02\x42" + socket.inet_aton(ip)


def host_ifname(root_id: str, container_id: str, network: str) -> str:
    """The host end's name for one container on one network: unique per engine root, <= 15 chars."""
    return "cv" + hashlib.sha256(f"{root_id}{container_id}{network}".encode()).hexdigest()[:13]


def connect(netns_path: str, bridge: str, ip: str, prefixlen: int, gateway: str | None,
            ifname: str = "eth0", host_ifname: str = "", mac: str = "", mtu: int = 0, ip6: str = "",
            prefixlen6: int = 64, gateway6: str | None = None) -> None:
    """A veth pair: host end *host_ifname* in *bridge*, peer *ifname* in the namespace with *ip*/*prefixlen*
    (and *ip6*/*prefixlen6*) and, when *gateway* (*gateway6*) is given, a default route through it; *mac*
    (else mac_for(ip)) and *mtu* set the peer's address and both ends' MTU. A stale host end of that name
    is replaced.
    On failure nothing of the pair remains."""
    from engine.errors import EngineError, InvalidArgument
    from engine.network.netlink import Netlink, NetlinkError, mac_bytes

    if not host_ifname or len(host_ifname) > MAX_IFNAME or not ifname or len(ifname) > MAX_IFNAME:
        raise InvalidArgument(f"invalid interface names {host_ifname!r}/{ifname!r}: 1 to 15 characters each")
    try:
        peer_mac = mac_bytes(mac) if mac else b""
    except ValueError:
        raise InvalidArgument(f"invalid MAC address {mac!r} for {ifname}: use six hex pairs like "
                              "02:42:ac:11:00:02") from None
    try:
        peer_mac = peer_mac or mac_for(ip)
    except OSError:
        raise InvalidArgument(f"invalid IPv4 address {ip!r} for {ifname}") from None
    with Netlink() as nl:
        nl.link_delete(host_ifname)  # a leftover of a crash, if any
        br = nl.link_index(bridge)
        if br is None:
            raise EngineError(f"bridge {bridge} is missing: recreate the network or run the command again")
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            nl.veth_add(host_ifname, ifname, peer_netns_fd=fd, peer_mac=peer_mac, mtu=mtu, master=br, up=True)
        except NetlinkError as e:
            nl.link_delete(host_ifname)
            raise EngineError(f"cannot connect {netns_path} to bridge {bridge} as {ifname}: {e.strerror} "
                              f"(is {ifname} already taken in that namespace?)") from None
        finally:
            os.close(fd)
    errors: list[BaseException] = []

    def inside() -> None:
        from engine.network.netns import enter_netns

        try:
            enter_netns(netns_path)
            with Netlink() as nnl:  # made after setns: it talks to the container's namespace
                idx = nnl.link_index(ifname)
                if idx is None:
                    raise OSError(f"{ifname} did not appear in the namespace")
                nnl.addr_add(idx, ip, prefixlen)
                if ip6:
                    nnl.addr_add(idx, ip6, prefixlen6, nodad=True)
                # (this thread's namespace is the container's: so is what /proc/sys/net shows it)
                with open(f"/proc/sys/net/ipv4/conf/{ifname}/arp_notify", "w") as f:
                    f.write("1")  # a gratuitous ARP as the link comes up
                nnl.link_up(idx)
                if gateway:
                    nnl.route_add_default(gateway)
                if ip6 and gateway6:
                    nnl.route_add_default(gateway6)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            errors.append(e)

    t = threading.Thread(target=inside, name="netns-configure")
    t.start()
    t.join()
    if errors:
        disconnect(host_ifname)  # deleting one end deletes the pair
        err = errors[0]
        raise EngineError(f"cannot configure {ifname} ({ip}/{prefixlen}) in {netns_path}: "
                          f"{err.args[-1] if err.args else err}") from None


def disconnect(host_ifname: str) -> None:
    """Delete the pair by its host end (idempotent)."""
    from engine.network.netlink import Netlink

    with Netlink() as nl:
        nl.link_delete(host_ifname)
