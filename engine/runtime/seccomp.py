"""The default seccomp filter: a deny-list of the system calls Docker's default profile refuses, as a
classic BPF program built here (no libseccomp). Stdlib only.

Like Docker's profile, a call is let through when the container holds the capability that makes it
legitimate (mount with SYS_ADMIN, init_module with SYS_MODULE...). Refused calls fail with EPERM;
clone3 fails with ENOSYS so C libraries fall back to clone, whose namespace flags are checked.
Only x86_64 system calls are numbered here: calls through another ABI (i386 int 0x80, x32) are
refused as a whole.
"""
from __future__ import annotations

import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000
EPERM = 1
ENOSYS = 38
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000

# BPF opcodes
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
RET_K = 0x06

CLONE_NS_FLAGS = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
SYS_CLONE = 56
SYS_CLONE3 = 435

# x86_64 numbers of refused calls, by the capability that allows them (None: always refused)
DENIED: dict[str | None, dict[str, int]] = {
    "SYS_ADMIN": {"mount": 165, "umount2": 166, "pivot_root": 155, "unshare": 272, "setns": 308, "swapon": 167,
                  "swapoff": 168, "quotactl": 179, "quotactl_fd": 443, "lookup_dcookie": 212, "open_tree": 428,
                  "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
                  "mount_setattr": 442, "bpf": 321, "perf_event_open": 298},
    "SYS_MODULE": {"init_module": 175, "finit_module": 313, "delete_module": 176, "create_module": 174,
                   "query_module": 178, "get_kernel_syms": 177},
    "SYS_BOOT": {"reboot": 169, "kexec_load": 246, "kexec_file_load": 320},
    "SYS_TIME": {"settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305},
    "SYS_PACCT": {"acct": 163},
    "SYS_RAWIO": {"iopl": 172, "ioperm": 173},
    "SYS_NICE": {"get_mempolicy": 239, "set_mempolicy": 238, "mbind": 237, "move_pages": 279},
    "SYS_PTRACE": {"kcmp": 312, "pidfd_getfd": 438},
    "DAC_READ_SEARCH": {"open_by_handle_at": 304},
    "SYS_TTY_CONFIG": {"vhangup": 153},
    "SYSLOG": {"syslog": 103},
    None: {"uselib": 134, "ustat": 136, "sysfs": 139, "_sysctl": 156, "nfsservctl": 180, "keyctl": 250,
           "add_key": 248, "request_key": 249, "userfaultfd": 323, "io_uring_setup": 425,
           "io_uring_enter": 426, "io_uring_register": 427},
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def denied_calls(cap_names) -> dict[str, int]:
    have = set(cap_names)
    out: dict[str, int] = {}
    for cap, calls in DENIED.items():
        if cap is None or cap not in have:
            out.update(calls)
    return out


def program(cap_names) -> bytes:
    """The filter for a container holding *cap_names*."""
    denied = sorted(set(denied_calls(cap_names).values()))
    guard_clone = "SYS_ADMIN" not in set(cap_names)
    deny = _insn(RET_K, 0, 0, RET_ERRNO | EPERM)
    allow = _insn(RET_K, 0, 0, RET_ALLOW)
    body: list[bytes] = []
    # one `jeq nr` per refused call, each jumping to the shared deny at the end
    n = len(denied)
    for i, nr in enumerate(denied):
        body.append(_insn(JEQ_K, n - i + (5 if guard_clone else 0), 0, nr))
    if guard_clone:
        body += [
            _insn(JEQ_K, 0, 1, SYS_CLONE3),  # clone3 passes its flags in memory: make libc use clone
            _insn(RET_K, 0, 0, RET_ERRNO | ENOSYS),
            _insn(JEQ_K, 0, 2, SYS_CLONE),
            _insn(LD_W_ABS, 0, 0, 16),  # low 32 bits of the first argument: the flags
            _insn(JSET_K, 1, 0, CLONE_NS_FLAGS),
        ]
    head = [
        _insn(LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _insn(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        deny,
        _insn(LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        _insn(JGE_K, len(body) + 1, 0, X32_BIT),
    ]
    return b"".join(head + body + [allow, deny])
