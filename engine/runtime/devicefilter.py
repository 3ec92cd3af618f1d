"""The device allow-list as an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE): what the v1 devices cgroup
enforces, for cgroup v2, which has no devices controller. Stdlib only (it runs in the monitor).

The kernel runs the program on every mknod and open of a device node by a process of the cgroup
(and of its descendants) with a ``struct bpf_cgroup_dev_ctx``::

    u32 access_type   the device type in the low 16 bits (1 block, 2 char), the access in the high
                      16 bits (1 mknod, 2 read, 4 write; one open may ask read and write at once)
    u32 major
    u32 minor

and allows the access when it returns 1, refuses it (EPERM) when it returns 0. Our rules are the
v1 devices.allow lines of an allow-list ("c 1:3 rwm", "b *:* m", "a *:* rwm"): everything is refused
but what one rule allows in full, as the v1 controller does after ``devices.deny a``.
"""
from __future__ import annotations

import struct

DEV_BLOCK = 1  # BPF_DEVCG_DEV_BLOCK
DEV_CHAR = 2  # BPF_DEVCG_DEV_CHAR
ACC_MKNOD = 1  # BPF_DEVCG_ACC_MKNOD
ACC_READ = 2
ACC_WRITE = 4
ACC_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE
TYPES = {"b": DEV_BLOCK, "c": DEV_CHAR, "a": None}
ACCESS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}

# eBPF opcodes (class | operation | source), from linux/bpf_common.h and linux/bpf.h
LDX_MEM_W = 0x61  # dst = *(u32 *)(src + off)
ALU32_AND_K = 0x54  # dst = (u32)(dst & imm)
ALU32_RSH_K = 0x74  # dst = (u32)(dst >> imm)
ALU32_MOV_K = 0xB4  # dst = (u32)imm
ALU32_MOV_X = 0xBC  # dst = (u32)src
JMP_JNE_K = 0x55  # if dst != imm: pc += off
JMP_JNE_X = 0x5D  # if dst != src: pc += off
JMP_EXIT = 0x95  # return r0
R0, R1, R2, R3, R4, R5 = range(6)
MAX_NUMBER = (1 << 31) - 1  # a major or minor compared as a sign-extended imm32


class RuleError(ValueError):
    pass


def parse_rule(text: str) -> tuple[int | None, int | None, int | None, int]:
    """One devices.allow line: "TYPE MAJOR:MINOR ACCESS" (``a`` alone means "a *:* rwm") as (type,
    major, minor, access): DEV_BLOCK, DEV_CHAR or None ("a": both); a number or None ("*": any); the
    ACC_* bits. A plain tuple: typing.NamedTuple would load typing, re and enum into the monitor."""
    fields = text.split()
    if fields == ["a"]:
        fields = ["a", "*:*", "rwm"]
    if len(fields) != 3 or fields[0] not in TYPES or fields[1].count(":") != 1:
        raise RuleError(f"device rule {text!r}: use 'TYPE MAJOR:MINOR ACCESS' (TYPE a, b or c)")
    numbers = []
    for part in fields[1].split(":"):
        if part == "*":
            numbers.append(None)
        elif part.isdigit() and int(part) <= MAX_NUMBER:
            numbers.append(int(part))
        else:
            raise RuleError(f"device rule {text!r}: {part!r} is neither a device number nor *")
    if not fields[2] or not set(fields[2]) <= set(ACCESS):
        raise RuleError(f"device rule {text!r}: the access is made of r, w and m")
    access = 0
    for letter in fields[2]:
        access |= ACCESS[letter]
    return TYPES[fields[0]], numbers[0], numbers[1], access


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One struct bpf_insn: u8 code, u8 dst_reg:4 src_reg:4 (dst in the low nibble), s16 off, s32 imm."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _rule_block(rule: tuple[int | None, int | None, int | None, int]) -> list[tuple[int, int, int, int, int]]:
    """The checks of one rule as (code, dst, src, off, imm), each refusal jumping to the block's end
    (the off -1 is resolved once the block's length is known), then `return 1`."""
    dev_type, major, minor, access = rule
    out: list[tuple[int, int, int, int, int]] = []
    if dev_type is not None:
        out.append((JMP_JNE_K, R2, 0, -1, dev_type))
    if access != ACC_ALL:  # every access bit asked for must be allowed: (asked & allowed) == asked
        out += [(ALU32_MOV_X, R1, R3, 0, 0), (ALU32_AND_K, R1, 0, 0, access), (JMP_JNE_X, R1, R3, -1, 0)]
    if major is not None:
        out.append((JMP_JNE_K, R4, 0, -1, major))
    if minor is not None:
        out.append((JMP_JNE_K, R5, 0, -1, minor))
    out += [(ALU32_MOV_K, R0, 0, 0, 1), (JMP_EXIT, 0, 0, 0, 0)]
    end = len(out)
    return [(c, d, s, (end - i - 1) if o == -1 else o, imm) for i, (c, d, s, o, imm) in enumerate(out)]


def build(rules: list[str] | tuple[str, ...]) -> bytes:
    """The program (8 bytes per instruction) that allows what *rules* allow and refuses the rest.

    r2 = type, r3 = access, r4 = major, r5 = minor; then one block per rule that returns 1 when the
    access matches it; falling off the last block returns 0. r1 (the context) is free after the loads.
    """
    code = [insn(LDX_MEM_W, R2, R1, 0), insn(ALU32_AND_K, R2, imm=0xFFFF),
            insn(LDX_MEM_W, R3, R1, 0), insn(ALU32_RSH_K, R3, imm=16),
            insn(LDX_MEM_W, R4, R1, 4), insn(LDX_MEM_W, R5, R1, 8)]
    for text in rules:
        code += [insn(*fields) for fields in _rule_block(parse_rule(text))]
    code += [insn(ALU32_MOV_K, R0, imm=0), insn(JMP_EXIT)]
    return b"".join(code)
