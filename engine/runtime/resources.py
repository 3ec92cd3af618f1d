"""Resource limits and the device allow-list, written into a container's cgroups before its process
joins them: cgroup v1 controller files, or their cgroup v2 equivalents. Stdlib only.

The *resources* mapping (config.json) uses Docker's HostConfig vocabulary in snake case:
memory, memory_swap (-1: unlimited), memory_reservation, memory_swappiness, oom_kill_disable,
cpus (float), cpu_period, cpu_quota, cpu_shares, cpuset_cpus, cpuset_mems, pids_limit,
blkio_weight, blkio_weight_device / device_{read,write}_{bps,iops}: lists of {"path", "rate"|"weight"}.
"""
from __future__ import annotations

import os

# Docker's default device rules (besides mknod of anything): the devices every container gets
DEFAULT_DEVICE_RULES = ("c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                        "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm")


class ResourceError(Exception):
    pass


def _write(d: str, name: str, value) -> None:
    try:
        with open(os.path.join(d, name), "w") as f:
            f.write(str(value))
    except OSError as e:
        raise ResourceError(f"cannot set {name}={value}: {e.strerror or e}") from None


def _has(d: str, name: str) -> bool:
    return os.path.exists(os.path.join(d, name))


def device_number(path: str) -> str:
    """"8:0" for /dev/sda (the throttle and weight files want major:minor)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ResourceError(f"blkio device {path}: {e.strerror}") from None
    return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"


def memory_swap_total(r: dict) -> int | None:
    """Memory plus swap, Docker's way: twice the memory limit when only the memory is limited."""
    swap = r.get("memory_swap")
    if swap in (None, 0) and r.get("memory"):
        return 2 * int(r["memory"])
    return None if swap in (None, 0) else int(swap)


def apply_v1(dirs: dict[str, str], r: dict, device_rules: list[str] | None) -> None:
    """*dirs*: controller name -> the container's directory in that controller's hierarchy."""
    mem = dirs.get("memory")
    if mem:
        if r.get("memory"):
            _write(mem, "memory.limit_in_bytes", int(r["memory"]))
        total = memory_swap_total(r)
        if total is not None and _has(mem, "memory.memsw.limit_in_bytes"):
            _write(mem, "memory.memsw.limit_in_bytes", total)
        if r.get("memory_reservation"):
            _write(mem, "memory.soft_limit_in_bytes", int(r["memory_reservation"]))
        if r.get("memory_swappiness") is not None:
            _write(mem, "memory.swappiness", int(r["memory_swappiness"]))
        if r.get("oom_kill_disable"):
            _write(mem, "memory.oom_control", 1)
    cpu = dirs.get("cpu")
    if cpu:
        period = int(r.get("cpu_period") or 100000)
        quota = int(r["cpus"] * period) if r.get("cpus") else r.get("cpu_quota")
        if r.get("cpu_period"):
            _write(cpu, "cpu.cfs_period_us", period)
        if quota:
            _write(cpu, "cpu.cfs_period_us", period)
            _write(cpu, "cpu.cfs_quota_us", int(quota))
        if r.get("cpu_shares"):
            _write(cpu, "cpu.shares", int(r["cpu_shares"]))
    cpuset = dirs.get("cpuset")
    if cpuset:
        if r.get("cpuset_cpus"):
            _write(cpuset, "cpuset.cpus", r["cpuset_cpus"])
        if r.get("cpuset_mems"):
            _write(cpuset, "cpuset.mems", r["cpuset_mems"])
    if dirs.get("pids") and r.get("pids_limit") and int(r["pids_limit"]) > 0:
        _write(dirs["pids"], "pids.max", int(r["pids_limit"]))
    blkio = dirs.get("blkio")
    if blkio:
        _blkio_v1(blkio, r)
    devices = dirs.get("devices")
    if devices and device_rules is not None:
        _write(devices, "devices.deny", "a")
        for rule in device_rules:
            _write(devices, "devices.allow", rule)


def _weight_file(d: str, names: tuple[str, ...], what: str) -> str:
    for name in names:
        if _has(d, name):
            return name
    raise ResourceError(f"{what} is not supported by this kernel (no {' or '.join(names)}; it needs the BFQ "
                        "I/O scheduler)")


def _blkio_v1(d: str, r: dict) -> None:
    if r.get("blkio_weight"):
        _write(d, _weight_file(d, ("blkio.bfq.weight", "blkio.weight"), "blkio_config.weight"), int(r["blkio_weight"]))
    for entry in r.get("blkio_weight_device") or []:
        name = _weight_file(d, ("blkio.bfq.weight_device", "blkio.weight_device"), "blkio_config.weight_device")
        _write(d, name, f"{device_number(entry['path'])} {int(entry['weight'])}")
    for key, name in (("device_read_bps", "read_bps_device"), ("device_write_bps", "write_bps_device"),
                      ("device_read_iops", "read_iops_device"), ("device_write_iops", "write_iops_device")):
        for entry in r.get(key) or []:
            _write(d, "blkio.throttle." + name, f"{device_number(entry['path'])} {int(entry['rate'])}")


def apply_v2(d: str, r: dict) -> None:
    if r.get("memory"):
        _write(d, "memory.max", int(r["memory"]))
    total = memory_swap_total(r)
    if total is not None and _has(d, "memory.swap.max"):
        _write(d, "memory.swap.max", "max" if total < 0 else max(total - int(r.get("memory") or 0), 0))
    if r.get("memory_reservation"):
        _write(d, "memory.low", int(r["memory_reservation"]))
    period = int(r.get("cpu_period") or 100000)
    quota = int(r["cpus"] * period) if r.get("cpus") else r.get("cpu_quota")
    if quota:
        _write(d, "cpu.max", f"{int(quota)} {period}")
    if r.get("cpu_shares"):  # the kernel's own conversion of shares (2..262144) to weight (1..10000)
        _write(d, "cpu.weight", 1 + ((int(r["cpu_shares"]) - 2) * 9999) // 262142)
    if r.get("cpuset_cpus"):
        _write(d, "cpuset.cpus", r["cpuset_cpus"])
    if r.get("cpuset_mems"):
        _write(d, "cpuset.mems", r["cpuset_mems"])
    if r.get("pids_limit") and int(r["pids_limit"]) > 0:
        _write(d, "pids.max", int(r["pids_limit"]))
    if r.get("blkio_weight"):
        name = _weight_file(d, ("io.bfq.weight", "io.weight"), "blkio_config.weight")
        _write(d, name, f"default {int(r['blkio_weight'])}")
    for entry in r.get("blkio_weight_device") or []:
        name = _weight_file(d, ("io.bfq.weight", "io.weight"), "blkio_config.weight_device")
        _write(d, name, f"{device_number(entry['path'])} {int(entry['weight'])}")
    for key, field in (("device_read_bps", "rbps"), ("device_write_bps", "wbps"), ("device_read_iops", "riops"),
                       ("device_write_iops", "wiops")):
        for entry in r.get(key) or []:
            _write(d, "io.max", f"{device_number(entry['path'])} {field}={int(entry['rate'])}")
