"""Linux bridges for our networks (our netlink module, in-process)."""
from __future__ import annotations


def create_bridge(name: str, gateway: str, prefixlen: int, mtu: int = 0, gateway6: str = "",
                  prefixlen6: int = 64, mac: bytes | None = None) -> None:
    """Bridge *name* (made unless it exists) with the gateway address(es) and, given *mac*, that MAC
    address of its own (see set_bridge_mac), up. Idempotent. The IPv6 gateway skips duplicate address
    detection: usable at once, on a bridge that is ours."""
    import errno

    from engine.network.netlink import Netlink, NetlinkError

    with Netlink() as nl:
        if nl.link_index(name) is None:
            nl.bridge_add(name, mtu)
        idx = nl.link_index(name)
        if idx is None:
            raise NetlinkError(errno.ENODEV, f"bridge {name} vanished right after it was made")
        if mac:
            nl.link_set_address(idx, mac)
        addrs = [(gateway, prefixlen, False)]
        if gateway6:
            addrs.append((gateway6, prefixlen6, True))
        for address, plen, nodad in addrs:
            try:
                nl.addr_add(idx, address, plen, nodad=nodad)
            except NetlinkError as e:
                if e.errno != errno.EEXIST:  # already there
                    raise
        nl.link_up(idx)


_NET_ADDR_SET = "3"  # a link's addr_assign_type once its MAC address was given to it


def set_bridge_mac(name: str, mac: bytes | None = None) -> None:
    """Give the bridge a MAC address of its own: *mac*, or without one the address it has now.

    Left alone, a Linux bridge takes the lowest MAC address of its ports and changes it as ports come and
    go: containers that learnt the gateway's old one then send to an address nobody has, and reach neither
    the resolver nor the outside until their ARP entry expires (up to a minute)."""
    import errno

    from engine.network.netlink import Netlink, NetlinkError

    if mac is None:
        with open(f"/sys/class/net/{name}/address") as f:
            mac = bytes.fromhex(f.read().strip().replace(":", ""))
    with Netlink() as nl:
        index = nl.link_index(name)
        if index is None:
            raise NetlinkError(errno.ENODEV, f"bridge {name} vanished while it was being set up")
        nl.link_set_address(index, mac)


def bridge_mac_set(name: str) -> bool:
    """Whether the bridge's MAC address was given to it (set_bridge_mac), rather than taken from a port."""
    try:
        with open(f"/sys/class/net/{name}/addr_assign_type") as f:
            return f.read().strip() == _NET_ADDR_SET
    except OSError:
        return False


def bridge_exists(name: str) -> bool:
    import os

    return os.path.exists(f"/sys/class/net/{name}")


def delete_bridge(name: str) -> None:
    """Delete bridge *name* (idempotent); its ports are released, not deleted."""
    from engine.network.netlink import Netlink

    with Netlink() as nl:
        nl.link_delete(name)
