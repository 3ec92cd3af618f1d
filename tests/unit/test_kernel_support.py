"""What a container gets on a kernel that lacks an optional resource knob: the setting is discarded
with Docker's warning, or (cpus without CFS) refused. The probes read cgroupfs layouts written here
as the kernels of this machine kind lay them out (BFQ or not, swap accounting or not, v1 or v2)."""
from __future__ import annotations

import os

import pytest

from engine.errors import InvalidArgument
from engine.runtime import sysinfo


def touch(base, *names):
    for name in names:
        path = os.path.join(base, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()


V1_COMMON = ["memory/cgroup.procs", "memory/memory.soft_limit_in_bytes", "memory/memory.swappiness",
             "memory/memory.oom_control", "cpu/cgroup.procs", "cpu/cpu.shares", "cpu/cpu.cfs_quota_us",
             "cpu/cpu.cfs_period_us", "cpuset/cgroup.procs", "pids/cgroup.procs", "blkio/cgroup.procs",
             "blkio/blkio.throttle.read_bps_device"]


def test_v1_without_bfq_nor_swap_accounting(tmp_path):
    touch(str(tmp_path), *V1_COMMON)
    have = sysinfo.probe_v1(str(tmp_path))
    assert have.memory and have.cpu_cfs and have.pids and have.blkio_throttle
    assert not have.blkio_weight and not have.blkio_weight_device and not have.swap
    fitted, warnings = sysinfo.fit({"memory": 64 << 20, "memory_swap": 96 << 20, "blkio_weight": 300,
                                    "device_read_bps": [{"path": "/dev/vda", "rate": 1}]}, have)
    assert fitted == {"memory": 64 << 20, "memory_swap": -1, "device_read_bps": [{"path": "/dev/vda", "rate": 1}]}
    assert warnings == [
        "blkio_config.weight: Your kernel does not support Block I/O weight or the cgroup is not mounted. "
        "Weight discarded.",
        "memswap_limit: Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
        "Memory limited without swap."]


def test_v1_with_bfq_and_swap_accounting_keeps_everything(tmp_path):
    touch(str(tmp_path), *V1_COMMON, "memory/memory.memsw.limit_in_bytes", "blkio/blkio.bfq.weight",
          "blkio/blkio.bfq.weight_device")
    have = sysinfo.probe_v1(str(tmp_path))
    r = {"memory": 64 << 20, "memory_swap": 96 << 20, "blkio_weight": 300, "cpus": 0.5, "pids_limit": 20,
         "memory_swappiness": 10, "blkio_weight_device": [{"path": "/dev/vda", "weight": 200}]}
    assert sysinfo.fit(r, have) == (r, [])


def test_v1_hybrid_with_pids_and_cpuset_on_the_unified_side(tmp_path):
    """A v1 host whose pids and cpuset controllers are not mounted as v1 hierarchies: Docker (which
    uses only the v1 side there) discards those limits with a warning."""
    touch(str(tmp_path), *[n for n in V1_COMMON if not n.startswith(("pids/", "cpuset/"))])
    fitted, warnings = sysinfo.fit({"pids_limit": 20, "cpuset_cpus": "0", "cpu_shares": 512},
                                   sysinfo.probe_v1(str(tmp_path)))
    assert fitted == {"cpu_shares": 512}
    assert [w.split(":")[0] for w in warnings] == ["pids_limit", "cpuset"]


def test_v2_with_io_but_no_weight_and_no_swap(tmp_path):
    base = str(tmp_path)
    with open(os.path.join(base, "cgroup.controllers"), "w") as f:
        f.write("cpuset cpu io memory pids\n")
    touch(base, "init.scope/memory.max")  # a child without memory.swap.max: swap accounting is off
    have = sysinfo.probe_v2(base, bfq=False)
    assert have.blkio_throttle and not have.blkio_weight and not have.swap
    assert not have.swappiness and not have.oom_kill_disable  # v2 has neither knob
    fitted, warnings = sysinfo.fit({"memory": 64 << 20, "memory_swappiness": 10, "oom_kill_disable": True,
                                    "blkio_weight": 300, "device_write_iops": [{"path": "/dev/vda", "rate": 9}]},
                                   have)
    assert fitted == {"memory": 64 << 20, "memory_swap": -1, "device_write_iops": [{"path": "/dev/vda", "rate": 9}]}
    assert [w.split(":")[0] for w in warnings] == ["mem_swappiness", "oom_kill_disable", "blkio_config.weight",
                                                   "memswap_limit"]
    touch(base, "io.cost.qos")  # io.cost gives io.weight even without BFQ
    assert sysinfo.probe_v2(base, bfq=False).blkio_weight
    assert sysinfo.probe_v2(base.rstrip("/") + "-none", bfq=False) == sysinfo.Support(
        **{k: False for k in sysinfo.Support.__dataclass_fields__})


def test_oom_kill_disable_false_is_no_warning_and_cpus_without_cfs_is_refused(tmp_path):
    have = sysinfo.Support(oom_kill_disable=False, cpu_cfs=False)
    assert sysinfo.fit({"oom_kill_disable": False}, have) == ({}, [])
    with pytest.raises(InvalidArgument, match="cpus can not be set"):
        sysinfo.fit({"cpus": 0.5}, have)
    fitted, warnings = sysinfo.fit({"cpu_quota": 5000, "cpu_period": 10000}, have)
    assert fitted == {} and warnings[0].startswith("cpu_period/cpu_quota: Your kernel does not support CPU CFS")
