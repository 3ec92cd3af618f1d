"""The eBPF device filter generated from our rule strings (engine/runtime/devicefilter.py), run through
a small interpreter of the few instructions it uses and compared, access by access, with the v1
devices cgroup's allow-list semantics and with a table of what Docker's default rules allow."""
from __future__ import annotations

import itertools
import struct

import pytest

from engine.runtime import devicefilter as df
from engine.runtime.resources import DEFAULT_DEVICE_RULES

B, C = df.DEV_BLOCK, df.DEV_CHAR
M, R, W = df.ACC_MKNOD, df.ACC_READ, df.ACC_WRITE


def run(program: bytes, dev_type: int, major: int, minor: int, access: int) -> int:
    """Execute *program* on a struct bpf_cgroup_dev_ctx as the kernel would (64-bit registers, ALU32
    results zero-extended), refusing anything the generator must never emit."""
    assert len(program) % 8 == 0 and len(program) // 8 <= 4096
    insns = [struct.unpack("<BBhi", program[i:i + 8]) for i in range(0, len(program), 8)]
    ctx = struct.pack("<III", (access << 16) | dev_type, major, minor)
    regs = [0] * 11
    regs[1] = -1  # the context pointer: only loads from it (r1 + 0, 4, 8) are meaningful
    init = [False] * 11
    init[1] = True
    pc = 0
    for _ in range(10000):
        assert 0 <= pc < len(insns), "ran off the program"
        code, reg, off, imm = insns[pc]
        dst, src = reg & 0xF, reg >> 4
        pc += 1
        if code == df.LDX_MEM_W:
            assert regs[src] == -1 and off in (0, 4, 8), "a load from anything but the context"
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif code == df.ALU32_AND_K:
            assert init[dst]
            regs[dst] = (regs[dst] & imm) & 0xFFFFFFFF
        elif code == df.ALU32_RSH_K:
            assert init[dst]
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif code == df.ALU32_MOV_K:
            regs[dst] = imm & 0xFFFFFFFF
        elif code == df.ALU32_MOV_X:
            assert init[src] and regs[src] != -1
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif code in (df.JMP_JNE_K, df.JMP_JNE_X):
            other = imm if code == df.JMP_JNE_K else regs[src]
            assert init[dst] and off > 0, "a backward or empty jump"
            if regs[dst] != other:
                pc += off
        elif code == df.JMP_EXIT:
            assert init[0]
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        init[dst] = True
    raise AssertionError("no exit")


def v1_allows(rules, dev_type: int, major: int, minor: int, access: int) -> bool:
    """The v1 devices cgroup after `devices.deny a` and one `devices.allow` per rule: one rule must
    match the type and numbers and cover every access asked for."""
    for text in rules:
        kind, numbers, acc = text.split()
        ma, mi = numbers.split(":")
        if kind != "a" and {"b": B, "c": C}[kind] != dev_type:
            continue
        if ma != "*" and int(ma) != major or mi != "*" and int(mi) != minor:
            continue
        allowed = sum({"m": M, "r": R, "w": W}[x] for x in acc)
        if access & ~allowed == 0:
            return True
    return False


# what a default Docker container may do (moby's default device rules)
DOCKER_DEFAULTS = [
    # null zero full random urandom
    (C, 1, 3, R | W, 1), (C, 1, 5, R, 1), (C, 1, 7, W, 1), (C, 1, 8, R, 1), (C, 1, 9, R, 1),
    (C, 5, 0, R | W, 1), (C, 5, 1, R | W, 1), (C, 5, 2, R | W, 1),  # tty console ptmx
    (C, 136, 0, R | W, 1), (C, 136, 4095, R | W | M, 1),  # any pts
    (C, 10, 200, R | W, 1),  # tun
    (B, 8, 0, M, 1), (B, 254, 0, M, 1), (C, 1, 1, M, 1),  # mknod of anything
    (B, 8, 0, R, 0), (B, 8, 0, W, 0), (B, 8, 0, R | M, 0), (B, 254, 0, R, 0), (B, 7, 0, R | W, 0),  # disks, loops
    (C, 1, 1, R, 0), (C, 1, 2, R, 0), (C, 1, 4, W, 0), (C, 1, 11, W, 0),  # mem kmem port kmsg
    (C, 10, 229, R | W, 0), (C, 10, 237, R, 0), (C, 10, 232, R, 0),  # fuse loop-control kvm
    (C, 4, 0, W, 0), (C, 5, 3, R, 0), (C, 137, 0, R, 0), (C, 3, 136, R, 0),  # tty0, 5:3, beyond pts, swapped
    (B, 1, 3, R | W, 0), (B, 136, 1, R, 0), (B, 10, 200, R, 0),  # char rules never allow a block device
]


@pytest.mark.parametrize("dev_type,major,minor,access,want", DOCKER_DEFAULTS)
def test_docker_default_rules(dev_type, major, minor, access, want):
    assert run(df.build(DEFAULT_DEVICE_RULES), dev_type, major, minor, access) == want


RULE_SETS = [
    list(DEFAULT_DEVICE_RULES),
    [*DEFAULT_DEVICE_RULES, "c 1:5 r", "b 7:0 rw"],  # a service's devices: with permissions
    ["c 1:3 rwm"], ["b *:5 r"], ["c 4:* w", "b 8:0 m"], ["a *:* rwm"], ["a 1:* r"], [],
]
MAJORS = (0, 1, 4, 5, 7, 8, 10, 136, 254, 4095)
MINORS = (0, 1, 3, 5, 7, 8, 9, 200, 4095, 1 << 19)


@pytest.mark.parametrize("rules", RULE_SETS, ids=lambda r: ",".join(r) or "none")
def test_same_answers_as_the_v1_devices_cgroup(rules):
    program = df.build(rules)
    for dev_type, major, minor, access in itertools.product((B, C), MAJORS, MINORS, range(1, 8)):
        want = v1_allows(rules, dev_type, major, minor, access)
        assert run(program, dev_type, major, minor, access) == int(want), (rules, dev_type, major, minor, access)


def test_an_unknown_type_is_refused_even_by_wildcards():
    """A device type the kernel might add later falls to the default: refused, except by `a` rules."""
    assert run(df.build(["c *:* rwm", "b *:* rwm"]), 3, 1, 3, R) == 0
    assert run(df.build(["a *:* rwm"]), 3, 1, 3, R) == 1


def test_rule_blocks_are_as_short_as_the_rule():
    """A wildcard adds no comparison, rwm needs no access check: 6 loads + 2 to return 0, per rule
    one test of the type, 3 of the access (unless rwm), one per number given, 2 to return 1."""
    size = lambda rules: len(df.build(rules)) // 8  # noqa: E731
    assert size([]) == 8
    assert size(["a *:* rwm"]) == 8 + 2
    assert size(["c 1:3 rwm"]) == 8 + 1 + 2 + 2
    assert size(["b *:* m"]) == 8 + 1 + 3 + 2


@pytest.mark.parametrize("bad", ["x 1:3 rwm", "c 1:3", "c 1-3 rwm", "c a:3 rwm", "c 1:3 rx", "c 1:3 ",
                                 "c 1:-3 rwm", f"c {1 << 31}:0 r", "c 1:3:4 rwm", "c 1:3 rwm extra"])
def test_bad_rules_are_refused(bad):
    with pytest.raises(df.RuleError):
        df.build([bad])


def test_a_alone_means_everything():
    assert df.parse_rule("a") == df.parse_rule("a *:* rwm") == (None, None, None, df.ACC_ALL)
