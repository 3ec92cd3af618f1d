"""Linux bridges for our networks (our netlink module, in-process)."""
from __future__ import annotations


def create_bridge(name: str, gateway: str, prefixlen: int, mtu: int = 0, gateway6: str = "",
                  prefixlen6: int = 64) -> None:
    """Bridge *name* (made unless it exists) with the gateway address(es), up. Idempotent. The IPv6
    gateway skips duplicate address detection: usable at once, on a bridge that is ours."""
    import errno

    from engine.network.netlink import Netlink, NetlinkError

    with Netlink() as nl:
        if nl.link_index(name) is None:
            nl.bridge_add(name, mtu)
        idx = nl.link_index(name)
        if idx is None:
            raise NetlinkError(errno.ENODEV, f"bridge {name} vanished right after it was made")
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


def bridge_exists(name: str) -> bool:
    import os

    return os.path.exists(f"/sys/class/net/{name}")


def delete_bridge(name: str) -> None:
    """Delete bridge *name* (idempotent); its ports are released, not deleted."""
    from engine.network.netlink import Netlink

    with Netlink() as nl:
        nl.link_delete(name)
