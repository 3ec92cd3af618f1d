"""What confines the container's process itself, applied between setup and exec: resource limits,
the capability bounding set, no_new_privs, the seccomp filter, the user switch and the final
capability sets. Stdlib only (runs in the container's first process and in every exec).

The *process* mapping of config.json carries:
    caps          bounding set as an int (absent: Docker's default set)
    seccomp       bool, default True: install the default filter
    no_new_privs  bool
    rlimits       {"nofile": [soft, hard], ...}
    oom_score_adj int or absent
"""
from __future__ import annotations

import os
import resource

from engine.runtime import caps as capabilities
from engine.runtime import syscalls as sc
from engine.runtime.seccomp import program

RLIMITS = {"core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
           "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
           "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
           "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
           "stack": "RLIMIT_STACK", "as": "RLIMIT_AS"}


class ConfineError(Exception):
    pass


def bounding_set(process: dict) -> int:
    caps = process.get("caps")
    return capabilities.mask_of(capabilities.DEFAULT) if caps is None else int(caps)


def set_rlimits(limits: dict) -> None:
    for name, (soft, hard) in (limits or {}).items():
        which = getattr(resource, RLIMITS[name])
        try:
            resource.setrlimit(which, (int(soft), int(hard)))
        except (ValueError, OSError) as e:
            cur = resource.getrlimit(which)
            raise ConfineError(f"cannot set ulimit {name}={soft}:{hard} (this host allows at most "
                               f"{cur[1]}): {e}") from None


def before_user(process: dict) -> None:
    """Still root with every capability: limits, bounding set, no_new_privs, seccomp."""
    set_rlimits(process.get("rlimits") or {})
    if process.get("oom_score_adj") is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(int(process["oom_score_adj"])))
    keep = bounding_set(process)
    last = len(capabilities.NAMES)
    for bit in range(last):
        if not keep >> bit & 1:
            try:
                sc.prctl(sc.PR_CAPBSET_DROP, bit)
            except OSError as e:
                if e.errno != 22:  # EINVAL: a capability this kernel does not have
                    raise
    if process.get("no_new_privs"):
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    if process.get("seccomp", True) and os.uname().machine != "x86_64":
        os.write(2, b"note: the default seccomp filter knows only x86_64 system calls; running without it\n")
    elif process.get("seccomp", True):
        try:
            sc.seccomp_filter(program(capabilities.names_of(keep)))
        except OSError as e:
            if e.errno not in (22, 38):  # EINVAL/ENOSYS: a kernel without seccomp filters
                raise
            os.write(2, b"note: this kernel has no seccomp filters; running without the default profile\n")
    sc.prctl(sc.PR_SET_KEEPCAPS, 1)


def switch_user(uid: int, gid: int, groups: list[int]) -> None:
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)


def after_user(process: dict, uid: int) -> None:
    """The final sets: root keeps its bounding set effective (as Docker), other users hold nothing."""
    keep = bounding_set(process)
    sc.prctl(sc.PR_SET_KEEPCAPS, 0)
    try:
        sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass  # kernels before 4.3 have no ambient set
    if uid == 0:
        sc.capset(keep, keep, 0)
    else:
        sc.capset(0, 0, 0)
