"""Stack-file networks end to end: several networks per service, ipam, internal, IPv6, driver_opts,
external networks, NAT rules, and a host left exactly as it was after `down`."""
from __future__ import annotations

import ipaddress
import json
import os

from engine.paths import Paths
from tests.support.netstack import (LOOP, bridge_name, free_subnet, host_state, inspect, names_on_host, sh,
                                    wait_for)
from tests.support.netstack import down  # noqa: F401 - the fixture
from tests.support.kernel import needs_ipv6


def test_several_networks_with_ipam_static_addresses_priority_aliases_and_driver_opts(down):
    cli = down
    front, back = free_subnet(), free_subnet()
    br = bridge_name()
    static = str(front.network_address + 10)
    ip_range = ipaddress.ip_network(f"{front.network_address + 128}/25")
    cli.write("compose.yaml", f"""
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "echo from-web > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    stop_grace_period: 1s
    networks:
      back:
        priority: 1
      front:
        aliases: [www, portal]
        ipv4_address: {static}
        mac_address: "02:42:0a:00:00:99"
        priority: 100
  client:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks: [front, back]
networks:
  front:
    ipam:
      config:
        - subnet: {front}
          gateway: {front.network_address + 254}
          ip_range: {ip_range}
    driver_opts:
      com.docker.network.bridge.name: {br}
      com.docker.network.driver.mtu: "1400"
  back:
    ipam:
      config: [{{subnet: "{back}"}}]
""")
    cli("up", "-d")
    web = inspect(cli, f"{cli.project}-web-1")
    client = inspect(cli, f"{cli.project}-client-1")
    assert web["networks"][f"{cli.project}_front"] == static
    assert ipaddress.ip_address(client["networks"][f"{cli.project}_front"]) in ip_range
    assert ipaddress.ip_address(web["networks"][f"{cli.project}_back"]) in back

    # the highest priority network is eth0 and carries the default route, through the given gateway
    out = sh(cli, "web", "ip -o addr show eth0; ip link show eth0; ip route")
    assert f"inet {static}/24" in out and "02:42:0a:00:00:99" in out and "mtu 1400" in out
    assert f"default via {front.network_address + 254} dev eth0" in out
    # the bridge has the name and MTU of driver_opts
    with open(f"/sys/class/net/{br}/mtu") as f:
        assert f.read().strip() == "1400"

    # aliases and the service name resolve on the network they are declared for
    out = sh(cli, "client", "nslookup www; nslookup portal; wget -q -O - http://www/index.html")
    assert out.count(f"Address: {static}") == 2 and "from-web" in out
    back_ip = web["networks"][f"{cli.project}_back"]
    # each network's resolver answers with the address on its own network
    assert f"Address: {static}" in sh(cli, "client", "nslookup web")
    assert f"Address: {back_ip}" in sh(cli, "client", f"nslookup web {back.network_address + 1}")

    cli("down")
    assert not names_on_host(br, str(front), str(back))


def test_internal_network_has_no_way_out_and_others_get_nat_until_down(down):
    cli = down
    cli.write("compose.yaml", f"""
services:
  inside:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks: [sealed]
  outside:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
networks:
  sealed:
    internal: true
""")
    cli("up", "-d")
    root_id = Paths.open(cli.root).root_id
    chain = f"COMPOSER-{root_id}"
    sealed = inspect(cli, f"{cli.project}-inside-1")["networks"][f"{cli.project}_sealed"]
    default_ip = inspect(cli, f"{cli.project}-outside-1")["networks"][f"{cli.project}_default"]
    sealed_net = str(ipaddress.ip_network(f"{sealed}/24", strict=False))
    default_net = str(ipaddress.ip_network(f"{default_ip}/24", strict=False))

    assert "default" not in sh(cli, "inside", "ip route")
    assert "default via" in sh(cli, "outside", "ip route")
    nat = os.popen(f"iptables -w -t nat -S {chain}").read()
    assert f"-A {chain} -s {default_net} " in nat and "MASQUERADE" in nat
    assert sealed_net not in nat  # no NAT for the internal network
    assert os.popen("iptables -w -t nat -S POSTROUTING").read().count(f"-j {chain}") == 1
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read().strip() == "1"

    bridges = [json.loads(cli("network", "inspect", f"{cli.project}_{n}", project=False).stdout)[0]["bridge"]
               for n in ("sealed", "default")]
    cli("down")
    # (pool subnets may be taken by a parallel test at once: the bridges and the chain name are ours alone)
    assert not names_on_host(chain, *bridges)


@needs_ipv6
def test_enable_ipv6_gives_addresses_routes_and_aaaa_answers(down):
    cli = down
    cli.write("compose.yaml", f"""
services:
  a:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks:
      v6:
        ipv6_address: fd63:7465:7374:1::42
  b:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks: [v6]
networks:
  v6:
    enable_ipv6: true
    ipam:
      config:
        - subnet: fd63:7465:7374:1::/64
""")
    cli("up", "-d")
    a = inspect(cli, f"{cli.project}-a-1")
    assert a["networks_v6"] == {f"{cli.project}_v6": "fd63:7465:7374:1::42"}
    assert "inet6 fd63:7465:7374:1::42/64" in sh(cli, "a", "ip -6 addr show eth0")
    assert "default via fd63:7465:7374:1::1" in sh(cli, "b", "ip -6 route")
    out = sh(cli, "b", "nslookup -type=aaaa a")
    assert "fd63:7465:7374:1::42" in out
    wait_for(lambda: "1 packets received" in sh(cli, "b", "ping6 -c 1 -W 2 fd63:7465:7374:1::42", check=False))


def test_external_network_must_exist_and_is_kept_by_down(down):
    cli = down
    name = "ext" + cli.project
    cli.write("compose.yaml", f"""
services:
  a:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks: [shared]
networks:
  shared:
    external: true
    name: {name}
""")
    res = cli("up", "-d", check=False)
    assert res.returncode != 0
    assert res.stderr.strip().splitlines() == [f"error: network shared declared as external, but could not be found "
                                               f"(create it: composer network create {name})"]
    assert cli("ps", "-a", "-q").stdout.strip() == ""
    cli("network", "create", name, project=False)
    try:
        cli("up", "-d")
        assert name in inspect(cli, f"{cli.project}-a-1")["networks"]
        cli("down")
        assert name in cli("network", "ls", project=False).stdout
    finally:
        cli("down", check=False)
        cli("network", "rm", name, project=False, check=False)


def test_down_leaves_links_routes_and_firewall_rules_as_before(down):
    cli = down
    before = host_state()
    cli.write("compose.yaml", f"""
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "exec httpd -f -p 80 -h /tmp"]
    stop_grace_period: 1s
    ports: ["127.0.0.1::80"]
    networks: [a, b]
  db:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks: [b, c]
networks:
  a:
    enable_ipv6: true
  b:
  c:
    internal: true
""")
    cli("up", "-d")
    nets = json.loads(cli("network", "inspect", *(f"{cli.project}_{n}" for n in "abc"), project=False).stdout)
    ours = [n["bridge"] for n in nets]
    assert len(set(ours)) == 3 and all(os.path.exists(f"/sys/class/net/{b}") for b in ours)
    cli("down")
    after = host_state()
    assert after == before, {k: (before[k] ^ after[k]) for k in before if before[k] != after[k]}
    assert not names_on_host(*ours, f"COMPOSER-{Paths.open(cli.root).root_id}")
