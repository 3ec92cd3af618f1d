"""Published ports through the stack file: TCP and UDP, host IPs (IPv6 too), ranges, random host
ports, and reaching them from the host (loopback included) and from other containers via the host."""
from __future__ import annotations

import socket
import threading
import urllib.request
from contextlib import contextmanager

import pytest

from engine.network.netns import enter_netns
from tests.support import kernel
from tests.support.netstack import LOOP, inspect, ps, sh, wait_for
from tests.support.netstack import down  # noqa: F401 - the fixture


def free_port(kind: int = socket.SOCK_STREAM, family: int = socket.AF_INET, host: str = "127.0.0.1") -> int:
    with socket.socket(family, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_run(n: int) -> int:
    """The first of *n* consecutive ports that are free for TCP now."""
    for _ in range(100):
        first = free_port()
        socks = []
        try:
            for p in range(first, first + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("0.0.0.0", p))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port run")


@contextmanager
def udp_echo_in(pid: int, port: int):
    """A UDP echo server inside the network namespace of process *pid* (the container's), on *port*."""
    ready = threading.Event()
    stop = threading.Event()
    box: dict = {}

    def serve() -> None:
        try:
            enter_netns(f"/proc/{pid}/ns/net")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("0.0.0.0", port))
                s.settimeout(0.2)
                ready.set()
                while not stop.is_set():
                    try:
                        data, peer = s.recvfrom(4096)
                    except OSError:
                        continue
                    s.sendto(b"echo:" + data, peer)
        except BaseException as e:  # noqa: BLE001 - reported to the test
            box["error"] = e
            ready.set()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    ready.wait(10)
    if "error" in box:
        raise box["error"]
    try:
        yield
    finally:
        stop.set()
        t.join()


def udp_ask(port: int, payload: bytes, host: str = "127.0.0.1") -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        s.sendto(payload, (host, port))
        return s.recv(4096)


def get(url: str) -> bytes:
    return urllib.request.urlopen(url, timeout=2).read()


def test_tcp_udp_ranges_random_and_ipv6_host_ports(down):
    cli = down
    rng = free_run(3)
    pair = free_run(2)
    udp = free_port(socket.SOCK_DGRAM)
    v6 = free_port(family=socket.AF_INET6, host="::1") if kernel.ipv6() else None
    anyport = free_port()
    cli.write("compose.yaml", f"""
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "echo p80 > /tmp/80.html; echo p81 > /tmp/81.html; httpd -p 81 -h /tmp;
                           exec httpd -f -p 80 -h /tmp"]
    stop_grace_period: 1s
    ports:
      - "127.0.0.1::80"
      - "127.0.0.1:{rng}-{rng + 2}:80"
      - "127.0.0.1:{pair}-{pair + 1}:80-81"
      {f'- "[::1]:{v6}:80"' if v6 else ""}
      - "{udp}:5353/udp"
      - target: 80
        published: "{anyport}"
  client:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    extra_hosts: ["host.internal=host-gateway"]
""")
    with socket.socket() as holder:  # the first port of the range is taken: the next free one is used
        holder.bind(("127.0.0.1", rng))
        cli("up", "-d")
    pubs = ps(cli, "web")[0]["Publishers"]
    random_port = [p["PublishedPort"] for p in pubs if p["URL"] == "127.0.0.1" and p["PublishedPort"] not in
                   range(rng, rng + 3) and p["PublishedPort"] not in (pair, pair + 1)]
    assert len(random_port) == 1 and random_port[0] > 0
    assert {"URL": "127.0.0.1", "TargetPort": 80, "PublishedPort": rng + 1, "Protocol": "tcp"} in pubs
    if v6:
        assert {"URL": "::1", "TargetPort": 80, "PublishedPort": v6, "Protocol": "tcp"} in pubs
    assert {"URL": "0.0.0.0", "TargetPort": 5353, "PublishedPort": udp, "Protocol": "udp"} in pubs
    bound = {(p["host_ip"], p["host_port"], p["container_port"]) for p in inspect(cli, f"{cli.project}-web-1")["ports"]}
    assert ("127.0.0.1", random_port[0], 80) in bound

    assert wait_for(lambda: get(f"http://127.0.0.1:{random_port[0]}/80.html")) == b"p80\n"
    assert get(f"http://127.0.0.1:{rng + 1}/80.html") == b"p80\n"
    assert get(f"http://127.0.0.1:{pair}/80.html") == b"p80\n"
    assert wait_for(lambda: get(f"http://127.0.0.1:{pair + 1}/81.html")) == b"p81\n"
    if v6:
        assert get(f"http://[::1]:{v6}/80.html") == b"p80\n"
    assert get(f"http://127.0.0.1:{anyport}/80.html") == b"p80\n"

    # from another container, through the host's address on its network
    out = sh(cli, "client", f"wget -q -O - http://host.internal:{anyport}/80.html")
    assert out == "p80\n"

    pid = inspect(cli, f"{cli.project}-web-1")["pid"]
    with udp_echo_in(pid, 5353):
        assert wait_for(lambda: udp_ask(udp, b"ping")) == b"echo:ping"

    cli("down")
    with pytest.raises(OSError):
        get(f"http://127.0.0.1:{anyport}/80.html")


def test_port_range_without_a_free_port_is_an_error_and_leaves_nothing(down):
    cli = down
    first = free_run(2)
    cli.write("compose.yaml", f"""
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "exec httpd -f -p 80 -h /tmp"]
    ports: ["127.0.0.1:{first}-{first + 1}:80"]
""")
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", first))
        b.bind(("127.0.0.1", first + 1))
        a.listen()
        b.listen()
        res = cli("up", "-d", check=False)
    last = res.stderr.strip().splitlines()[-1]
    assert res.returncode != 0 and last.startswith("error: ")
    assert f"{first}-{first + 1}" in last and "already in use" in last
    assert cli("ps", "-a", "-q").stdout.strip() == ""


def test_a_port_without_an_address_is_published_on_ipv4_and_ipv6(down):
    cli = down
    fixed = free_port()
    cli.write("compose.yaml", f"""
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "echo both > /tmp/i.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["{fixed}:80", "80"]
""")
    cli("up", "-d")
    pubs = ps(cli, "web")[0]["Publishers"]
    random_port = next(p["PublishedPort"] for p in pubs if p["PublishedPort"] != fixed)
    for port in (fixed, random_port):  # as Docker: 0.0.0.0 and [::], with the same port
        assert {"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": port, "Protocol": "tcp"} in pubs
        assert wait_for(lambda port=port: get(f"http://127.0.0.1:{port}/i.html")) == b"both\n"
        if kernel.ipv6():  # (a kernel without IPv6 gets the IPv4 binding alone)
            assert {"URL": "::", "TargetPort": 80, "PublishedPort": port, "Protocol": "tcp"} in pubs
            assert get(f"http://[::1]:{port}/i.html") == b"both\n"
    table = cli("ps").stdout
    assert (f"0.0.0.0:{fixed}->80/tcp, [::]:{fixed}->80/tcp" if kernel.ipv6() else f"0.0.0.0:{fixed}->80/tcp") \
        in table
    assert cli("port", "web", "80").stdout.strip() in (f"0.0.0.0:{fixed}", f"0.0.0.0:{random_port}")
    cli("down")
    for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::"))[:2 if kernel.ipv6() else 1]:
        with socket.socket(family) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the proxied connections' TIME_WAIT
            s.bind((address, fixed))
            s.listen()
