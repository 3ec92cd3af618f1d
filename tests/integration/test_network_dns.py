"""The per-network resolver, asked with raw DNS packets from inside namespaces (and from loopback).

Forwarding is tested against a fake upstream on loopback and a silent address of our own subnet, via
the resolver's --resolv-conf, so no query leaves the machine.
"""
from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time

from engine.network.registry import register, unregister
from tests.integration.test_network_wiring import in_netns, lab, stop_listener

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def query(name: str, qtype: int = 1, ident: int = 0x4242) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def parse_reply(reply: bytes) -> tuple[int, int, list[str]]:
    """(id, rcode, A addresses in order) of a reply whose answers use name compression (ours do)."""
    ident, flags, qd, an = struct.unpack("!HHHH", reply[:8])
    i = 12
    for _ in range(qd):
        while reply[i]:
            i += 1 + reply[i]
        i += 5
    ips = []
    for _ in range(an):
        if reply[i] & 0xC0:
            i += 2
        else:
            while reply[i]:
                i += 1 + reply[i]
            i += 1
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", reply[i:i + 10])
        i += 10
        if rtype == 1:
            ips.append(socket.inet_ntoa(reply[i:i + rdlen]))
        i += rdlen
    return ident, flags & 0xF, ips


def ask_udp(server: tuple[str, int], packet: bytes, timeout: float = 5) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, server)
        return s.recv(65535)


def ask_tcp(server: tuple[str, int], packet: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(server, timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(packet)) + packet)
        n = struct.unpack("!H", s.recv(2))[0]
        buf = b""
        while len(buf) < n:
            buf += s.recv(n - len(buf))
        return buf


def test_resolver_answers_registered_names_inside_the_network(engine_root):
    with lab(engine_root) as lb:
        info = lb.network()
        a, ip_a = lb.container("c1", info, 10)
        _, ip_b = lb.container("c2", info, 11)
        _, ip_c = lb.container("c3", info, 12)
        records = lb.nets.records_file(info.name)
        register(records, "c1", ["client"], ip_a)
        register(records, "c2", ["Web", "proj-web-1"], ip_b)
        register(records, "c3", ["web", "proj-web-2"], ip_c)
        dns = (info.gateway, 53)

        def ask(name: str, qtype: int = 1, tcp: bool = False) -> tuple[int, int, list[str]]:
            packet = query(name, qtype)
            return parse_reply(in_netns(a, lambda: (ask_tcp if tcp else ask_udp)(dns, packet)))

        assert ask("proj-web-1") == (0x4242, 0, [ip_b])
        assert ask("PROJ-WEB-2") == (0x4242, 0, [ip_c])
        # round robin over the replicas: both orders come up
        orders = {tuple(ask("web")[2]) for _ in range(4)}
        assert orders == {(ip_b, ip_c), (ip_c, ip_b)}
        # AAAA (and other types) of a known name: NOERROR, no answer
        assert ask("web", qtype=28) == (0x4242, 0, [])
        # over TCP too
        assert ask("client", tcp=True) == (0x4242, 0, [ip_a])
        # changes to the registry are seen at once
        unregister(records, "c2")
        assert ask("web")[2] == [ip_c]
        register(records, "c4", ["late"], ip_b)
        assert ask("late")[2] == [ip_b]


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Resolver:
    """Our resolver as a process on loopback, with a resolv.conf of the test's choosing."""

    def __init__(self, tmp, resolv_conf: str, names: dict[str, tuple[str, list[str]]]):
        self.records = str(tmp / "names.json")
        for cid, (ip, names_) in names.items():
            register(self.records, cid, names_, ip)
        conf = tmp / "resolv.conf"
        conf.write_text(resolv_conf)
        self.pidfile = str(tmp / "dns.pid")
        self.port = _free_udp_port("127.0.0.1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.network.dns", "--records", self.records, "--listen", "127.0.0.1",
             "--port", str(self.port), "--pidfile", self.pidfile, "--resolv-conf", str(conf)],
            env={**os.environ, "PYTHONPATH": REPO}, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while not os.path.exists(self.pidfile):
            assert self.proc.poll() is None and time.monotonic() < deadline, "resolver did not start"
            time.sleep(0.01)

    def close(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(5) == 0  # SIGTERM is a clean exit


def test_unknown_names_are_forwarded_to_the_upstream(tmp_path):
    # a fake upstream on loopback that answers everything with 192.0.2.99 and remembers the questions
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind(("127.0.0.77", 53))
    asked: list[bytes] = []

    def answer_all() -> None:
        while True:
            try:
                packet, peer = upstream.recvfrom(2048)
            except OSError:
                return
            if peer is None:  # shut down
                return
            asked.append(packet)
            ident = packet[:2]
            body = packet[12:]
            upstream.sendto(ident + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + body
                            + struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("192.0.2.99"), peer)

    threading.Thread(target=answer_all, daemon=True).start()
    res = Resolver(tmp_path, "search corp.example\nnameserver 127.0.0.78\nnameserver 127.0.0.77\n",
                   {"c1": ("10.9.0.2", ["db"])})
    try:
        server = ("127.0.0.1", res.port)
        # a known name, also with the host's search domain appended: answered locally
        assert parse_reply(ask_udp(server, query("db")))[2] == ["10.9.0.2"]
        assert parse_reply(ask_udp(server, query("db.corp.example")))[2] == ["10.9.0.2"]
        assert asked == []
        # anything else goes upstream unchanged (the first, refusing, resolver is skipped)
        packet = query("example.org", ident=0x1111)
        ident, rcode, ips = parse_reply(ask_udp(server, packet))
        assert (ident, rcode, ips) == (0x1111, 0, ["192.0.2.99"]) and asked == [packet]
        # and over TCP: the upstream here speaks UDP only, so that times out into SERVFAIL (rcode 2)
        t0 = time.monotonic()
        assert parse_reply(ask_tcp(server, query("example.org"), timeout=8))[1] == 2
        assert time.monotonic() - t0 < 7
    finally:
        res.close()
        stop_listener(upstream)


def test_forwarding_to_a_silent_upstream_times_out_cleanly(engine_root, tmp_path):
    with lab(engine_root) as lb:
        info = lb.network()
        silent = info.subnet.rsplit(".", 1)[0] + ".254"  # in our own subnet, nobody there
        res = Resolver(tmp_path, f"nameserver {silent}\n", {"c1": ("10.9.0.2", ["db"])})
        try:
            server = ("127.0.0.1", res.port)
            t0 = time.monotonic()
            results: list[tuple[int, int, list[str]]] = []
            slow = threading.Thread(target=lambda: results.append(parse_reply(ask_udp(server, query("nx.test")))))
            slow.start()
            time.sleep(0.1)
            # a known name is not held up by the pending forward
            t1 = time.monotonic()
            assert parse_reply(ask_udp(server, query("db")))[2] == ["10.9.0.2"]
            assert time.monotonic() - t1 < 0.5
            slow.join(10)
            assert results and results[0][1] == 2  # SERVFAIL, no hang
            assert time.monotonic() - t0 < 5
        finally:
            res.close()
