"""What the running kernel offers, read straight from /sys and /proc (independently of the engine's own
probe), so that tests check the limit where the kernel has the knob and Docker's warning where not."""
from __future__ import annotations

import os
import socket

CGROUP = "/sys/fs/cgroup"


def cgroup_v2() -> bool:
    return os.path.exists(f"{CGROUP}/cgroup.controllers")


def v2_controllers() -> set[str]:
    try:
        with open(f"{CGROUP}/cgroup.controllers") as f:
            return set(f.read().split())
    except OSError:
        return set()


def _bfq() -> bool:
    if os.path.isdir("/sys/module/bfq"):
        return True
    for name in os.listdir("/sys/block"):
        try:
            with open(f"/sys/block/{name}/queue/scheduler") as f:
                if "bfq" in f.read():
                    return True
        except OSError:
            pass
    return False


def blkio_weight() -> bool:
    """A cgroup I/O weight can be set: BFQ (or CFQ's blkio.weight, or v2's io.cost)."""
    if cgroup_v2():
        return "io" in v2_controllers() and (os.path.exists(f"{CGROUP}/io.cost.qos") or _bfq())
    return any(os.path.exists(f"{CGROUP}/blkio/{n}") for n in ("blkio.bfq.weight", "blkio.weight"))


def swap_accounting() -> bool:
    """Memory plus swap can be limited (v1: memory.memsw.*; v2: memory.swap.max in a child cgroup)."""
    if not cgroup_v2():
        return os.path.exists(f"{CGROUP}/memory/memory.memsw.limit_in_bytes")
    for entry in os.scandir(CGROUP):
        if entry.is_dir() and os.path.exists(f"{entry.path}/memory.max"):
            return os.path.exists(f"{entry.path}/memory.swap.max")
    return False


def controller(name: str) -> bool:
    """A cgroup controller (memory, pids, cpuset, cpu, io/blkio) is there for containers."""
    if cgroup_v2():
        return name in v2_controllers()
    return os.path.exists(f"{CGROUP}/{name}/cgroup.procs")


def ipv6() -> bool:
    """IPv6 is usable on loopback: the kernel has it and it is not switched off."""
    try:
        with open("/proc/sys/net/ipv6/conf/all/disable_ipv6") as f:
            if f.read().strip() != "0":
                return False
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def needs_ipv6(test):
    """For a test whose subject is IPv6 itself (a kernel without it has nothing of it to test)."""
    import pytest

    return pytest.mark.skipif(not ipv6(), reason="this kernel has IPv6 switched off or built out")(test)
