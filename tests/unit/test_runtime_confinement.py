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
    assert len(insns) <= 4096  # BPF_MAXINSNS
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == seccomp.LD_W_ABS:
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code == seccomp.RET_K:
            return k
        elif code == seccomp.JA:
            pc += 1 + k
        else:
            taken = {seccomp.JEQ_K: acc == k, seccomp.JGE_K: acc >= k, seccomp.JSET_K: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)


DENY = seccomp.RET_ERRNO | seccomp.EPERM
NOSYS = seccomp.RET_ERRNO | seccomp.ENOSYS
ALLOW = seccomp.RET_ALLOW
NR = seccomp.NUMBERS
DEFAULT = caps.names_of(0xA80425FB)


def test_every_call_the_policy_names_is_an_x86_64_call():
    named = set(seccomp.ALWAYS) | {c for calls in seccomp.BY_CAPABILITY.values() for c in calls}
    assert named - set(NR) == set()
    assert set(seccomp.BY_CAPABILITY) <= set(caps.NAMES)


def test_default_filter_is_an_allow_list_like_dockers():
    prog = seccomp.program(DEFAULT, kernel=(6, 1))
    for name in ("mount", "umount2", "init_module", "finit_module", "delete_module", "kexec_load",
                 "kexec_file_load", "reboot", "swapon", "swapoff", "pivot_root", "unshare", "setns", "keyctl",
                 "add_key", "request_key", "open_by_handle_at", "fsopen", "fsmount", "open_tree", "move_mount",
                 "bpf", "perf_event_open", "fanotify_init", "userfaultfd", "clock_settime", "settimeofday",
                 "acct", "lookup_dcookie", "quotactl", "sethostname", "setdomainname", "syslog", "iopl",
                 "ioperm", "vhangup", "kcmp", "pidfd_getfd", "process_madvise", "mbind", "set_mempolicy",
                 "move_pages", "migrate_pages", "io_uring_setup", "io_uring_enter", "uselib", "ustat",
                 "sysfs", "_sysctl", "nfsservctl", "create_module", "tuxcall", "vserver"):
        assert run_filter(prog, NR[name]) == DENY, name
    for name in ("read", "write", "openat", "execve", "fork", "vfork", "wait4", "chroot", "mknod",
                 "name_to_handle_at", "arch_prctl", "seccomp", "prctl", "clock_adjtime", "statx", "rseq",
                 "close_range", "pidfd_open", "landlock_create_ruleset", "io_setup",
                 "ptrace", "process_vm_readv", "process_vm_writev"):
        assert run_filter(prog, NR[name]) == ALLOW, name
    # clone: threads and forks pass, new namespaces (a user namespace especially) do not; clone3 -> ENOSYS
    assert run_filter(prog, NR["clone"], arg0=0x3D0F00) == ALLOW  # pthread_create's flags
    assert run_filter(prog, NR["clone"], arg0=0x01200011) == ALLOW  # fork()'s flags
    for flag in (0x10000000, 0x20000000, 0x40000000, 0x00020000, 0x04000000, 0x08000000, 0x02000000):
        assert run_filter(prog, NR["clone"], arg0=flag | 17) == DENY, hex(flag)
    assert run_filter(prog, NR["clone3"]) == NOSYS
    # socket: every family but AF_ALG (38) and AF_VSOCK (40)
    for family in (1, 2, 10, 16, 17, 39, 41, 45):
        assert run_filter(prog, NR["socket"], arg0=family) == ALLOW, family
    for family in (38, 40):
        assert run_filter(prog, NR["socket"], arg0=family) == DENY, family
    # personality: the values programs use, not ADDR_NO_RANDOMIZE (ASLR off) nor READ_IMPLIES_EXEC
    for persona in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF):
        assert run_filter(prog, NR["personality"], arg0=persona) == ALLOW, hex(persona)
    for persona in (0x0040000, 0x0400000, 0x0040008, 1):
        assert run_filter(prog, NR["personality"], arg0=persona) == DENY, hex(persona)
    # unknown and newer numbers: ENOSYS (a C library falls back); other ABIs: refused as a whole
    for nr in (seccomp.NEWEST + 1, NR["file_setattr"], 1000, 0x3FFFFFFF):
        assert run_filter(prog, nr) == NOSYS, nr
    assert run_filter(prog, 0, arch=0x40000003) == DENY  # i386
    assert run_filter(prog, 0x40000000 + NR["mount"]) == DENY  # x32
    assert run_filter(prog, 0x40000000) == DENY
    assert run_filter(prog, -1) == DENY  # (what a tracer sets to skip a call)


def test_every_number_gets_the_policys_verdict():
    """The compiled tree agrees with the table for every number (no off-by-one at a range edge)."""
    for names in (DEFAULT, caps.names_of(caps.host_mask()), []):
        prog = seccomp.program(names, kernel=(6, 1))
        table = seccomp.verdicts(names, kernel=(6, 1))
        for nr in range(seccomp.NEWEST + 3):
            action = table.get(nr, seccomp.DENY if nr <= seccomp.NEWEST else seccomp.NOSYS)
            if action[0] == "ret":
                assert run_filter(prog, nr) == action[1], nr


def test_tracing_calls_need_linux_4_8_or_sys_ptrace():
    old = seccomp.program(DEFAULT, kernel=(4, 4))
    for name in ("ptrace", "process_vm_readv", "process_vm_writev"):
        assert run_filter(old, NR[name]) == DENY, name
    traced = seccomp.program([*DEFAULT, "SYS_PTRACE"], kernel=(4, 4))
    for name in ("ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise"):
        assert run_filter(traced, NR[name]) == ALLOW, name
    assert seccomp.kernel_version("6.18.44-fc-v1272") == (6, 18)
    assert seccomp.kernel_version("4.8.0") == (4, 8)
    assert seccomp.kernel_version("5.15rc1") == (5, 15)


def test_capabilities_lift_their_calls_like_dockers_profile():
    prog = seccomp.program(caps.names_of(0xA80425FB | 1 << caps.BIT["SYS_ADMIN"] | 1 << caps.BIT["SYS_MODULE"]))
    for name in ("mount", "umount2", "unshare", "setns", "init_module", "fanotify_init", "sethostname", "bpf"):
        assert run_filter(prog, NR[name]) == ALLOW, name
    assert run_filter(prog, NR["clone"], arg0=0x10000000) == ALLOW
    assert run_filter(prog, NR["clone3"]) == ALLOW
    assert run_filter(prog, NR["reboot"]) == DENY  # reboot still needs SYS_BOOT
    assert run_filter(prog, NR["keyctl"]) == DENY  # keyctl: never
    assert run_filter(prog, NR["personality"], arg0=0x0040000) == DENY  # not lifted by any capability
    dropped = seccomp.program([c for c in DEFAULT if c != "SYS_CHROOT"])
    assert run_filter(dropped, NR["chroot"]) == DENY  # cap_drop SYS_CHROOT takes chroot away too
    for cap, name in (("SYS_TIME", "clock_settime"), ("SYS_BOOT", "reboot"), ("DAC_READ_SEARCH", "open_by_handle_at"),
                      ("SYSLOG", "syslog"), ("BPF", "bpf"), ("PERFMON", "perf_event_open"), ("SYS_NICE", "mbind")):
        assert run_filter(seccomp.program([*DEFAULT, cap]), NR[name]) == ALLOW, cap


def test_memory_swap_follows_docker():
    assert memory_swap_total({"memory": 100}) == 200  # memory alone: as much swap again
    assert memory_swap_total({"memory": 100, "memory_swap": -1}) == -1
    assert memory_swap_total({"memory": 100, "memory_swap": 150}) == 150
    assert memory_swap_total({}) is None
