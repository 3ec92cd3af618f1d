"""The resolver of one network: answers container names and aliases, forwards the rest. Stdlib only.

    python3 -m engine.network.dns --records FILE --listen IP [--port 53] [--pidfile FILE]

Listens on the network's gateway address (UDP). Names come from the registry file, re-read when it
changes; several addresses for one name (replicas) are rotated on every answer. Any other query is
forwarded unchanged to the host's resolvers from /etc/resolv.conf.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading

TTL = 5
TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1


def parse_question(packet: bytes) -> tuple[str, int, int, int] | None:
    """(name, type, class, end offset) of the first question, or None if malformed."""
    if len(packet) < 12 or struct.unpack("!H", packet[4:6])[0] < 1:
        return None
    labels, i = [], 12
    while i < len(packet):
        n = packet[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0:
            return None
        labels.append(packet[i + 1:i + 1 + n].decode("ascii", errors="replace"))
        i += 1 + n
    else:
        return None
    if i + 4 > len(packet):
        return None
    qtype, qclass = struct.unpack("!HH", packet[i:i + 4])
    return ".".join(labels).lower(), qtype, qclass, i + 4


def answer(packet: bytes, qend: int, ips: list[str], rcode: int = 0) -> bytes:
    ident, flags = struct.unpack("!HH", packet[:4])
    rd = flags & 0x0100
    header = struct.pack("!HHHHHH", ident, 0x8000 | 0x0400 | rd | 0x0080 | rcode, 1, len(ips), 0, 0)
    out = header + packet[12:qend]
    for ip in ips:
        out += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4) + socket.inet_aton(ip)
    return out


def host_resolvers(path: str = "/etc/resolv.conf") -> tuple[list[str], list[str]]:
    servers, search = [], []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    servers.append(parts[1])
                elif parts and parts[0] in ("search", "domain"):
                    search.extend(p.lower().rstrip(".") for p in parts[1:])
    except OSError:
        pass
    return servers, search


class Resolver:
    def __init__(self, records: str):
        self.records = records
        self.mtime = -1.0
        self.names: dict[str, list[str]] = {}
        self.turn: dict[str, int] = {}
        self.upstream, self.search = host_resolvers()
        self.lock = threading.Lock()

    def reload(self) -> None:
        try:
            mtime = os.stat(self.records).st_mtime_ns
        except FileNotFoundError:
            self.names, self.mtime = {}, -1
            return
        if mtime == self.mtime:
            return
        from engine.network.registry import name_map

        try:
            with open(self.records) as f:
                self.names = name_map(json.load(f))
            self.mtime = mtime
        except (OSError, ValueError):
            pass

    def key(self, name: str) -> str | None:
        """The registered name that *name* means, if any (search domains stripped)."""
        self.reload()
        if name in self.names:
            return name
        if "." in name:
            first, rest = name.split(".", 1)
            if rest in self.search and first in self.names:
                return first
        return None

    def lookup(self, name: str) -> list[str] | None:
        key = self.key(name)
        if key is None:
            return None
        ips = self.names[key]
        with self.lock:
            k = self.turn.get(name, 0)
            self.turn[name] = k + 1
        k %= len(ips)
        return ips[k:] + ips[:k]

    def forward(self, packet: bytes) -> bytes | None:
        for server in self.upstream:
            try:
                family = socket.AF_INET6 if ":" in server else socket.AF_INET
                with socket.socket(family, socket.SOCK_DGRAM) as s:
                    s.settimeout(2.0)
                    s.sendto(packet, (server, 53))
                    return s.recv(65535)
            except OSError:
                continue
        return None

    def handle(self, sock: socket.socket, packet: bytes, peer) -> None:
        q = parse_question(packet)
        if q is None:
            return
        name, qtype, qclass, qend = q
        ips = self.lookup(name)
        if ips is not None:
            reply = answer(packet, qend, ips if qtype == TYPE_A else [])
        else:
            reply = self.forward(packet)
            if reply is None:
                reply = answer(packet, qend, [], rcode=2)  # SERVFAIL
        try:
            sock.sendto(reply, peer)
        except OSError:
            pass


def serve(records: str, listen: str, port: int, pidfile: str | None) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((listen, port))
    if pidfile:
        tmp = pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(os.getpid()))
        os.replace(tmp, pidfile)
    resolver = Resolver(records)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        packet, peer = sock.recvfrom(65535)
        q = parse_question(packet)
        if q is not None and resolver.key(q[0]) is None:
            threading.Thread(target=resolver.handle, args=(sock, packet, peer), daemon=True).start()
        else:
            resolver.handle(sock, packet, peer)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="engine.network.dns")
    ap.add_argument("--records", required=True)
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--pidfile")
    a = ap.parse_args(argv)
    return serve(a.records, a.listen, a.port, a.pidfile)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
