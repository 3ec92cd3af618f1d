"""Linux bridges for our networks (pyroute2, in-process)."""
from __future__ import annotations

IFA_F_NODAD = 0x02  # an IPv6 address usable at once: no duplicate address detection on our own bridge


def create_bridge(name: str, gateway: str, prefixlen: int, mtu: int = 0, gateway6: str = "",
                  prefixlen6: int = 64) -> None:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    with IPRoute() as ipr:
        if not ipr.link_lookup(ifname=name):
            ipr.link("add", ifname=name, kind="bridge", **({"mtu": mtu} if mtu else {}))
        idx = ipr.link_lookup(ifname=name)[0]
        addrs = [(gateway, prefixlen, {})]
        if gateway6:
            addrs.append((gateway6, prefixlen6, {"IFA_FLAGS": IFA_F_NODAD}))
        for address, plen, extra in addrs:
            try:
                ipr.addr("add", index=idx, address=address, prefixlen=plen, **extra)
            except NetlinkError as e:
                if e.code != 17:  # EEXIST: already there
                    raise
        ipr.link("set", index=idx, state="up")


def bridge_exists(name: str) -> bool:
    import os

    return os.path.exists(f"/sys/class/net/{name}")


def delete_bridge(name: str) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            ipr.link("del", index=found[0])
