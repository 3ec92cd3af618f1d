"""Capability sets, the seccomp program and option checks, without starting containers."""
from __future__ import annotations

import struct

import pytest

from engine.runtime import caps, seccomp
from engine.runtime.resources import memory_swap_total


def test_docker_default_set_is_a80425fb():
    assert caps.resolve([], []) == 0xA80425FB


@pytest.mark.parametrize("add, drop, want", [
    (["NET_ADMIN"], [], 0xA80425FB | 1 << 12),
    (["cap_net_admin"], ["net_raw"], (0xA80425FB | 1 << 12) & ~(1 << 13)),
    ([], ["ALL"], 0),
    (["CHOWN"], ["ALL"], 1),
    (["SYS_ADMIN"], ["SYS_ADMIN"], 0xA80425FB),  # dropping wins
])
def test_cap_add_and_drop(add, drop, want):
    assert caps.resolve(add, drop) == want & caps.host_mask()


def test_all_and_privileged_are_the_hosts_set():
    assert caps.resolve(["ALL"], []) == caps.host_mask()
    assert caps.resolve(["ALL"], ["NET_RAW"]) == caps.host_mask() & ~(1 << 13)
    assert caps.resolve([], [], privileged=True) == caps.host_mask()


def test_unknown_capability():
    with pytest.raises(caps.CapabilityError):
        caps.resolve(["FLY"], [])


def run_filter(prog: bytes, nr: int, arch: int = seccomp.AUDIT_ARCH_X86_64, arg0: int = 0) -> int:
    """A small classic-BPF interpreter for the instructions the program uses."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    insns = [struct.unpack("=HBBI", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == seccomp.LD_W_ABS:
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code == seccomp.RET_K:
            return k
        else:
            taken = {seccomp.JEQ_K: acc == k, seccomp.JGE_K: acc >= k, seccomp.JSET_K: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)


DENY = seccomp.RET_ERRNO | seccomp.EPERM


def test_default_filter_refuses_the_dangerous_calls_and_allows_the_rest():
    prog = seccomp.program(caps.names_of(0xA80425FB))
    for name, nr in (("mount", 165), ("umount2", 166), ("init_module", 175), ("finit_module", 313),
                     ("kexec_load", 246), ("reboot", 169), ("swapon", 167), ("pivot_root", 155),
                     ("unshare", 272), ("setns", 308), ("keyctl", 250), ("open_by_handle_at", 304),
                     ("fsopen", 430), ("bpf", 321)):
        assert run_filter(prog, nr) == DENY, name
    for name, nr in (("read", 0), ("write", 1), ("openat", 257), ("execve", 59), ("fork", 57), ("wait4", 61),
                     ("sethostname", 170), ("ptrace", 101)):
        assert run_filter(prog, nr) == seccomp.RET_ALLOW, name
    # clone: threads and forks pass, new namespaces (a user namespace especially) do not; clone3 -> ENOSYS
    assert run_filter(prog, 56, arg0=0x3D0F00) == seccomp.RET_ALLOW  # pthread_create's flags
    assert run_filter(prog, 56, arg0=0x10000000 | 17) == DENY  # CLONE_NEWUSER
    assert run_filter(prog, 435) == seccomp.RET_ERRNO | seccomp.ENOSYS
    # another ABI's numbers would slip past a deny-list: refused as a whole
    assert run_filter(prog, 0, arch=0x40000003) == DENY  # i386
    assert run_filter(prog, 0x40000000 + 165) == DENY  # x32


def test_capabilities_lift_their_calls_like_dockers_profile():
    prog = seccomp.program(caps.names_of(0xA80425FB | 1 << caps.BIT["SYS_ADMIN"] | 1 << caps.BIT["SYS_MODULE"]))
    assert run_filter(prog, 165) == seccomp.RET_ALLOW  # mount
    assert run_filter(prog, 272) == seccomp.RET_ALLOW  # unshare
    assert run_filter(prog, 175) == seccomp.RET_ALLOW  # init_module
    assert run_filter(prog, 56, arg0=0x10000000) == seccomp.RET_ALLOW
    assert run_filter(prog, 169) == DENY  # reboot still needs SYS_BOOT
    assert run_filter(prog, 250) == DENY  # keyctl: never


def test_memory_swap_follows_docker():
    assert memory_swap_total({"memory": 100}) == 200  # memory alone: as much swap again
    assert memory_swap_total({"memory": 100, "memory_swap": -1}) == -1
    assert memory_swap_total({"memory": 100, "memory_swap": 150}) == 150
    assert memory_swap_total({}) is None
