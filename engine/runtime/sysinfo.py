"""Which resource settings this kernel can apply, and what a container gets when it cannot.

Docker's rule, followed here: a limit the kernel has no knob for is discarded with a warning and the
container runs with the rest (a missing BFQ scheduler, swap accounting switched off, a cgroup v2
controller not delegated). Only a setting whose loss would change what the program computes stays an
error: `cpus` without the CFS bandwidth controller (Docker refuses it too). Stdlib only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from engine.errors import InvalidArgument
from engine.runtime.cgroups import BASE


@dataclass(frozen=True)
class Support:
    """What the kernel offers, in Docker's sysinfo terms."""

    memory: bool = True
    swap: bool = True
    reservation: bool = True
    swappiness: bool = True
    oom_kill_disable: bool = True
    cpu_shares: bool = True
    cpu_cfs: bool = True
    cpuset: bool = True
    pids: bool = True
    blkio_weight: bool = True
    blkio_weight_device: bool = True
    blkio_throttle: bool = True


def _exists(*parts: str) -> bool:
    return os.path.exists(os.path.join(*parts))


def _bfq_loaded() -> bool:
    """BFQ registers its cgroup policy (the *.bfq.weight files) once it is loaded."""
    if os.path.isdir("/sys/module/bfq"):
        return True
    try:
        names = os.listdir("/sys/block")
    except OSError:
        return False
    for name in names:
        try:
            with open(f"/sys/block/{name}/queue/scheduler") as f:
                if "bfq" in f.read():
                    return True
        except OSError:
            continue
    return False


def probe_v1(base: str = BASE) -> Support:
    """cgroup v1: a controller counts when it is mounted, a knob when its file is in the hierarchy's root."""
    mem, cpu, blkio = (os.path.join(base, n) for n in ("memory", "cpu", "blkio"))
    has_mem = _exists(mem, "cgroup.procs")
    has_blkio = _exists(blkio, "cgroup.procs")
    return Support(
        memory=has_mem,
        swap=has_mem and _exists(mem, "memory.memsw.limit_in_bytes"),
        reservation=has_mem and _exists(mem, "memory.soft_limit_in_bytes"),
        swappiness=has_mem and _exists(mem, "memory.swappiness"),
        oom_kill_disable=has_mem and _exists(mem, "memory.oom_control"),
        cpu_shares=_exists(cpu, "cpu.shares"),
        cpu_cfs=_exists(cpu, "cpu.cfs_quota_us") and _exists(cpu, "cpu.cfs_period_us"),
        cpuset=_exists(base, "cpuset", "cgroup.procs"),
        pids=_exists(base, "pids", "cgroup.procs"),
        blkio_weight=has_blkio and (_exists(blkio, "blkio.bfq.weight") or _exists(blkio, "blkio.weight")),
        blkio_weight_device=has_blkio and (_exists(blkio, "blkio.bfq.weight_device")
                                           or _exists(blkio, "blkio.weight_device")),
        blkio_throttle=has_blkio and _exists(blkio, "blkio.throttle.read_bps_device"),
    )


def probe_v2(base: str = BASE, bfq: bool | None = None) -> Support:
    """cgroup v2: what the root offers its children (cgroup.controllers); a weight needs BFQ or io.cost."""
    try:
        with open(os.path.join(base, "cgroup.controllers")) as f:
            controllers = set(f.read().split())
    except OSError:
        controllers = set()
    mem, io = "memory" in controllers, "io" in controllers
    weight = io and (_exists(base, "io.cost.qos") or (_bfq_loaded() if bfq is None else bfq))
    return Support(
        memory=mem, swap=mem and _swap_v2(base), reservation=mem,
        swappiness=False, oom_kill_disable=False,  # cgroup v2 has neither knob (Docker: the same)
        cpu_shares="cpu" in controllers, cpu_cfs="cpu" in controllers, cpuset="cpuset" in controllers,
        pids="pids" in controllers, blkio_weight=weight, blkio_weight_device=weight, blkio_throttle=io,
    )


def _swap_v2(base: str) -> bool:
    """memory.swap.max is in every non-root cgroup when swap accounting is on: look at one."""
    try:
        with os.scandir(base) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False) and _exists(e.path, "memory.max"):
                    return _exists(e.path, "memory.swap.max")
    except OSError:
        pass
    return False


_cached: Support | None = None


def support() -> Support:
    global _cached
    if _cached is None:
        _cached = probe_v2() if _exists(BASE, "cgroup.controllers") else probe_v1()
    return _cached


def _discard(r: dict, keys: tuple[str, ...]) -> bool:
    """Drop *keys* from *r*; True when one of them was set (so the user asked for it)."""
    asked = any(r.get(k) not in (None, 0, "", [], False) for k in keys)
    for k in keys:
        r.pop(k, None)
    return asked


# (the knob, the keys it governs, the setting as the stack file names it, what Docker says)
_RULES = (
    ("memory", ("memory", "memory_swap"), "mem_limit",
     "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded."),
    ("reservation", ("memory_reservation",), "mem_reservation",
     "Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. "
     "Limitation discarded."),
    ("swappiness", ("memory_swappiness",), "mem_swappiness",
     "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. "
     "Memory swappiness discarded."),
    ("oom_kill_disable", ("oom_kill_disable",), "oom_kill_disable",
     "Your kernel does not support OomKillDisable. OomKillDisable discarded."),
    ("pids", ("pids_limit",), "pids_limit",
     "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded."),
    ("cpu_shares", ("cpu_shares",), "cpu_shares",
     "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded."),
    ("cpu_cfs", ("cpu_period", "cpu_quota"), "cpu_period/cpu_quota",
     "Your kernel does not support CPU CFS scheduler. CPU period/quota discarded."),
    ("cpuset", ("cpuset_cpus", "cpuset_mems"), "cpuset",
     "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded."),
    ("blkio_weight", ("blkio_weight",), "blkio_config.weight",
     "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."),
    ("blkio_weight_device", ("blkio_weight_device",), "blkio_config.weight_device",
     "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. "
     "Weight-device discarded."),
    ("blkio_throttle", ("device_read_bps",), "blkio_config.device_read_bps",
     "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. "
     "Block I/O BPS read limit discarded."),
    ("blkio_throttle", ("device_write_bps",), "blkio_config.device_write_bps",
     "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. "
     "Block I/O BPS write limit discarded."),
    ("blkio_throttle", ("device_read_iops",), "blkio_config.device_read_iops",
     "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. "
     "Block I/O IOPS read limit discarded."),
    ("blkio_throttle", ("device_write_iops",), "blkio_config.device_write_iops",
     "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. "
     "Block I/O IOPS write limit discarded."),
)


def fit(resources: dict, have: Support | None = None) -> tuple[dict, list[str]]:
    """*resources* less what this kernel cannot apply, and one warning per setting discarded
    ("blkio_config.weight: Your kernel does not support ..."). InvalidArgument for `cpus` without CFS."""
    have = have or support()
    r = dict(resources)
    warnings: list[str] = []
    if r.get("cpus") and not have.cpu_cfs:
        raise InvalidArgument("cpus can not be set, as this kernel does not support the CPU CFS scheduler or its "
                              "cgroup is not mounted (a container would run unlimited)")
    for knob, keys, setting, text in _RULES:
        if not getattr(have, knob) and _discard(r, keys):
            warnings.append(f"{setting}: {text}")
    if r.get("memory") and r.get("memory_swap") != -1 and not have.swap:  # Docker warns even when unset
        r["memory_swap"] = -1
        warnings.append("memswap_limit: Your kernel does not support swap limit capabilities or the cgroup is not "
                        "mounted. Memory limited without swap.")
    return r, warnings
