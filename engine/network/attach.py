"""Wiring a container's network namespace into a bridge with a veth pair."""
from __future__ import annotations

import os
import threading


def connect(netns_path: str, bridge: str, ip: str, prefixlen: int, gateway: str | None,
            ifname: str = "eth0", host_ifname: str = "") -> None:
    """veth pair: host end in *bridge*, peer moved into the namespace as *ifname* with *ip*."""
    from pyroute2 import IPRoute

    from engine.errors import EngineError

    peer_tmp = "cp" + host_ifname[2:]
    with IPRoute() as ipr:
        for stale in (host_ifname, peer_tmp):
            for idx in ipr.link_lookup(ifname=stale):
                ipr.link("del", index=idx)
        br = ipr.link_lookup(ifname=bridge)
        if not br:
            raise EngineError(f"bridge {bridge} is missing: recreate the network")
        ipr.link("add", ifname=host_ifname, kind="veth", peer=peer_tmp)
        try:
            host_idx = ipr.link_lookup(ifname=host_ifname)[0]
            peer_idx = ipr.link_lookup(ifname=peer_tmp)[0]
            ipr.link("set", index=host_idx, master=br[0], state="up")
            fd = os.open(netns_path, os.O_RDONLY)
            try:
                ipr.link("set", index=peer_idx, net_ns_fd=fd)
            finally:
                os.close(fd)
        except BaseException:
            for idx in ipr.link_lookup(ifname=host_ifname):
                ipr.link("del", index=idx)
            raise
    errors: list[BaseException] = []

    def inside() -> None:
        # a thread of its own: setns changes only this thread's namespace, and it ends here
        from engine.runtime import syscalls as sc

        try:
            fd = os.open(netns_path, os.O_RDONLY)
            try:
                sc.setns(fd, sc.CLONE_NEWNET)
            finally:
                os.close(fd)
            with IPRoute() as nipr:
                idx = nipr.link_lookup(ifname=peer_tmp)[0]
                nipr.link("set", index=idx, ifname=ifname)
                nipr.addr("add", index=idx, address=ip, prefixlen=prefixlen)
                nipr.link("set", index=idx, state="up")
                if gateway:
                    nipr.route("add", dst="0.0.0.0/0", gateway=gateway)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            errors.append(e)

    t = threading.Thread(target=inside)
    t.start()
    t.join()
    if errors:
        disconnect(host_ifname)
        raise errors[0]


def disconnect(host_ifname: str) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for idx in ipr.link_lookup(ifname=host_ifname):
            ipr.link("del", index=idx)
