"""Names and resolver settings: extra_hosts, dns, dns_search, dns_opt, hostname, domainname, mac_address,
links, expose, and forwarding of other names to upstream servers (a test server on 127.0.0.x)."""
from __future__ import annotations

import random
import socket
import threading
from contextlib import contextmanager

from engine.network.dns import answer, parse_question
from tests.support.netstack import LOOP, inspect, sh, wait_for
from tests.support.netstack import down  # noqa: F401 - the fixture


@contextmanager
def upstream_dns(answer_ip: str):
    """A DNS server on 127.x.y.z:53 answering every A question with *answer_ip*; yields (address, questions)."""
    for _ in range(50):
        addr = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((addr, 53))
            break
        except OSError:
            sock.close()
    else:
        raise AssertionError("no free loopback address for the test DNS server")
    sock.settimeout(0.2)
    asked: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                packet, peer = sock.recvfrom(4096)
            except OSError:
                continue
            q = parse_question(packet)
            if q:
                asked.append(q[0])
                sock.sendto(answer(packet, q[3], [answer_ip] if q[1] == 1 else []), peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield addr, asked
    finally:
        stop.set()
        t.join()
        sock.close()


def test_hosts_and_resolv_conf_settings(down):
    cli = down
    cli.write("compose.yaml", f"""
services:
  db:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
  app:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    hostname: apphost
    domainname: corp.example
    mac_address: "02:42:ac:11:22:33"
    extra_hosts:
      - "somehost=10.20.30.40"
      - "gateway.internal:host-gateway"
      - "v6host=fd00::77"
    dns_search: [corp.example, lab.example]
    dns_opt: ["ndots:3", "timeout:1", "attempts:2"]
    links: ["db:database"]
    expose: ["8080", "9090/udp"]
""")
    cli("up", "-d")
    app = inspect(cli, f"{cli.project}-app-1")
    db_ip = inspect(cli, f"{cli.project}-db-1")["networks"][f"{cli.project}_default"]
    my_ip = app["networks"][f"{cli.project}_default"]
    hosts = sh(cli, "app", "cat /etc/hosts")
    assert "10.20.30.40\tsomehost" in hosts and "fd00::77\tv6host" in hosts
    gateway = sh(cli, "app", "ip route").split("default via ")[1].split()[0]
    assert f"{gateway}\tgateway.internal" in hosts  # host-gateway: the host's address on the network
    assert f"{my_ip}\tapphost.corp.example\tapphost" in hosts
    assert f"{db_ip}\tdatabase" in hosts  # links: an alias for the linked service
    assert sh(cli, "app", "ping -c 1 -W 2 database | head -1").startswith(f"PING database ({db_ip})")

    resolv = sh(cli, "app", "cat /etc/resolv.conf").splitlines()
    assert resolv == [f"nameserver {gateway}", "search corp.example lab.example",
                      "options ndots:3 timeout:1 attempts:2"]
    assert sh(cli, "app", "hostname; dnsdomainname; hostname -f").split() == [
        "apphost", "corp.example", "apphost.corp.example"]
    assert "02:42:ac:11:22:33" in sh(cli, "app", "cat /sys/class/net/eth0/address")
    assert app["spec"]["expose"] == ["8080", "9090/udp"]
    # the search domains reach the resolver too: db.corp.example is the db service
    assert f"Address: {db_ip}" in sh(cli, "app", "nslookup db.lab.example")


def test_other_names_go_to_the_services_dns_servers_and_to_the_host_resolvers(down, monkeypatch, tmp_path):
    cli = down
    with upstream_dns("192.0.2.10") as (own, own_asked), upstream_dns("192.0.2.20") as (host, host_asked):
        resolv = tmp_path / "resolv.conf"
        resolv.write_text(f"nameserver {host}\n")
        monkeypatch.setenv("COMPOSER_RESOLV_CONF", str(resolv))  # what the host's resolvers would be
        cli.write("compose.yaml", f"""
services:
  custom:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    dns: {own}
  plain:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
""")
        cli("up", "-d")
        out = sh(cli, "custom", "nslookup far.away.test")
        assert "Address: 192.0.2.10" in out and "far.away.test" in own_asked
        out = sh(cli, "plain", "nslookup elsewhere.test")
        assert "Address: 192.0.2.20" in out and "elsewhere.test" in host_asked
        assert "elsewhere.test" not in own_asked and "far.away.test" not in host_asked
        # local names never leave: the service name is answered by the network's resolver
        plain_ip = inspect(cli, f"{cli.project}-plain-1")["networks"][f"{cli.project}_default"]
        assert f"Address: {plain_ip}" in sh(cli, "custom", "nslookup plain")
        assert "plain" not in own_asked
        # the resolver's own address is in resolv.conf, not the servers of `dns:` (unreachable from inside)
        assert own not in sh(cli, "custom", "cat /etc/resolv.conf")
        cli("down")


def test_none_mode_resolv_conf_carries_dns_settings(down):
    cli = down
    cli.write("compose.yaml", f"""
services:
  a:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    network_mode: none
    dns: [192.0.2.53, 192.0.2.54]
    dns_search: example.org
    dns_opt: [rotate]
""")
    cli("up", "-d")
    lines = sh(cli, "a", "cat /etc/resolv.conf").splitlines()
    assert lines[:3] == ["nameserver 192.0.2.53", "nameserver 192.0.2.54", "search example.org"]
    assert lines[3].startswith("options") and "rotate" in lines[3]


def test_replicas_of_a_name_answer_round_robin(down):
    cli = down
    cli.write("compose.yaml", f"""
services:
  a:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks:
      default:
        aliases: [pool]
  b:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks:
      default:
        aliases: [pool]
""")
    cli("up", "-d")
    ips = {inspect(cli, f"{cli.project}-{s}-1")["networks"][f"{cli.project}_default"] for s in "ab"}

    def first_answers():
        firsts = set()
        for _ in range(4):
            out = sh(cli, "a", "nslookup pool")
            firsts.add(out.split("Name:")[1].split("Address: ")[1].split()[0])
        return firsts == ips

    assert wait_for(first_answers, timeout=20)
