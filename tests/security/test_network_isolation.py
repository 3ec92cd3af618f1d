"""Attacks between networks: a container of one network tries to reach, and to resolve, the containers of
another network of its project, of another project, and of another engine root; it floods its resolver.

Docker drops traffic between two bridge networks (its DOCKER-ISOLATION chains) and each network's
resolver answers only its own containers. Every attack here runs for real from busybox containers (or
from a container's own network namespace), and each would succeed without the isolation. Traffic goes
only to containers and namespaces these tests made, and to loopback.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import socket
import struct
import tempfile
import threading
import time
import uuid

import pytest

from tests.conftest import BASE_IMAGE, CLI, SESSION, _force_clean, _record_root
from tests.integration.test_network_dns import ask_tcp, ask_udp, parse_reply, query
from tests.integration.test_network_wiring import in_netns
from tests.support.host import chain_rules
from tests.support.netstack import LOOP, free_subnet, inspect, sh, wait_for
from tests.support.kernel import needs_ipv6

SERVER = ("sh", "-c", "echo secret-of-{name} > /tmp/index.html; "
          "nc -ll -p 5432 -e sh -c 'echo pong-{name}' & exec httpd -f -p 80 -h /tmp")


def server(name: str) -> str:
    return json.dumps(list(SERVER)).replace("{name}", name)


def reaches(cli, service: str, ip: str) -> list[str]:
    """What of *ip*'s services *service* reaches: http (wget), tcp (nc) and icmp (ping), by what came back."""
    out = sh(cli, service, f"timeout -s KILL 2 wget -q -O - http://{ip}/ 2>&1; echo | nc -w 2 {ip} 5432 2>&1; "
                           f"ping -c 1 -W 2 {ip} 2>&1", check=False)
    got = []
    if "secret-of-" in out:
        got.append("http")
    if "pong-" in out:
        got.append("tcp")
    if " 0% packet loss" in out:
        got.append("icmp")
    return got


def resolves_through(cli, service: str, name: str, resolver: str) -> str:
    """busybox nslookup of *name*, asking the resolver at *resolver* (killed after 4 s without an answer)."""
    return sh(cli, service, f"timeout -s KILL 4 nslookup {name} {resolver} 2>&1", check=False)


def raw_answers(netns: str, resolver: str, name: str) -> list[str]:
    """The A records a raw DNS query for *name* gets from *resolver* (UDP, then TCP), sent from the network
    namespace *netns*: [] when there is no answer at all."""
    def ask() -> list[str]:
        got: list[str] = []
        for fn in (ask_udp, ask_tcp):
            try:
                got += parse_reply(fn((resolver, 53), query(name), timeout=2))[2]
            except (OSError, struct.error):  # no answer (dropped), or the connection closed at once
                pass
        return got
    return in_netns(netns, ask)


def netns_of(cli, container: str) -> str:
    return os.path.join(cli.root, "run", "netns", inspect(cli, container)["id"])


def gateway_of(cli, network: str) -> str:
    return json.loads(cli("network", "inspect", network, project=False).stdout)[0]["gateway"]


@pytest.fixture(autouse=True)
def no_upstream(tmp_path, monkeypatch):
    """Resolvers without upstream servers: a name no network knows gets SERVFAIL, and no query leaves."""
    conf = tmp_path / "no-upstream.conf"
    conf.write_text("")
    monkeypatch.setenv("COMPOSER_RESOLV_CONF", str(conf))


@pytest.fixture
def other_root(rootfs_tar):
    """A second engine root on this host, with the base image; checked for leftovers as engine_root is."""
    from engine.api import Engine
    from tests.support.host import leftovers

    root = tempfile.mkdtemp(prefix=f"composer-test-{SESSION}-")
    Engine(root).import_image(rootfs_tar, BASE_IMAGE, [])
    yield root
    _record_root(root)
    left = leftovers(root)
    _force_clean(root)
    shutil.rmtree(root, ignore_errors=True)
    assert not left, "left behind after the test:\n" + "\n".join(left)


def test_networks_of_one_project_are_isolated_from_each_other(cli, base_image):
    front = free_subnet()
    cli.write("compose.yaml", f"""
services:
  db:
    image: composer/busybox
    command: {server("db")}
    stop_grace_period: 1s
    networks: [back]
  vault:
    image: composer/busybox
    command: {server("vault")}
    stop_grace_period: 1s
    networks: [sealed]
  peer:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks: [back]
  client:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks: [front]
networks:
  front:
    ipam:
      config: [{{subnet: "{front}"}}]
  back:
  sealed:
    internal: true
""")
    try:
        cli("up", "-d")
        p = cli.project
        db = inspect(cli, f"{p}-db-1")["networks"][f"{p}_back"]
        vault = inspect(cli, f"{p}-vault-1")["networks"][f"{p}_sealed"]
        # the control: a peer on db's own network reaches it, and resolves it
        assert wait_for(lambda: reaches(cli, "peer", db) == ["http", "tcp", "icmp"], timeout=20)
        assert f"Address: {db}" in sh(cli, "peer", "nslookup db")

        # the attack: from another network of the project, by address; and into an internal network
        assert reaches(cli, "client", db) == []
        assert reaches(cli, "client", vault) == []
        assert reaches(cli, "peer", vault) == []
        # ... and by name, through the other network's resolver (on its gateway, reached through the host)
        back_gw = gateway_of(cli, f"{p}_back")
        assert db not in resolves_through(cli, "client", "db", back_gw)
        assert raw_answers(netns_of(cli, f"{p}-client-1"), back_gw, "db") == []
        assert raw_answers(netns_of(cli, f"{p}-client-1"), back_gw, f"{p}-db-1") == []
        # the client's own resolver does not know db either
        assert db not in resolves_through(cli, "client", "db", str(front.network_address + 1))
    finally:
        cli("down", check=False)


def _two_stacks(a: CLI, b: CLI) -> tuple[str, str]:
    """Project b: a server on its default network; project a: a client on its own. (b's db, b's gateway)"""
    b.write("compose.yaml", f"""
services:
  db:
    image: composer/busybox
    command: {server("db")}
    stop_grace_period: 1s
  neighbour:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
""")
    a.write("compose.yaml", f"""
services:
  client:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
""")
    b("up", "-d")
    a("up", "-d")
    db = inspect(b, f"{b.project}-db-1")["networks"][f"{b.project}_default"]
    assert wait_for(lambda: reaches(b, "neighbour", db) == ["http", "tcp", "icmp"], timeout=20)
    return db, gateway_of(b, f"{b.project}_default")


def _attack_other_stack(a: CLI, b: CLI, db: str, b_gw: str) -> None:
    assert reaches(a, "client", db) == []
    assert db not in resolves_through(a, "client", "db", b_gw)
    assert db not in resolves_through(a, "client", f"{b.project}-db-1", b_gw)
    assert raw_answers(netns_of(a, f"{a.project}-client-1"), b_gw, "db") == []
    # its own resolver knows nothing of the other project
    assert db not in sh(a, "client", f"timeout -s KILL 4 nslookup {b.project}-db-1 2>&1", check=False)


def test_projects_on_one_engine_root_are_isolated(cli, base_image, tmp_path):
    other = CLI(cli.root, str(tmp_path / "other"), "t" + uuid.uuid4().hex[:8])
    os.makedirs(other.cwd)
    try:
        db, gw = _two_stacks(cli, other)
        _attack_other_stack(cli, other, db, gw)
    finally:
        cli("down", check=False)
        other("down", check=False)


def test_projects_of_two_engine_roots_are_isolated(cli, base_image, other_root, tmp_path):
    other = CLI(other_root, str(tmp_path / "other"), "t" + uuid.uuid4().hex[:8])
    os.makedirs(other.cwd)
    try:
        db, gw = _two_stacks(cli, other)
        _attack_other_stack(cli, other, db, gw)
        # and the other way round: the second root's containers do not reach the first's
        mine = inspect(cli, f"{cli.project}-client-1")["networks"][f"{cli.project}_default"]
        assert " 0% packet loss" not in sh(other, "neighbour", f"ping -c 1 -W 2 {mine} 2>&1", check=False)
    finally:
        cli("down", check=False)
        other("down", check=False)


# -- the resolver under a flood --------------------------------------------------------------------
class SilentUpstream:
    """A UDP "resolver" on loopback port 53 that counts the queries it gets and never answers."""

    def __init__(self):
        self.sock = None
        for _ in range(50):
            self.ip = f"127.{random.randint(20, 250)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((self.ip, 53))
            except OSError:
                s.close()
                continue
            self.sock = s
            break
        assert self.sock is not None, "no free loopback address for a fake upstream"
        self.count = 0
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                self.sock.recv(65535)
            except OSError:
                continue
            self.count += 1

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def test_a_flood_of_forwarded_queries_is_bounded(cli, base_image, tmp_path, monkeypatch):
    from engine.network.dns import MAX_FORWARDS

    upstream = SilentUpstream()
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"nameserver {upstream.ip}\n")
    monkeypatch.setenv("COMPOSER_RESOLV_CONF", str(conf))
    cli.write("compose.yaml", f"""
services:
  app:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
""")
    try:
        cli("up", "-d")
        net = f"{cli.project}_default"
        gw = gateway_of(cli, net)
        app = inspect(cli, f"{cli.project}-app-1")["networks"][net]
        with open(os.path.join(cli.root, "run", "dns", net + ".pid")) as f:
            resolver = int(f.read())
        flood = 400
        seen: dict = {}

        def attack() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.setsockopt(socket.SOL_SOCKET, 33, 1 << 22)  # SO_RCVBUFFORCE: room for every reply
                s.setblocking(False)
                fails = 0

                def drain() -> int:
                    n = 0
                    while True:
                        try:
                            n += parse_reply(s.recv(65535))[1] == 2
                        except OSError:
                            return n
                start = time.monotonic()
                for i in range(flood):  # in bursts, so that the resolver's socket buffer drops none
                    s.sendto(query(f"q{i}.flood.invalid", ident=i), (gw, 53))
                    if i % 40 == 39:
                        time.sleep(0.01)
                        fails += drain()
                while time.monotonic() - start < 1.2:  # the upstream's 2 s timeout frees no slot before
                    time.sleep(0.05)
                    fails += drain()
                seen["threads"] = _threads(resolver)
                seen["upstream"] = upstream.count
                seen["servfail"] = fails
                # a name of the network is still answered at once during the flood
                seen["app"] = parse_reply(ask_udp((gw, 53), query("app", ident=9999), timeout=1))[2]

        in_netns(netns_of(cli, f"{cli.project}-app-1"), attack)
        assert seen["upstream"] <= MAX_FORWARDS, seen
        assert seen["threads"] <= MAX_FORWARDS + 4, seen
        assert seen["servfail"] >= flood - MAX_FORWARDS, seen  # the excess is refused at once, not queued
        assert seen["app"] == [app], seen
    finally:
        cli("down", check=False)
        upstream.close()


def test_a_flood_of_tcp_connections_to_the_resolver_is_bounded(cli, base_image):
    from engine.network.dns import MAX_TCP_CLIENTS

    cli.write("compose.yaml", f"""
services:
  app:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
""")
    try:
        cli("up", "-d")
        net = f"{cli.project}_default"
        gw = gateway_of(cli, net)
        with open(os.path.join(cli.root, "run", "dns", net + ".pid")) as f:
            resolver = int(f.read())
        baseline = _threads(resolver)
        held = 3 * MAX_TCP_CLIENTS
        seen: dict = {}

        def attack() -> None:
            conns = [socket.create_connection((gw, 53), timeout=2) for _ in range(held)]  # idle, held open
            try:
                time.sleep(0.5)
                seen["threads"] = _threads(resolver)
                closed = 0
                for c in conns:
                    c.settimeout(0.05)
                    try:
                        closed += c.recv(1) == b""  # closed by the resolver at once
                    except OSError:  # still open, waiting for a query
                        pass
                seen["closed"] = closed
            finally:
                for c in conns:
                    c.close()

        in_netns(netns_of(cli, f"{cli.project}-app-1"), attack)
        assert seen["threads"] <= baseline + MAX_TCP_CLIENTS, seen
        assert seen["closed"] >= held - MAX_TCP_CLIENTS, seen
        # and the resolver still serves
        app = inspect(cli, f"{cli.project}-app-1")["networks"][net]
        assert in_netns(netns_of(cli, f"{cli.project}-app-1"),
                        lambda: parse_reply(ask_tcp((gw, 53), query("app"), timeout=5))[2]) == [app]
    finally:
        cli("down", check=False)


# -- what must keep working ----------------------------------------------------------------------
def test_the_way_out_nat_and_published_ports_still_work_across_networks(cli, base_image, tmp_path):
    """The controls: a container reaches "the outside" (a namespace of this test behind a bridge that is
    not ours) through NAT, an internal network does not; a published port is reached from the host, and
    from a container of another network through the host's address, as in Docker."""
    from engine.network.attach import connect
    from engine.network.bridge import create_bridge, delete_bridge
    from engine.network.netns import create_netns, destroy_netns
    from tests.integration.test_stack import free_port

    outside_net = free_subnet()
    outside_gw, outside_ip = str(outside_net.network_address + 1), str(outside_net.network_address + 2)
    port = free_port()
    bridge = "ct" + uuid.uuid4().hex[:10]
    outside = str(tmp_path / "outside.netns")
    cli.write("compose.yaml", f"""
services:
  db:
    image: composer/busybox
    command: {server("db")}
    stop_grace_period: 1s
    ports: ["127.0.0.1:{port}:80", "{outside_gw}:{port}:80"]
    networks: [back]
  client:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks: [front]
  sealed:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks: [inside]
networks:
  front:
  back:
  inside:
    internal: true
""")
    listener: list[socket.socket] = []
    peers: list[str] = []
    try:
        create_bridge(bridge, outside_gw, outside_net.prefixlen)
        create_netns(outside)
        connect(outside, bridge, outside_ip, outside_net.prefixlen, None, host_ifname="ct" + uuid.uuid4().hex[:10])

        def listen() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((outside_ip, 8080))
            s.listen(8)
            return s
        listener.append(in_netns(outside, listen))

        def serve() -> None:
            while True:
                try:
                    conn, peer = listener[0].accept()
                except OSError:
                    return
                peers.append(peer[0])
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nfrom-outside\n")
                conn.close()
        threading.Thread(target=serve, daemon=True).start()

        cli("up", "-d")
        # the way out, NATed: the outside sees the host's address, not the container's
        out = sh(cli, "client", f"timeout -s KILL 5 wget -q -O - http://{outside_ip}:8080/ 2>&1", check=False)
        assert "from-outside" in out
        assert peers and set(peers) == {outside_gw}
        # an internal network has none
        out = sh(cli, "sealed", f"timeout -s KILL 2 wget -q -O - http://{outside_ip}:8080/ 2>&1", check=False)
        assert "from-outside" not in out
        # published: from the host's loopback, and from a container of another network via the host
        import urllib.request

        body = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read())
        assert body == b"secret-of-db\n"
        # (an address of the host's: the outside bridge's, which the test made)
        assert "secret-of-db" in sh(cli, "client", f"timeout -s KILL 5 wget -q -O - http://{outside_gw}:{port}/")
        db = inspect(cli, f"{cli.project}-db-1")["networks"][f"{cli.project}_back"]
        assert reaches(cli, "client", db) == []  # (but not db itself)
    finally:
        cli("down", check=False)
        if listener:
            listener[0].close()
        destroy_netns(outside)
        delete_bridge(bridge)


@needs_ipv6
def test_ipv6_networks_are_isolated_too(cli, base_image):
    """Networks with IPv6 get the same isolation from ip6tables: the host may forward IPv6 (this test never
    switches that on; where the host forwards it, the attack is run for real too)."""
    from engine.network import firewall
    from engine.paths import Paths

    cli.write("compose.yaml", f"""
services:
  db:
    image: composer/busybox
    command: {server("db")}
    stop_grace_period: 1s
    networks: [back]
  client:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks: [front]
networks:
  front:
    enable_ipv6: true
  back:
    enable_ipv6: true
""")
    try:
        cli("up", "-d")
        p = cli.project
        root_id = Paths.open(cli.root).root_id
        bridges = {n: json.loads(cli("network", "inspect", f"{p}_{n}", project=False).stdout)[0]["bridge"]
                   for n in ("front", "back")}
        mine = chain_rules(root_id, "filter", family=6)
        chain = firewall.chain_name(root_id)
        for br in bridges.values():
            assert mine.index(f"-A {chain} -i {br} ! -o {br} -j {firewall.ISOLATION}") \
                < mine.index(f"-A {chain} -i {br} ! -o {br} -j ACCEPT")
            assert f"-A {chain} ! -i {br} -o {br} -j DROP" in mine
        shared = firewall._read(6)["filter"].rules_in(firewall.ISOLATION)
        assert {f"-A {firewall.ISOLATION} -o {br} -j DROP" for br in bridges.values()} <= set(shared)
        with open("/proc/sys/net/ipv6/conf/all/forwarding") as f:
            if f.read().strip() == "1":
                db6 = inspect(cli, f"{p}-db-1")["networks_v6"][f"{p}_back"]
                out = sh(cli, "client", f"timeout -s KILL 3 wget -q -O - http://[{db6}]/ 2>&1; "
                                        f"ping6 -c 1 -W 2 {db6} 2>&1", check=False)
                assert "secret-of-db" not in out and " 0% packet loss" not in out
    finally:
        cli("down", check=False)
