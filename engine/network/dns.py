"""The resolver of one network: answers container names and aliases, forwards the rest. Stdlib only.

    python3 -m engine.network.dns --records FILE --listen IP [--subnet CIDR] [--port 53] [--pidfile FILE]
                                  [--resolv-conf /etc/resolv.conf] [--ready-fd FD]

Listens on the network's gateway address (UDP and TCP), and answers only sources in --subnet (the
network's own containers, and the host through the gateway address): a container of another network
reaches this address through the host, and is neither answered nor forwarded for (its datagrams are
dropped, its TCP connections closed), so no network learns another's names.

Names come from the registry file, re-read when its mtime changes; several addresses for one name
(replicas) are rotated on every answer; a name also matches with one of the host's (or a
container's) search domains appended. Known names get their A records (AAAA ones on IPv6
networks), and an empty NOERROR answer for any other type. Any other query is forwarded unchanged
to the asking container's own `dns` servers if it has some, else to the host's resolvers (2 s per
resolver, then SERVFAIL), each in a thread so a slow upstream blocks nobody;
at most MAX_FORWARDS of them at a time (a query beyond gets SERVFAIL at once) and MAX_TCP_CLIENTS TCP
connections (one beyond is closed): a flood costs a bounded number of threads, not one per query.
This process runs in the host's namespace, so loopback resolvers of the host (a local stub on
127.0.0.53, say) are reachable from here, unlike from inside a container.

Listening starts before the address is on the bridge (IP_FREEBIND); once serving, the pidfile is
written and a byte goes to the ready fd (a pipe from the starter, which waits on it, not on the file).
"""
from __future__ import annotations

import os
import signal
import socket
import struct
import sys
import threading

TTL = 5
UPSTREAM_TIMEOUT = 2.0  # seconds per upstream resolver
TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1
MAX_FORWARDS = 32  # UDP queries being forwarded at once
MAX_TCP_CLIENTS = 16  # TCP connections served at once
SERVFAIL = 2


def source_filter(subnet: str):
    """A test of a source address: True for one in the IPv4 *subnet* ("a.b.c.d/n"); any source without one."""
    if not subnet:
        return lambda _ip: True
    addr, _, plen = subnet.partition("/")
    mask = (0xFFFFFFFF << (32 - int(plen or 32))) & 0xFFFFFFFF
    net = struct.unpack("!I", socket.inet_aton(addr))[0] & mask

    def allowed(ip: str) -> bool:
        try:
            return struct.unpack("!I", socket.inet_aton(ip))[0] & mask == net
        except OSError:  # (an IPv6 source, say: never one of the network's IPv4 containers)
            return False
    return allowed


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
    """A reply with one A (IPv4) or AAAA (IPv6) record per address."""
    ident, flags = struct.unpack("!HH", packet[:4])
    rd = flags & 0x0100
    header = struct.pack("!HHHHHH", ident, 0x8000 | 0x0400 | rd | 0x0080 | rcode, 1, len(ips), 0, 0)
    out = header + packet[12:qend]
    for ip in ips:
        if ":" in ip:
            out += struct.pack("!HHHIH", 0xC00C, TYPE_AAAA, CLASS_IN, TTL, 16) + socket.inet_pton(socket.AF_INET6, ip)
        else:
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
    def __init__(self, records: str, resolv_conf: str = "/etc/resolv.conf"):
        self.records = records
        self.mtime: object = -1
        self.names: dict[str, list[str]] = {}
        self.names6: dict[str, list[str]] = {}
        self.by_source: dict[str, list[str]] = {}  # a container's address -> its own upstream servers
        self.turn: dict[str, int] = {}
        self.upstream, self.host_search = host_resolvers(resolv_conf)
        self.search = set(self.host_search)
        self.lock = threading.Lock()
        self.reloading = threading.Lock()
        self.held = None  # the records file last read, kept open (see _hold)

    def reload(self) -> None:
        """Read the records again if the file was replaced or changed since the last read."""
        try:
            st = os.stat(self.records)
        except FileNotFoundError:
            with self.reloading:
                self.names, self.names6, self.by_source, self.mtime = {}, {}, {}, -1
                self._hold(None)
            return
        if (st.st_ino, st.st_mtime_ns, st.st_size) == self.mtime:
            return
        import json  # here: its import (~8 ms, for re) is not paid before the resolver says it serves

        from engine.network.registry import name_map, search_domains, upstreams

        with self.reloading:
            try:
                f = open(self.records)
            except OSError:
                return
            try:
                data = json.load(f)
                names, names6 = name_map(data), name_map(data, "ip6")
                by_source, search = upstreams(data), set(self.host_search) | search_domains(data)
                st = os.fstat(f.fileno())
            except (OSError, ValueError, KeyError, AttributeError, TypeError):  # torn or odd: read again next time
                f.close()
                return
            self.names, self.names6, self.by_source, self.search = names, names6, by_source, search
            self.mtime = (st.st_ino, st.st_mtime_ns, st.st_size)
            self._hold(f)

    def _hold(self, f) -> None:
        """Keep the file last read open. Records are replaced by rename, and a new file could get the old
        one's inode number once that is freed, with an mtime equal to the tick; held open, it cannot."""
        old, self.held = self.held, f
        if old is not None:
            old.close()

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

    def lookup(self, name: str, qtype: int = TYPE_A) -> list[str] | None:
        """The addresses of a registered name, rotated on every call (None: not ours). AAAA questions get
        IPv6 addresses, other types none."""
        key = self.key(name)
        if key is None:
            return None
        ips = self.names[key] if qtype == TYPE_A else self.names6.get(key, []) if qtype == TYPE_AAAA else []
        if not ips:
            return []
        with self.lock:
            k = self.turn.get(name, 0)
            self.turn[name] = k + 1
        k %= len(ips)
        return ips[k:] + ips[:k]

    def forward(self, packet: bytes, tcp: bool = False, source: str = "") -> bytes | None:
        """The first upstream answer to *packet*, asked the way it came (UDP or TCP), or None. The
        upstreams are the asking container's own `dns` servers (by its *source* address), else the host's."""
        for server in self.by_source.get(source) or self.upstream:
            family = socket.AF_INET6 if ":" in server else socket.AF_INET
            try:
                with socket.socket(family, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM) as s:
                    s.settimeout(UPSTREAM_TIMEOUT)
                    if tcp:
                        s.connect((server, 53))
                        s.sendall(struct.pack("!H", len(packet)) + packet)
                        return _read_tcp_message(s)
                    s.sendto(packet, (server, 53))
                    return s.recv(65535)
            except OSError:
                continue
        return None

    def reply(self, packet: bytes, tcp: bool = False, source: str = "") -> bytes | None:
        """The answer to one query from *source*, or None for a packet that is not one."""
        q = parse_question(packet)
        if q is None:
            return None
        name, qtype, _qclass, qend = q
        ips = self.lookup(name, qtype)
        if ips is not None:
            return answer(packet, qend, ips)
        reply = self.forward(packet, tcp, source)
        return reply if reply is not None else answer(packet, qend, [], rcode=SERVFAIL)

    def known(self, packet: bytes) -> bool:
        q = parse_question(packet)
        return q is not None and self.key(q[0]) is not None


def _read_tcp_message(s: socket.socket) -> bytes | None:
    head = _read_exact(s, 2)
    return None if head is None else _read_exact(s, struct.unpack("!H", head)[0])


def _read_exact(s: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _udp_reply(resolver: Resolver, sock: socket.socket, packet: bytes, peer, slot=None) -> None:
    try:
        reply = resolver.reply(packet, source=peer[0])
        if reply is not None:
            try:
                sock.sendto(reply, peer)
            except OSError:
                pass
    finally:
        if slot is not None:
            slot.release()


def _servfail(sock: socket.socket, packet: bytes, peer) -> None:
    q = parse_question(packet)
    if q is not None:
        try:
            sock.sendto(answer(packet, q[3], [], rcode=SERVFAIL), peer)
        except OSError:
            pass


def _tcp_client(resolver: Resolver, conn: socket.socket, source: str, slot) -> None:
    try:
        _tcp_serve(resolver, conn, source)
    finally:
        slot.release()


def _tcp_serve(resolver: Resolver, conn: socket.socket, source: str) -> None:
    with conn:
        conn.settimeout(10)
        try:
            while True:
                packet = _read_tcp_message(conn)
                if packet is None:
                    return
                reply = resolver.reply(packet, tcp=True, source=source)
                if reply is None:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


def _tcp_loop(resolver: Resolver, listener: socket.socket, allowed) -> None:
    slots = threading.BoundedSemaphore(MAX_TCP_CLIENTS)
    while True:
        try:
            conn, peer = listener.accept()
        except OSError:
            return
        if not allowed(peer[0]) or not slots.acquire(blocking=False):
            conn.close()
            continue
        threading.Thread(target=_tcp_client, args=(resolver, conn, peer[0], slots), daemon=True).start()


IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)  # Linux's value; Python names it from 3.12 on


def _listen(listen: str, port: int) -> tuple[socket.socket, socket.socket]:
    """The UDP and TCP sockets on *listen*:*port*. IP_FREEBIND lets them bind before the address is on
    the bridge, so the resolver starts while its network is still being made."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    udp.bind((listen, port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    tcp.bind((listen, udp.getsockname()[1]))
    tcp.listen(64)
    return udp, tcp


def serve(records: str, listen: str, port: int, pidfile: str | None, resolv_conf: str = "/etc/resolv.conf",
          ready_fd: int = -1, subnet: str = "") -> int:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    allowed = source_filter(subnet)
    udp, tcp = _listen(listen, port)
    resolver = Resolver(records, resolv_conf)
    threading.Thread(target=_tcp_loop, args=(resolver, tcp, allowed), daemon=True).start()
    if pidfile:  # written once serving: its presence tells a later command which process serves
        tmp = pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(os.getpid()))
        os.replace(tmp, pidfile)
    if not os.path.exists(records):
        # the network was removed while we started (its remover deletes this file before it looks for
        # our pidfile): nobody would stop us, so do not serve
        return 0
    if ready_fd >= 0:  # tell the starter, if it is still there, that we serve
        try:
            os.write(ready_fd, b"1")
        except OSError:
            pass
        os.close(ready_fd)
    resolver.reload()  # the first read (and imports) now, while nothing waits for an answer yet
    slots = threading.BoundedSemaphore(MAX_FORWARDS)
    while True:
        packet, peer = udp.recvfrom(65535)
        if not allowed(peer[0]):
            continue  # not one of the network's containers: no answer, nothing forwarded
        if resolver.known(packet):
            _udp_reply(resolver, udp, packet, peer)  # answered at once, in order
        elif slots.acquire(blocking=False):  # forwarded (or dropped if malformed) without holding up the others
            threading.Thread(target=_udp_reply, args=(resolver, udp, packet, peer, slots), daemon=True).start()
        else:  # MAX_FORWARDS already under way
            _servfail(udp, packet, peer)


USAGE = "usage: python3 -m engine.network.dns --records FILE --listen IP [--subnet CIDR] [--port 53] " \
        "[--pidfile FILE] [--resolv-conf FILE] [--ready-fd FD]"


def main(argv: list[str]) -> int:
    # a hand-rolled parser: argparse would cost this long-lived process about a megabyte
    opts = {"--records": None, "--listen": None, "--subnet": "", "--port": "53", "--pidfile": None,
            "--resolv-conf": "/etc/resolv.conf", "--ready-fd": "-1"}
    it = iter(argv)
    for arg in it:
        key, eq, value = arg.partition("=")
        if key not in opts:
            sys.stderr.write(f"{USAGE}\nunknown option {arg}\n")
            return 2
        opts[key] = value if eq else next(it, None)
    if not opts["--records"] or not opts["--listen"] or not (opts["--port"] or "").isdigit() \
            or not (opts["--ready-fd"] or "").lstrip("-").isdigit():
        sys.stderr.write(USAGE + "\n")
        return 2
    try:
        source_filter(opts["--subnet"] or "")
    except (OSError, ValueError):
        sys.stderr.write(f"{USAGE}\ninvalid --subnet {opts['--subnet']!r}: an IPv4 network like 10.5.0.0/24\n")
        return 2
    return serve(opts["--records"], opts["--listen"], int(opts["--port"]), opts["--pidfile"],
                 opts["--resolv-conf"] or "/etc/resolv.conf", int(opts["--ready-fd"]), opts["--subnet"] or "")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
