"""The default seccomp filter: an allow-list with the policy of Docker's default profile, compiled here
into a classic BPF program (no libseccomp). Stdlib only.

What a container may call:
- ALWAYS: the ordinary calls of a process (files, memory, signals, sockets, IPC, time, scheduling).
- BY_CAPABILITY: calls that only make sense with a capability are allowed when the container holds it
  (mount and unshare with SYS_ADMIN, init_module with SYS_MODULE, ptrace's relatives with SYS_PTRACE...).
- with conditions on the arguments: clone without namespace flags (clone3, whose flags are in memory,
  fails with ENOSYS so C libraries fall back to clone), socket for every family but AF_ALG and AF_VSOCK,
  personality only for the few values programs use (not ADDR_NO_RANDOMIZE: no turning ASLR off).
- ptrace, process_vm_readv and process_vm_writev from Linux 4.8 on (before it, ptrace could bypass seccomp).
Everything else fails with EPERM; calls numbered above the newest one the policy names fail with ENOSYS,
so a C library falls back to an older call instead of taking EPERM for an answer (as runc does).
Only x86_64 system calls are numbered here: calls through another ABI (i386 int 0x80, x32) are refused as
a whole, and on other machines the filter is not installed (engine/runtime/confine.py says so).
"""
from __future__ import annotations

import os
import struct

from engine.runtime.seccomp_x86_64 import NUMBERS

AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000
EPERM = 1
ENOSYS = 38
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000

# classic BPF opcodes
LD_W_ABS = 0x20
JA = 0x05
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
RET_K = 0x06

NR_OFFSET, ARCH_OFFSET, ARG0_OFFSET = 0, 4, 16  # struct seccomp_data; ARG0 is the low half on little-endian

ALWAYS = frozenset("""
accept accept4 access adjtimex alarm arch_prctl bind brk cachestat capget capset chdir chmod chown
clock_adjtime clock_getres clock_gettime clock_nanosleep close close_range connect copy_file_range creat
dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fallocate
fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchownat fcntl fdatasync fgetxattr flistxattr flock
fork fremovexattr fsetxattr fstat fstatfs fsync ftruncate futex futex_requeue futex_wait futex_waitv
futex_wake futimesat get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid geteuid
getgid getgroups getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
getresuid getrlimit getrusage getsid getsockname getsockopt gettid gettimeofday getuid getxattr getxattrat
inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents
io_pgetevents io_setup io_submit ioctl ioprio_get ioprio_set kill landlock_add_rule landlock_create_ruleset
landlock_restrict_self lchown lgetxattr link linkat listen listmount listxattr listxattrat llistxattr
lremovexattr lseek lsetxattr lstat madvise map_shadow_stack membarrier memfd_create memfd_secret mincore
mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap modify_ldt mprotect mq_getsetattr mq_notify mq_open
mq_timedreceive mq_timedsend mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock munlockall
munmap name_to_handle_at nanosleep newfstatat open openat openat2 pause pidfd_open pidfd_send_signal pipe
pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll prctl pread64 preadv preadv2 prlimit64 process_mrelease
pselect6 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recvfrom recvmmsg recvmsg
remap_file_pages removexattr removexattrat rename renameat renameat2 restart_syscall rmdir rseq
rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr
sched_getparam sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop sendfile sendmmsg sendmsg
sendto set_robust_list set_thread_area set_tid_address setfsgid setfsuid setgid setgroups setitimer
setpgid setpriority setregid setresgid setresuid setreuid setrlimit setsid setsockopt setuid setxattr
setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 socketpair splice stat statfs
statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
timer_delete timer_getoverrun timer_gettime timer_settime timerfd_create timerfd_gettime timerfd_settime
times tkill truncate umask uname unlink unlinkat uretprobe utime utimensat utimes vfork vmsplice wait4
waitid write writev
""".split())

BY_CAPABILITY: dict[str, tuple[str, ...]] = {
    "SYS_ADMIN": ("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                  "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount",
                  "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
                  "setdomainname", "sethostname", "setns", "syslog", "umount2", "unshare"),
    "DAC_READ_SEARCH": ("open_by_handle_at",),
    "SYS_BOOT": ("reboot",),
    "SYS_CHROOT": ("chroot",),
    "SYS_MODULE": ("init_module", "finit_module", "delete_module"),
    "SYS_PACCT": ("acct",),
    "SYS_PTRACE": ("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"),
    "SYS_RAWIO": ("iopl", "ioperm"),
    "SYS_TIME": ("settimeofday", "clock_settime"),
    "SYS_TTY_CONFIG": ("vhangup",),
    "SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
    "SYSLOG": ("syslog",),
    "BPF": ("bpf",),
    "PERFMON": ("perf_event_open",),
}

TRACING = ("ptrace", "process_vm_readv", "process_vm_writev")  # for everyone from Linux 4.8 on
TRACING_KERNEL = (4, 8)
CLONE_NS_FLAGS = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
PERSONALITIES = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)  # PER_LINUX, STICKY_TIMEOUTS, UNAME26, both, query
REFUSED_FAMILIES = (38, 40)  # socket(AF_ALG) and socket(AF_VSOCK)

# what a call gets: ("ret", value) or a check of its arguments, ("clone",), ("socket",), ("personality",)
ALLOW = ("ret", RET_ALLOW)
DENY = ("ret", RET_ERRNO | EPERM)
NOSYS = ("ret", RET_ERRNO | ENOSYS)
NEWEST = max(NUMBERS[n] for n in ALWAYS | {c for calls in BY_CAPABILITY.values() for c in calls})


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """(major, minor) of a release like "6.1.0-18-amd64". No `re`: this runs in a container's PID 1
    after pivot_root, where a module not imported yet can no longer be found."""
    parts = (release or os.uname().release).split(".")
    digits = [p[:len(p) - len(p.lstrip("0123456789"))] for p in parts[:2]]
    if len(digits) < 2 or not all(digits) or digits[0] != parts[0]:
        return (0, 0)
    return (int(digits[0]), int(digits[1]))


def allowed_calls(cap_names, kernel: tuple[int, int] | None = None) -> set[str]:
    """The calls a container holding *cap_names* may make without condition on their arguments."""
    have = set(cap_names)
    out = set(ALWAYS)
    for cap, calls in BY_CAPABILITY.items():
        if cap in have:
            out.update(calls)
    if (kernel or kernel_version()) >= TRACING_KERNEL:
        out.update(TRACING)
    return out


def verdicts(cap_names, kernel: tuple[int, int] | None = None) -> dict[int, tuple]:
    """What each x86_64 call number up to NEWEST gets (numbers absent here are refused with EPERM)."""
    allowed = allowed_calls(cap_names, kernel)
    out = {NUMBERS[name]: ALLOW for name in allowed}
    if "clone" not in allowed:
        out[NUMBERS["clone"]] = ("clone",)
        out[NUMBERS["clone3"]] = NOSYS
    out[NUMBERS["socket"]] = ("socket",)
    out[NUMBERS["personality"]] = ("personality",)
    return out


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _ret(value: int) -> list[bytes]:
    return [_insn(RET_K, 0, 0, value)]


def _leaf(action: tuple) -> list[bytes]:
    allow, deny = RET_ALLOW, RET_ERRNO | EPERM
    if action[0] == "ret":
        return _ret(action[1])
    load = _insn(LD_W_ABS, 0, 0, ARG0_OFFSET)
    if action[0] == "clone":  # threads and forks, no new namespaces
        return [load, _insn(JSET_K, 1, 0, CLONE_NS_FLAGS), *_ret(allow), *_ret(deny)]
    if action[0] == "socket":
        a, b = REFUSED_FAMILIES
        return [load, _insn(JEQ_K, 2, 0, a), _insn(JEQ_K, 1, 0, b), *_ret(allow), *_ret(deny)]
    if action[0] == "personality":
        n = len(PERSONALITIES)
        checks = [_insn(JEQ_K, n - i, 0, value) for i, value in enumerate(PERSONALITIES)]
        return [load, *checks, *_ret(deny), *_ret(allow)]
    raise ValueError(f"unknown seccomp action {action!r}")


def _ranges(table: dict[int, tuple]) -> list[tuple[int, tuple]]:
    """[(first number, action)] over every 32-bit number, neighbours with the same action merged."""
    out: list[tuple[int, tuple]] = []
    for nr in range(NEWEST + 1):
        action = table.get(nr, DENY)
        if not out or out[-1][1] != action or action[0] != "ret":
            out.append((nr, action))
    out += [(NEWEST + 1, NOSYS), (X32_BIT, DENY)]  # x32 numbers: another ABI, refused as a whole
    return out


def _tree(ranges: list[tuple[int, tuple]]) -> list[bytes]:
    """A binary search on the call number (in the accumulator) down to each range's action."""
    if len(ranges) == 1:
        return _leaf(ranges[0][1])
    mid = len(ranges) // 2
    low, high = _tree(ranges[:mid]), _tree(ranges[mid:])
    pivot = ranges[mid][0]
    if len(low) <= 255:
        return [_insn(JGE_K, len(low), 0, pivot), *low, *high]
    return [_insn(JGE_K, 0, 1, pivot), _insn(JA, 0, 0, len(low)), *low, *high]  # too far for a short jump


def program(cap_names, kernel: tuple[int, int] | None = None) -> bytes:
    """The filter for a container holding *cap_names* (on this machine's kernel unless *kernel* is given)."""
    head = [
        _insn(LD_W_ABS, 0, 0, ARCH_OFFSET),
        _insn(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        *_ret(RET_ERRNO | EPERM),  # i386 (int 0x80) and any other ABI
        _insn(LD_W_ABS, 0, 0, NR_OFFSET),
    ]
    return b"".join(head + _tree(_ranges(verdicts(cap_names, kernel))))
