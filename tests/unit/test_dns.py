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
