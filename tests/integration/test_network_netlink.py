"""Our netlink module on the real kernel, checked the way a user would: with `ip -j`.

Everything happens inside two throwaway network namespaces made by each test: "host" holds the
bridge and the pair's host end, "ctr" plays the container. The machine's own links, addresses and
routes are never touched, and both namespaces (with whatever is left in them) go when the test ends.
"""
from __future__ import annotations

import errno
import ipaddress
import json
import subprocess
import uuid
from dataclasses import dataclass

import pytest

from engine.errors import EngineError
from engine.network.attach import connect, disconnect
from engine.network.bridge import create_bridge, delete_bridge
from engine.network.ipam import host_networks
from engine.network.netlink import Netlink, NetlinkError
from engine.network.netns import create_netns, destroy_netns
from tests.integration.test_network_wiring import in_netns, wait_until
from tests.support.kernel import needs_ipv6

SUBNET, GW, IP = "10.201.7.0/24", "10.201.7.1", "10.201.7.2"
SUBNET6, GW6, IP6 = "fd63:6f6d:7e57::/64", "fd63:6f6d:7e57::1", "fd63:6f6d:7e57::2"
MAC = "02:11:0a:c9:07:02"  # (not the one made from IP)


@dataclass
class Lab:
    host: str    # the pinned namespace standing in for the host
    ctr: str     # the pinned namespace standing in for a container
    bridge: str
    veth: str    # the pair's host end

    def ip(self, ns: str, *args: str) -> list[dict]:
        """`ip -j ARGS` inside *ns*, parsed."""
        out = subprocess.run(["nsenter", f"--net={ns}", "ip", "-j", *args], capture_output=True, text=True,
                             check=True).stdout
        return json.loads(out) if out.strip() else []

    def links(self, ns: str) -> dict[str, dict]:
        return {link["ifname"]: link for link in self.ip(ns, "-d", "link", "show")}

    def addrs(self, ns: str, dev: str) -> dict[str, dict]:
        [link] = self.ip(ns, "addr", "show", "dev", dev)
        return {a["local"]: a for a in link["addr_info"]}

    def on_host(self, fn):
        return in_netns(self.host, fn)

    def connect(self, **kw) -> None:
        args = dict(ip=IP, prefixlen=24, gateway=GW, host_ifname=self.veth, mac=MAC, mtu=1400, ip6=IP6,
                    prefixlen6=64, gateway6=GW6)
        args.update(kw)
        self.on_host(lambda: connect(self.ctr, self.bridge, **args))


@pytest.fixture
def lab(tmp_path):
    tag = uuid.uuid4().hex[:8]
    host, ctr = str(tmp_path / f"nlhost-{tag}"), str(tmp_path / f"nlctr-{tag}")
    made = []
    try:
        for path in (host, ctr):
            create_netns(path)
            made.append(path)
        yield Lab(host, ctr, f"nlbr{tag}", f"nlv{tag}")
    finally:
        for path in made:
            destroy_netns(path)


@needs_ipv6
def test_bridge_pair_addresses_and_routes_as_ip_shows_them(lab):
    lab.on_host(lambda: create_bridge(lab.bridge, GW, 24, mtu=1450, gateway6=GW6, prefixlen6=64))
    br = lab.links(lab.host)[lab.bridge]
    assert br["linkinfo"]["info_kind"] == "bridge" and "UP" in br["flags"] and br["mtu"] == 1450
    addrs = lab.addrs(lab.host, lab.bridge)
    assert addrs[GW]["prefixlen"] == 24 and addrs[GW]["broadcast"] == "10.201.7.255"
    assert addrs[GW6]["prefixlen"] == 64 and addrs[GW6].get("nodad") is True

    lab.connect()
    links = lab.links(lab.host)
    end = links[lab.veth]
    assert end["linkinfo"]["info_kind"] == "veth" and end["master"] == lab.bridge
    assert "UP" in end["flags"] and end["mtu"] == 1400
    # a port with carrier (its peer is up) brings the bridge UP; the kernel reports that a moment later
    assert wait_until(lambda: lab.links(lab.host)[lab.bridge]["operstate"] == "UP")

    inside = lab.links(lab.ctr)
    assert set(inside) == {"lo", "eth0"}
    eth0 = inside["eth0"]
    assert eth0["address"] == MAC and eth0["mtu"] == 1400 and "UP" in eth0["flags"]
    assert wait_until(lambda: lab.links(lab.ctr)["eth0"]["operstate"] == "UP")
    assert eth0["linkinfo"]["info_kind"] == "veth" and eth0["link_index"] == end["ifindex"]
    addrs = lab.addrs(lab.ctr, "eth0")
    assert addrs[IP]["prefixlen"] == 24 and addrs[IP]["broadcast"] == "10.201.7.255"
    assert addrs[IP6]["prefixlen"] == 64 and addrs[IP6].get("nodad") is True
    [default4] = [r for r in lab.ip(lab.ctr, "route", "show", "default")]
    assert default4["gateway"] == GW and default4["dev"] == "eth0" and default4["protocol"] == "static"
    [default6] = [r for r in lab.ip(lab.ctr, "-6", "route", "show", "default")]
    assert default6["gateway"] == GW6 and default6["dev"] == "eth0"

    # the dumps behind subnet picking see exactly what `ip` sees, and nothing of the real host
    assert ipaddress.ip_network(SUBNET) in lab.on_host(host_networks)
    assert ipaddress.ip_network(SUBNET6) in lab.on_host(lambda: host_networks(10))
    nets = in_netns(lab.ctr, host_networks)
    assert set(nets) == {ipaddress.ip_network(SUBNET), ipaddress.ip_network("127.0.0.0/8")}

    lab.on_host(lambda: disconnect(lab.veth))
    assert lab.veth not in lab.links(lab.host)
    assert set(lab.links(lab.ctr)) == {"lo"}
    lab.on_host(lambda: disconnect(lab.veth))  # idempotent
    lab.on_host(lambda: delete_bridge(lab.bridge))
    assert set(lab.links(lab.host)) == {"lo"}
    lab.on_host(lambda: delete_bridge(lab.bridge))  # idempotent


def test_create_bridge_is_idempotent_and_a_taken_name_is_eexist(lab):
    for _ in range(2):  # a second run finds bridge and addresses there and only brings it up
        lab.on_host(lambda: create_bridge(lab.bridge, GW, 24, gateway6=GW6))
    assert set(lab.addrs(lab.host, lab.bridge)) >= {GW, GW6}

    def add_again():
        with Netlink() as nl:
            nl.bridge_add(lab.bridge)

    with pytest.raises(NetlinkError) as e:
        lab.on_host(add_again)
    assert isinstance(e.value, OSError) and e.value.errno == errno.EEXIST
    assert e.value.strerror == "File exists"


def test_missing_bridge_is_a_clear_error_and_leaves_nothing(lab):
    with pytest.raises(EngineError, match=f"bridge {lab.bridge} is missing: recreate the network"):
        lab.connect()
    assert set(lab.links(lab.host)) == {"lo"} and set(lab.links(lab.ctr)) == {"lo"}


def test_taken_name_in_the_namespace_fails_whole(lab):
    lab.on_host(lambda: create_bridge(lab.bridge, GW, 24))
    lab.connect()
    other = lab.veth[:-1] + ("x" if lab.veth[-1] != "x" else "y")
    with pytest.raises(EngineError, match=r"as eth0: File exists \(is eth0 already taken in that namespace\?\)"):
        lab.connect(host_ifname=other, ip="10.201.7.3", mac="")
    links = lab.links(lab.host)
    assert other not in links and lab.veth in links  # the first pair is untouched, nothing of the second
    assert set(lab.links(lab.ctr)) == {"lo", "eth0"}


def test_failed_configuration_rolls_the_pair_back(lab):
    lab.on_host(lambda: create_bridge(lab.bridge, GW, 24))
    # a gateway outside the subnet cannot be routed through: the kernel refuses the default route
    with pytest.raises(EngineError, match=r"cannot configure eth0 \(10\.201\.7\.2/24\) in .*: Network is unreachable"):
        lab.connect(gateway="10.202.0.1", ip6="")
    assert lab.veth not in lab.links(lab.host)
    assert set(lab.links(lab.ctr)) == {"lo"}


def test_a_stale_host_end_is_replaced(lab):
    lab.on_host(lambda: create_bridge(lab.bridge, GW, 24))
    lab.connect(ip6="")
    old = lab.links(lab.host)[lab.veth]["ifindex"]
    lab.connect(ip6="", mtu=0, mac="")  # as after a crash: the old pair (and its eth0) make way
    end = lab.links(lab.host)[lab.veth]
    assert end["ifindex"] != old and end["master"] == lab.bridge and end["mtu"] == 1500
    assert lab.links(lab.ctr)["eth0"]["address"] == "02:42:0a:c9:07:02"  # the new eth0, its MAC made from its IP
    assert lab.addrs(lab.ctr, "eth0")[IP]["prefixlen"] == 24


def test_invalid_mac_is_refused_before_anything_is_made(lab):
    from engine.errors import InvalidArgument

    lab.on_host(lambda: create_bridge(lab.bridge, GW, 24))
    with pytest.raises(InvalidArgument, match="invalid MAC address"):
        lab.connect(mac="02:42:zz")
    assert lab.veth not in lab.links(lab.host)
