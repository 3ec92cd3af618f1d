"""Resource limits of service containers (cgroups) and the commands that observe and control them:
stats, top, pause/unpause, kill -s, and init: true."""
from __future__ import annotations

import json
import os
import time

import pytest

from tests.support import kernel

STACK = """
services:
  limited:
    image: composer/busybox
    command: ["sleep", "300"]
    stop_grace_period: 0s
    mem_limit: 64m
    memswap_limit: 96m
    mem_reservation: 32m
    cpus: 0.5
    cpu_shares: 512
    cpuset: "0"
    pids_limit: 20
    mem_swappiness: 10
    oom_score_adj: 300
  deployed:
    image: composer/busybox
    command: ["sleep", "300"]
    stop_grace_period: 0s
    deploy:
      resources:
        limits: {cpus: "0.25", memory: 48M, pids: 30}
        reservations: {memory: 16M}
  hog:
    image: composer/busybox
    command: ["sh", "-c", "sleep 0.3; exec dd if=/dev/zero of=/dev/shm/fill bs=1M count=200"]
    mem_limit: 32m
    memswap_limit: 32m
    shm_size: 256m
  busy:
    image: composer/busybox
    command: ["sh", "-c", "trap 'echo got-usr1' USR1; trap 'echo bye; exit 3' TERM; echo ready; while true; do sleep 0.1; done"]
    stop_grace_period: 2s
  reaper:
    image: composer/busybox
    init: true
    command: ["sh", "-c", "trap 'exit 7' TERM; (sleep 0.2 &) ; echo ready; while true; do sleep 0.1; done"]
    stop_grace_period: 5s
"""


@pytest.fixture
def stack(cli, base_image):
    cli.write("compose.yaml", STACK)
    yield cli
    cli("down", check=False)


def sh(cli, service: str, script: str) -> str:
    return cli("exec", "-T", service, "sh", "-c", script).stdout


def ps(cli, *extra) -> list[dict]:
    return [json.loads(line) for line in cli("ps", "--format", "json", *extra).stdout.splitlines() if line.strip()]


def wait_for(fn, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def limit(cli, service: str, v1: str | None, v2: str | None) -> str | None:
    """The container's cgroup file: *v1* "controller/file" on cgroup v1, *v2* "file" on the unified
    hierarchy; None where this kind of hierarchy has no such knob."""
    from engine.api import Engine
    from engine.paths import Paths

    name = v2 if kernel.cgroup_v2() else v1
    if name is None:
        return None
    eng = Engine(cli.root)
    c = next(c for c in eng.list_containers() if c.name.endswith(f"-{service}-1"))
    parent = Paths.open(cli.root).cgroup_parent
    if kernel.cgroup_v2():
        path = f"/sys/fs/cgroup/{parent}/{c.id}/{name}"
    else:
        controller, _, file = name.partition("/")
        path = f"/sys/fs/cgroup/{controller}/{parent}/{c.id}/{file}"
    with open(path) as f:
        return f.read().strip()


def discarded(said: str, service: str, setting: str) -> bool:
    """Docker's warning for a setting the kernel cannot apply, naming the service and the setting."""
    return any(line.startswith("WARN") and f"service {service}: {setting}: Your kernel does not support" in line
               for line in said.splitlines())


def test_limits_reach_the_cgroups_and_bind_inside(stack):
    cli = stack
    res = cli("up", "-d", "limited", "deployed")
    said = res.stdout + res.stderr
    v2 = kernel.cgroup_v2()
    assert limit(cli, "limited", "memory/memory.limit_in_bytes", "memory.max") == str(64 << 20)
    if kernel.swap_accounting():  # v1 counts memory plus swap, v2 the swap alone
        assert limit(cli, "limited", "memory/memory.memsw.limit_in_bytes", "memory.swap.max") == \
            str((32 if v2 else 96) << 20)
    else:
        assert discarded(said, "limited", "memswap_limit"), said
    assert limit(cli, "limited", "memory/memory.soft_limit_in_bytes", "memory.low") == str(32 << 20)
    if v2:
        assert limit(cli, "limited", None, "cpu.max") == "50000 100000"
        assert limit(cli, "limited", None, "cpu.weight") == "20"  # the kernel's conversion of 512 shares
        assert discarded(said, "limited", "mem_swappiness"), said  # v2 has no swappiness knob
    else:
        assert limit(cli, "limited", "cpu/cpu.cfs_quota_us", None) == "50000"
        assert limit(cli, "limited", "cpu/cpu.cfs_period_us", None) == "100000"
        assert limit(cli, "limited", "cpu/cpu.shares", None) == "512"
        assert limit(cli, "limited", "memory/memory.swappiness", None) == "10"
    if kernel.controller("cpuset"):
        assert limit(cli, "limited", "cpuset/cpuset.cpus", "cpuset.cpus") == "0"
    else:
        assert discarded(said, "limited", "cpuset"), said
    assert sh(cli, "limited", "cat /proc/1/oom_score_adj").strip() == "300"
    assert limit(cli, "deployed", "memory/memory.limit_in_bytes", "memory.max") == str(48 << 20)
    assert limit(cli, "deployed", "memory/memory.soft_limit_in_bytes", "memory.low") == str(16 << 20)
    assert limit(cli, "deployed", "cpu/cpu.cfs_quota_us", "cpu.max").split()[0] == "25000"
    if kernel.controller("pids"):
        assert limit(cli, "limited", "pids/pids.max", "pids.max") == "20"
        assert limit(cli, "deployed", "pids/pids.max", "pids.max") == "30"
        # the pid limit binds: forks beyond it fail inside the container
        res = cli("exec", "-T", "limited", "sh", "-c", "for i in $(seq 40); do sleep 5 & done", check=False)
        assert res.returncode != 0 and "Resource temporarily unavailable" in res.stdout + res.stderr, res
    else:
        assert discarded(said, "limited", "pids_limit") and discarded(said, "deployed", "pids_limit"), said
    # stats sees the memory limit
    stats = [json.loads(x) for x in cli("stats", "--no-stream", "--format", "json", "limited").stdout.splitlines()]
    assert len(stats) == 1 and stats[0]["MemUsage"].endswith("/ 64MiB"), stats
    assert stats[0]["Name"].endswith("-limited-1") and stats[0]["CPUPerc"].endswith("%")
    assert int(stats[0]["PIDs"]) >= 1


def test_oom_kill_is_exit_137_and_shown(stack):
    cli = stack
    cli("up", "-d", "hog")
    entry = wait_for(lambda: [e for e in ps(cli, "-a") if e["State"] == "exited"])[0]
    assert entry["ExitCode"] == 137 and entry["OOMKilled"] is True
    assert "(OOMKilled)" in entry["Status"]
    info = json.loads(cli("container", "inspect", entry["Name"], project=False).stdout)[0]
    assert info["oom_killed"] is True and info["exit_code"] == 137


def test_stats_top_pause_unpause_kill(stack):
    cli = stack
    cli("up", "-d", "busy", "limited")
    table = cli("stats", "--no-stream").stdout.splitlines()
    assert table[0].split()[:4] == ["CONTAINER", "ID", "NAME", "CPU"]
    assert len(table) == 3 and "MEM USAGE / LIMIT" in table[0] and "PIDS" in table[0]
    top = cli("top", "busy").stdout.splitlines()
    assert top[0].endswith("-busy-1")
    assert top[1].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert any(line.split()[0] == "root" and "sh -c trap" in line for line in top[2:]), top

    freezer = kernel.controller("freezer")
    if freezer:
        cli("pause", "busy")
        entry = next(e for e in ps(cli) if e["Service"] == "busy")
        assert entry["State"] == "paused" and entry["Status"].endswith("(Paused)")
        assert [e["Service"] for e in ps(cli, "--status", "paused")] == ["busy"]
        logs_before = cli("logs", "busy").stdout
        time.sleep(0.3)
        assert cli("logs", "busy").stdout == logs_before  # frozen: nothing runs
        assert cli("kill", "-s", "USR1", "busy", check=False).returncode != 0  # like Docker: unpause first
        cli("unpause", "busy")
    else:  # a kernel without the freezer: a one-line refusal, and the container runs on
        res = cli("pause", "busy", check=False)
        assert res.returncode != 0 and "no freezer cgroup" in res.stderr.strip().splitlines()[-1], res
    assert next(e for e in ps(cli) if e["Service"] == "busy")["State"] == "running"

    cli("kill", "-s", "USR1", "busy")
    wait_for(lambda: "got-usr1" in cli("logs", "busy").stdout)
    cli("kill", "-s", "TERM", "busy")
    entry = wait_for(lambda: [e for e in ps(cli, "-a") if e["Service"] == "busy" and e["State"] == "exited"])[0]
    assert entry["ExitCode"] == 3
    res = cli("kill", "-s", "NOPE", "limited", check=False)
    assert res.returncode != 0 and "invalid signal" in res.stderr
    cli("kill", "limited")
    entry = wait_for(lambda: [e for e in ps(cli, "-a") if e["Service"] == "limited" and e["State"] == "exited"])[0]
    assert entry["ExitCode"] == 137
    cli("up", "-d", "busy")
    if freezer:
        cli("pause", "busy")  # down must take a paused container away as well (the leak check sees to it)


def test_init_reaps_orphans_and_forwards_signals(stack):
    cli = stack
    cli("up", "-d", "reaper")
    wait_for(lambda: "ready" in cli("logs", "reaper").stdout)
    time.sleep(0.5)  # the orphaned sleep has exited by now: init must have reaped it
    out = sh(cli, "reaper", "ps -o pid,stat,comm")
    rows = [line.split() for line in out.splitlines()[1:]]
    assert not [r for r in rows if r[1].startswith("Z")], out  # no zombies
    assert next(r for r in rows if r[0] == "1")[2] == "init"  # PID 1 is the init, the command its child
    cli("stop", "reaper")
    entry = next(e for e in ps(cli, "-a") if e["Service"] == "reaper")
    assert entry["ExitCode"] == 7  # SIGTERM reached the command through the init, its exit code came back


def _block_device() -> str | None:
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "zram", "ram")) and os.path.exists(f"/dev/{name}"):
            return f"/dev/{name}"
    return None


def test_blkio_weight_and_throttles(cli, base_image):
    """Throttles bind where the kernel has them; a weight needs BFQ (or io.cost): without it the weight
    is discarded with Docker's warning and the container runs with the rest, as under Docker."""
    dev = _block_device()
    if dev is None:
        pytest.skip("no block device to throttle")
    with open(f"/sys/block/{os.path.basename(dev)}/dev") as f:
        number = f.read().strip()
    cli.write("compose.yaml", f"""
services:
  io:
    image: composer/busybox
    command: ["sleep", "300"]
    stop_grace_period: 0s
    blkio_config:
      weight: 300
      device_read_bps: [{{path: {dev}, rate: 1mb}}]
      device_write_iops: [{{path: {dev}, rate: 120}}]
""")
    res = cli("up", "-d")
    said = res.stdout + res.stderr
    try:
        assert ps(cli)[0]["State"] == "running"
        if kernel.cgroup_v2():
            io_max = limit(cli, "io", None, "io.max")
            assert f"{number} rbps=1048576" in io_max and "wiops=120" in io_max, io_max
        else:
            assert limit(cli, "io", "blkio/blkio.throttle.read_bps_device", None) == f"{number} 1048576"
            assert limit(cli, "io", "blkio/blkio.throttle.write_iops_device", None) == f"{number} 120"
        if kernel.blkio_weight():
            assert not discarded(said, "io", "blkio_config.weight"), said
            if kernel.cgroup_v2():
                weight = limit(cli, "io", None, "io.bfq.weight" if os.path.exists(
                    f"/sys/fs/cgroup/{_parent(cli)}/io.bfq.weight") else "io.weight")
            else:
                weight = limit(cli, "io", "blkio/blkio.bfq.weight" if os.path.exists(
                    "/sys/fs/cgroup/blkio/blkio.bfq.weight") else "blkio/blkio.weight", None)
            assert weight.split()[-1] == "300"
        else:
            assert discarded(said, "io", "blkio_config.weight"), said
            assert "Weight discarded." in said
    finally:
        cli("down")


def _parent(cli) -> str:
    from engine.paths import Paths

    return Paths.open(cli.root).cgroup_parent
