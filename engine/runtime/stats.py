"""One sample of a running container's resource use, read from its cgroups and /proc (`stats`)."""
from __future__ import annotations

import os
import time

from engine.runtime.cgroups import Cgroup, is_v2


def _read(d: str | None, name: str) -> str:
    if not d:
        return ""
    try:
        with open(os.path.join(d, name)) as f:
            return f.read()
    except OSError:
        return ""


def _keyed(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if v.strip().lstrip("-").isdigit():
            out[k] = int(v)
    return out


def _int(text: str, default: int = 0) -> int:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else default


def host_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def network_io(pid: int) -> tuple[int, int]:
    """Bytes received and sent over the container's interfaces (loopback excluded)."""
    rx = tx = 0
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.readlines()[2:]
    except OSError:
        return 0, 0
    for line in lines:
        name, _, data = line.partition(":")
        fields = data.split()
        if name.strip() != "lo" and len(fields) >= 9:
            rx += int(fields[0])
            tx += int(fields[8])
    return rx, tx


def sample(cgroup: Cgroup, pid: int) -> dict:
    """CPU time used (ns), memory used and its limit, pids, network and block I/O, at monotonic time."""
    total = host_memory()
    if is_v2():
        d = cgroup.dirs[0] if cgroup.dirs else None
        cpu_ns = _keyed(_read(d, "cpu.stat")).get("usage_usec", 0) * 1000
        mem_stat = _keyed(_read(d, "memory.stat"))
        usage = _int(_read(d, "memory.current")) - mem_stat.get("inactive_file", 0)
        limit = _int(_read(d, "memory.max"), total)
        pids = _int(_read(d, "pids.current"))
        blk_read = blk_write = 0
        for line in _read(d, "io.stat").splitlines():
            for item in line.split()[1:]:
                k, _, v = item.partition("=")
                blk_read += int(v) if k == "rbytes" else 0
                blk_write += int(v) if k == "wbytes" else 0
    else:
        cpu_ns = _int(_read(cgroup.controller("cpuacct"), "cpuacct.usage"))
        mem = cgroup.controller("memory")
        mem_stat = _keyed(_read(mem, "memory.stat"))
        usage = _int(_read(mem, "memory.usage_in_bytes")) - mem_stat.get("total_inactive_file", 0)
        limit = _int(_read(mem, "memory.limit_in_bytes"), total)
        pids = _int(_read(cgroup.controller("pids"), "pids.current"))
        blk_read = blk_write = 0
        for line in _read(cgroup.controller("blkio"), "blkio.throttle.io_service_bytes_recursive").splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[1] == "Read":
                blk_read += int(fields[2])
            elif len(fields) == 3 and fields[1] == "Write":
                blk_write += int(fields[2])
    rx, tx = network_io(pid)
    return {"time_ns": time.monotonic_ns(), "cpu_ns": cpu_ns, "memory_usage": max(usage, 0),
            "memory_limit": min(limit, total) if total else limit, "pids": pids, "net_rx": rx, "net_tx": tx,
            "block_read": blk_read, "block_write": blk_write}
