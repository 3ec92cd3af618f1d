import socket
import struct

from engine.network.dns import Resolver, answer, parse_question
from engine.network.registry import name_map, register, unregister


def query(name: str, qtype: int = 1, ident: int = 0x1234) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def test_parse_and_answer():
    pkt = query("Web.Example")
    name, qtype, qclass, end = parse_question(pkt)
    assert (name, qtype, qclass) == ("web.example", 1, 1)
    reply = answer(pkt, end, ["10.0.0.2", "10.0.0.3"])
    ident, flags, qd, an = struct.unpack("!HHHH", reply[:8])
    assert ident == 0x1234 and flags & 0x8000 and qd == 1 and an == 2
    assert reply.endswith(socket.inet_aton("10.0.0.3"))


def test_malformed_packets_are_ignored():
    assert parse_question(b"") is None
    assert parse_question(b"\0" * 12) is None
    assert parse_question(query("a")[:-3]) is None


def test_registry_and_round_robin(tmp_path):
    records = str(tmp_path / "dns.json")
    register(records, "c1", ["web", "proj-web-1"], "10.0.0.2")
    register(records, "c2", ["web", "proj-web-2"], "10.0.0.3")
    r = Resolver(records)
    first, second = r.lookup("web"), r.lookup("web")
    assert sorted(first) == ["10.0.0.2", "10.0.0.3"] and first != second
    assert r.lookup("PROJ-WEB-2".lower()) == ["10.0.0.3"]
    assert r.lookup("nothing") is None
    unregister(records, "c1")
    assert r.lookup("web") == ["10.0.0.3"]
    import json

    assert name_map(json.load(open(records))) == {"web": ["10.0.0.3"], "proj-web-2": ["10.0.0.3"]}


def test_every_replacement_of_the_records_is_seen(tmp_path):
    """Records are replaced by rename, fast (not fsynced): where file times are coarse (a clock tick),
    two replacements could give the newest file the inode number and mtime of the one the resolver read
    before (the resolver holds that one open, so its number is not free)."""
    records = str(tmp_path / "dns.json")
    register(records, "c0", ["base"], "10.0.0.1")
    r = Resolver(records)
    for i in range(300):
        assert r.lookup("base") == ["10.0.0.1"]  # read now
        register(records, f"a{i}", [f"a{i}"], "10.0.1.1")
        register(records, f"b{i}", [f"b{i}"], "10.0.1.2")
        assert r.lookup(f"b{i}") == ["10.0.1.2"], f"round {i}: the last replacement went unseen"
        unregister(records, f"a{i}")
        unregister(records, f"b{i}")


def test_source_filter_admits_only_the_networks_own_subnet():
    from engine.network.dns import source_filter

    allowed = source_filter("10.199.3.0/24")
    assert allowed("10.199.3.2") and allowed("10.199.3.1") and allowed("10.199.3.255")
    assert not allowed("10.199.4.2") and not allowed("10.199.2.254") and not allowed("127.0.0.1")
    assert not allowed("fd00::1") and not allowed("")
    narrow = source_filter("172.20.16.0/20")
    assert narrow("172.20.31.9") and not narrow("172.20.32.1")
    assert source_filter("")("203.0.113.9")  # no subnet given (a resolver run by hand): any source
