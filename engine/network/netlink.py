"""A small rtnetlink client: just the link, address and route requests the engine makes. Stdlib only.

Speaks NETLINK_ROUTE on a raw AF_NETLINK socket, packing messages with ``struct``; it imports in
well under a millisecond, where a general netlink library cost the CLI well over 100 ms. Every request
asks for an acknowledgement and waits for the one carrying its own sequence number; a kernel error
comes back as :class:`NetlinkError`, an ``OSError`` with the kernel's errno (e.g. ``EEXIST``).

A netlink socket belongs to the network namespace its creating thread was in at the time. To work in
a container's namespace, create the :class:`Netlink` object in a thread that has already joined it.

Message layouts (from the kernel's uapi headers): every message is an ``nlmsghdr`` followed by a
fixed family header (``ifinfomsg``, ``ifaddrmsg`` or ``rtmsg``) and then attributes, each an
``rtattr`` (length, type) with its payload padded to 4 bytes; nested attributes simply carry more
attributes as their payload.
"""
from __future__ import annotations

import errno
import os
import struct

# The C half of the socket module: the same socket type, constants and helpers, without the ~5 ms the
# Python wrapper costs to import (it pulls in selectors and enum); nothing here needs the wrapper.
import _socket as socket

NETLINK_ROUTE = 0

# message types
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE = 1, 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26

# header flags
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP_INTR = 0x10  # the dumped table changed while it was being dumped: ask again
NLM_F_DUMP = 0x300  # ROOT | MATCH
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400

# link attributes
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFF_UP = 0x1

# address attributes and flags
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST, IFA_FLAGS = 1, 2, 4, 8
IFA_F_NODAD = 0x02

# route attributes and values
RTA_DST, RTA_GATEWAY, RTA_TABLE = 1, 5, 15
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4
RT_SCOPE_UNIVERSE = 0
RTN_UNICAST = 1

_HDR = struct.Struct("=IHHII")      # nlmsghdr: length, type, flags, seq, port id
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, pad, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")   # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_ATTR = struct.Struct("=HH")        # rtattr: length, type
_ERR = struct.Struct("=i")          # nlmsgerr: a negative errno, or 0 for an ack

_RECV = 1 << 16  # the kernel never sends a single datagram larger than this for our requests or dumps


class NetlinkError(OSError):
    """The kernel refused a request: ``errno`` is its error code, the message is its strerror."""


def _pad(n: int) -> int:
    return (n + 3) & ~3


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes (the length field counts the unpadded payload)."""
    n = _ATTR.size + len(payload)
    return _ATTR.pack(n, kind) + payload + b"\0" * (_pad(n) - n)


def _u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def _name(kind: int, name: str) -> bytes:
    return attr(kind, name.encode() + b"\0")


def parse_attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """Attributes from *offset* to the end of *data*, by type (a repeated type keeps its first value)."""
    out: dict[int, bytes] = {}
    end = len(data)
    while offset + _ATTR.size <= end:
        n, kind = _ATTR.unpack_from(data, offset)
        if n < _ATTR.size:
            break
        out.setdefault(kind & 0x3FFF, data[offset + _ATTR.size:offset + n])  # drop the NESTED/BYTEORDER bits
        offset += _pad(n)
    return out


def family_of(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def mac_bytes(mac: str) -> bytes:
    """``02:42:ac:11:00:02`` as 6 bytes; ValueError for anything else."""
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"invalid MAC address {mac!r}")
    return raw


class Netlink:
    """One NETLINK_ROUTE socket, in the network namespace of the thread that creates it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        try:
            self.sock.bind((0, 0))  # the kernel picks our port id
        except BaseException:
            self.sock.close()
            raise
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the wire ----------------------------------------------------------------------
    def _send(self, kind: int, flags: int, body: bytes) -> int:
        self.seq += 1
        msg = _HDR.pack(_HDR.size + len(body), kind, flags | NLM_F_REQUEST, self.seq, 0) + body
        self.sock.sendto(msg, (0, 0))
        return self.seq

    def _messages(self, seq: int):
        """(type, flags, message) for each message answering *seq*, as datagrams arrive."""
        while True:
            data = self.sock.recv(_RECV)
            offset = 0
            while offset + _HDR.size <= len(data):
                length, kind, flags, mseq, _port = _HDR.unpack_from(data, offset)
                if length < _HDR.size:
                    break
                if mseq == seq:
                    yield kind, flags, data[offset:offset + length]
                offset += _pad(length)

    def request(self, kind: int, body: bytes, flags: int = 0) -> None:
        """Send one request and wait for its acknowledgement; NetlinkError if the kernel refuses it."""
        seq = self._send(kind, flags | NLM_F_ACK, body)
        for mkind, _flags, msg in self._messages(seq):
            if mkind == NLMSG_ERROR:
                (code,) = _ERR.unpack_from(msg, _HDR.size)
                if code:
                    raise NetlinkError(-code, os.strerror(-code))
                return

    def dump(self, kind: int, body: bytes) -> list[bytes]:
        """Every message of a dump request (each still with its netlink header); a dump the kernel marks
        as interrupted by a concurrent change is asked for again (a few times, then taken as it is)."""
        for _attempt in range(5):
            out, interrupted = self._dump_once(kind, body)
            if not interrupted:
                break
        return out

    def _dump_once(self, kind: int, body: bytes) -> tuple[list[bytes], bool]:
        seq = self._send(kind, NLM_F_DUMP, body)
        out: list[bytes] = []
        interrupted = False
        for mkind, flags, msg in self._messages(seq):
            interrupted |= bool(flags & NLM_F_DUMP_INTR)
            if mkind == NLMSG_DONE:
                break
            if mkind == NLMSG_ERROR:
                (code,) = _ERR.unpack_from(msg, _HDR.size)
                if code:
                    raise NetlinkError(-code, os.strerror(-code))
                break
            if mkind != NLMSG_NOOP:
                out.append(msg)
        return out, interrupted

    # -- links -------------------------------------------------------------------------
    @staticmethod
    def link_index(name: str) -> int | None:
        """The index of link *name* in this thread's namespace, or None."""
        try:
            return socket.if_nametoindex(name)
        except OSError:
            return None

    def link_delete(self, name: str = "", index: int = 0) -> bool:
        """Delete a link by index or by name; False if there was none (deleting a veth end deletes both)."""
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0)
        if not index:
            body += _name(IFLA_IFNAME, name)
        try:
            self.request(RTM_DELLINK, body)
        except NetlinkError as e:
            if e.errno == errno.ENODEV:  # already gone
                return False
            raise
        return True

    def link_up(self, index: int) -> None:
        self.request(RTM_NEWLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP))

    def link_set_address(self, index: int, mac: bytes) -> None:
        """Give the link the hardware address *mac* (6 bytes)."""
        self.request(RTM_NEWLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0) + attr(IFLA_ADDRESS, mac))

    def bridge_add(self, name: str, mtu: int = 0) -> None:
        """A new bridge (EEXIST if a link of that name exists), down until :meth:`link_up`."""
        attrs = _name(IFLA_IFNAME, name) + (_u32(IFLA_MTU, mtu) if mtu else b"")
        attrs += attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"bridge"))
        self.request(RTM_NEWLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + attrs, NLM_F_CREATE | NLM_F_EXCL)

    def veth_add(self, name: str, peer: str, *, peer_netns_fd: int = -1, peer_mac: bytes = b"", mtu: int = 0,
                 master: int = 0, up: bool = True) -> None:
        """A veth pair in one request: *name* here (in bridge *master* if given, up if *up*), *peer* created
        directly in the namespace open as *peer_netns_fd* (if given) with *peer_mac*; *mtu* on both ends.
        The peer is left down. EEXIST if either name is taken where it would go."""
        peer_attrs = _name(IFLA_IFNAME, peer)
        if peer_netns_fd >= 0:
            peer_attrs += _u32(IFLA_NET_NS_FD, peer_netns_fd)
        if peer_mac:
            peer_attrs += attr(IFLA_ADDRESS, peer_mac)
        if mtu:
            peer_attrs += _u32(IFLA_MTU, mtu)
        peer_msg = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + peer_attrs
        info = attr(IFLA_INFO_KIND, b"veth") + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_msg))
        attrs = _name(IFLA_IFNAME, name)
        if mtu:
            attrs += _u32(IFLA_MTU, mtu)
        if master:
            attrs += _u32(IFLA_MASTER, master)
        attrs += attr(IFLA_LINKINFO, info)
        flags = IFF_UP if up else 0
        self.request(RTM_NEWLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, 0, flags, flags) + attrs,
                     NLM_F_CREATE | NLM_F_EXCL)

    # -- addresses and routes ----------------------------------------------------------
    def addr_add(self, index: int, address: str, prefixlen: int, nodad: bool = False) -> None:
        """Add *address*/*prefixlen* to link *index* (EEXIST if it has it). An IPv4 address gets the
        subnet's broadcast address as `ip addr add ... brd +` gives it (prefixes up to /30); *nodad*
        makes an IPv6 address usable at once, without duplicate address detection."""
        family = family_of(address)
        raw = socket.inet_pton(family, address)
        flags = IFA_F_NODAD if nodad else 0
        attrs = attr(IFA_ADDRESS, raw)
        if family == socket.AF_INET:
            attrs = attr(IFA_LOCAL, raw) + attrs
        if family == socket.AF_INET and prefixlen <= 30:
            host_bits = (1 << (32 - prefixlen)) - 1
            attrs += attr(IFA_BROADCAST, struct.pack("!I", struct.unpack("!I", raw)[0] | host_bits))
        if flags:
            attrs += _u32(IFA_FLAGS, flags)
        self.request(RTM_NEWADDR, _IFADDR.pack(family, prefixlen, flags, RT_SCOPE_UNIVERSE, index) + attrs,
                     NLM_F_CREATE | NLM_F_EXCL)

    def route_add_default(self, gateway: str) -> None:
        """A default route through *gateway* in the main table (its family picks IPv4 or IPv6)."""
        family = family_of(gateway)
        body = _RTMSG.pack(family, 0, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
        body += attr(RTA_GATEWAY, socket.inet_pton(family, gateway))
        self.request(RTM_NEWROUTE, body, NLM_F_CREATE | NLM_F_EXCL)

    def addresses(self, family: int) -> list[tuple[int, str, int]]:
        """(link index, address, prefixlen) of every address of *family* (socket.AF_INET or AF_INET6)."""
        out = []
        for msg in self.dump(RTM_GETADDR, _IFADDR.pack(family, 0, 0, 0, 0)):
            fam, plen, _flags, _scope, index = _IFADDR.unpack_from(msg, _HDR.size)
            attrs = parse_attrs(msg, _HDR.size + _IFADDR.size)
            raw = attrs.get(IFA_ADDRESS) or attrs.get(IFA_LOCAL)
            if fam == family and raw:
                out.append((index, socket.inet_ntop(fam, raw), plen))
        return out

    def routes(self, family: int, table: int = RT_TABLE_MAIN) -> list[tuple[str, int]]:
        """(destination, prefixlen) of every route of *family* in *table*; the default route is ("", 0)."""
        out = []
        for msg in self.dump(RTM_GETROUTE, _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)):
            fam, dst_len, _src, _tos, rtable, *_rest = _RTMSG.unpack_from(msg, _HDR.size)
            attrs = parse_attrs(msg, _HDR.size + _RTMSG.size)
            if RTA_TABLE in attrs:
                rtable = struct.unpack("=I", attrs[RTA_TABLE][:4])[0]
            if fam != family or rtable != table:
                continue
            dst = attrs.get(RTA_DST)
            out.append((socket.inet_ntop(fam, dst) if dst else "", dst_len))
        return out
