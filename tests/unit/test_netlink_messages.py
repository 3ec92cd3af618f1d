"""The netlink module's message encoding (no kernel needed)."""
from __future__ import annotations

import struct

import pytest

from engine.network.netlink import attr, family_of, mac_bytes, parse_attrs


def test_attributes_are_padded_to_four_bytes_and_read_back():
    a = attr(3, b"eth0\0")  # 4-byte header + 5 bytes, padded to 12
    assert len(a) == 12 and struct.unpack_from("=HH", a) == (9, 3) and a.endswith(b"\0\0\0")
    nested = attr(18, attr(1, b"veth") + attr(2, attr(1, b"xy")))
    data = a + nested + attr(4, struct.pack("=I", 1400))
    got = parse_attrs(data)
    assert got[3] == b"eth0\0" and struct.unpack("=I", got[4]) == (1400,)
    inner = parse_attrs(got[18])
    assert inner[1] == b"veth" and parse_attrs(inner[2]) == {1: b"xy"}


def test_a_truncated_attribute_stops_parsing():
    assert parse_attrs(attr(1, b"abcd") + struct.pack("=HH", 2, 5)) == {1: b"abcd"}


def test_mac_and_family():
    assert mac_bytes("02:42:AC:11:00:02") == bytes([2, 0x42, 0xac, 0x11, 0, 2])
    for bad in ("02:42", "02:42:ac:11:00:02:03", "zz:42:ac:11:00:02"):
        with pytest.raises(ValueError):
            mac_bytes(bad)
    assert family_of("10.0.0.1") == 2 and family_of("fd00::1") == 10
