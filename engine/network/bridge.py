"""Linux bridges for our networks (pyroute2, in-process)."""
from __future__ import annotations


def create_bridge(name: str, gateway: str, prefixlen: int) -> None:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    with IPRoute() as ipr:
        if not ipr.link_lookup(ifname=name):
            ipr.link("add", ifname=name, kind="bridge")
        idx = ipr.link_lookup(ifname=name)[0]
        try:
            ipr.addr("add", index=idx, address=gateway, prefixlen=prefixlen)
        except NetlinkError as e:
            if e.code != 17:  # EEXIST: already there
                raise
        ipr.link("set", index=idx, state="up")


def delete_bridge(name: str) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            ipr.link("del", index=found[0])
