"""Published ports: host sockets bound up front, and a userland proxy to the container. Stdlib only.

The CLI binds the listening sockets (so a port in use is an error before the container starts) and
hands them to the container's monitor, whose threads relay each connection (TCP) or datagram (UDP)
to the container's address.
"""
from __future__ import annotations

import errno
import socket
import threading

from engine.errors import Conflict, InvalidArgument

TYPE_CHECKING = False  # not `typing`: the monitor imports this module and counts its memory
if TYPE_CHECKING:
    from engine.types import PortBinding


def _family(host_ip: str) -> int:
    return socket.AF_INET6 if ":" in host_ip else socket.AF_INET


ALL_ADDRESSES = ""  # a binding's host_ip when none was given: 0.0.0.0 and, where the host has IPv6, [::]
RANDOM_TRIES = 20  # a random port free for IPv4 but taken for IPv6: another one is tried


def _ipv6_available() -> bool:
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
        return True
    except OSError:
        return False


def bind_published(bindings: list[PortBinding]) -> list[socket.socket]:
    """Bind and (TCP) listen on each PortBinding's host side, in order; one socket per binding.

    host_port 0 picks a free port, and a range (host_port_end) its first free one; the port bound is
    written back into the binding's ``host_port`` (``host_port_end`` cleared). A binding without a
    host_ip (ALL_ADDRESSES) is bound, as Docker does, on 0.0.0.0 and on [::] with the same port: it
    becomes the 0.0.0.0 one and the [::] one is inserted after it in *bindings*. On any failure every
    socket opened so far is closed and Conflict (port in use) or InvalidArgument (bad address) raised.
    """
    socks: list[socket.socket] = []
    dual = any(b.host_ip == ALL_ADDRESSES for b in bindings) and _ipv6_available()
    try:
        i = 0
        while i < len(bindings):
            b = bindings[i]
            proto = b.protocol or "tcp"
            if proto not in ("tcp", "udp"):
                raise InvalidArgument(f"cannot publish port {b.host_port}/{proto}: only tcp and udp are supported")
            if b.host_ip == ALL_ADDRESSES and dual:
                socks += _bind_both(b)
                twin = type(b)(**vars(b))
                twin.host_ip = "::"
                bindings.insert(i + 1, twin)
                i += 2
                continue
            b.host_ip = b.host_ip or "0.0.0.0"
            socks.append(_bind(b, b.host_ip, _ports(b)))
            i += 1
        return socks
    except BaseException:
        for s in socks:
            s.close()
        raise


def _ports(b: PortBinding) -> range:
    first = int(b.host_port)
    return range(first, max(first, int(b.host_port_end or 0)) + 1)


def _bind_both(b: PortBinding) -> list[socket.socket]:
    """0.0.0.0 and [::] on one port: the first free one for both (of a range, or picked at random)."""
    candidates = [0] * RANDOM_TRIES if int(b.host_port) == 0 else list(_ports(b))
    for n, port in enumerate(candidates):
        last = n == len(candidates) - 1
        try:
            v4 = _bind(b, "0.0.0.0", range(port, port + 1), shown_range=_ports(b))
        except Conflict:
            if last:
                raise
            continue
        bound = v4.getsockname()[1]
        try:
            v6 = _bind(b, "::", range(bound, bound + 1), shown_range=_ports(b))
        except Conflict:
            v4.close()
            if last:
                raise
            continue
        b.host_ip = "0.0.0.0"
        return [v4, v6]
    raise Conflict(f"no port free on both 0.0.0.0 and [::] for {b.container_port}/{b.protocol}")


def _bind(b: PortBinding, host_ip: str, ports: range, shown_range: range | None = None) -> socket.socket:
    """A socket of *b*'s protocol bound on *host_ip* to the first free port of *ports* (listening, for
    TCP); the port goes into b.host_port."""
    proto = b.protocol or "tcp"
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    s = socket.socket(_family(host_ip), kind)
    try:
        if kind == socket.SOCK_STREAM:
            # lets a port in TIME_WAIT be reused; two listeners still conflict. Not for UDP, where
            # it would let two sockets share the port silently.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if s.family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        shown = f"[{host_ip}]" if ":" in host_ip else host_ip
        last = ports.stop - 1
        asked = shown_range or ports
        for port in ports:  # a range: the first free port of it
            try:
                s.bind((host_ip, port))
                break
            except OSError as e:
                if e.errno == errno.EADDRINUSE and port < last:
                    continue
                if e.errno == errno.EADDRINUSE:
                    a, z = asked.start, asked.stop - 1
                    where = f"{a}-{z}" if z > a else str(port if a == 0 else a)
                    raise Conflict(f"port {shown}:{where}/{proto} is already in use: stop what holds it "
                                   f"or publish another host port") from None
                raise InvalidArgument(f"cannot publish port {shown}:{port}/{proto}: {e.strerror} "
                                      f"(is {host_ip} an address of this host?)") from None
        if kind == socket.SOCK_STREAM:
            s.listen(128)
        b.host_port, b.host_port_end = s.getsockname()[1], 0
        return s
    except BaseException:
        s.close()
        raise


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _tcp_session(client: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=10)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
    back.start()
    _pipe(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _tcp_listener(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_tcp_session, args=(client, target), daemon=True).start()


def _udp_relay(listener: socket.socket, target: tuple[str, int]) -> None:
    peers: dict[tuple, socket.socket] = {}

    def back(peer, upstream: socket.socket) -> None:
        upstream.settimeout(60)
        try:
            while True:
                data = upstream.recv(65536)
                listener.sendto(data, peer)
        except OSError:
            pass
        finally:
            peers.pop(peer, None)
            upstream.close()

    while True:
        try:
            data, peer = listener.recvfrom(65536)
        except OSError:
            return
        upstream = peers.get(peer)
        if upstream is None:
            upstream = socket.socket(_family(target[0]), socket.SOCK_DGRAM)
            upstream.connect(target)
            peers[peer] = upstream
            threading.Thread(target=back, args=(peer, upstream), daemon=True).start()
        try:
            upstream.send(data)
        except OSError:
            pass


def serve(listeners: list[tuple[socket.socket, str, int, str]]) -> None:
    """Start relaying every listener to its (ip, port) in background threads."""
    for sock, ip, port, proto in listeners:
        fn = _udp_relay if proto == "udp" else _tcp_listener
        threading.Thread(target=fn, args=(sock, (ip, port)), daemon=True).start()
