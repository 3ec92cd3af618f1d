"""Resource limits of service containers (cgroups) and the commands that observe and control them:
stats, top, pause/unpause, kill -s, and init: true."""
from __future__ import annotations

import json
import os
import time

import pytest

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


def cgroup_file(cli, service: str, controller: str, name: str) -> str:
    from engine.api import Engine
    from engine.paths import Paths

    if not os.path.isdir(f"/sys/fs/cgroup/{controller}"):
        pytest.skip("these checks read cgroup v1 controller files")
    eng = Engine(cli.root)
    c = next(c for c in eng.list_containers() if c.name.endswith(f"-{service}-1"))
    path = f"/sys/fs/cgroup/{controller}/{Paths.open(cli.root).cgroup_parent}/{c.id}/{name}"
    with open(path) as f:
        return f.read().strip()


def test_limits_reach_the_cgroups_and_bind_inside(stack):
    cli = stack
    cli("up", "-d", "limited", "deployed")
    assert cgroup_file(cli, "limited", "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert cgroup_file(cli, "limited", "memory", "memory.memsw.limit_in_bytes") == str(96 << 20)
    assert cgroup_file(cli, "limited", "memory", "memory.soft_limit_in_bytes") == str(32 << 20)
    assert cgroup_file(cli, "limited", "cpu", "cpu.cfs_quota_us") == "50000"
    assert cgroup_file(cli, "limited", "cpu", "cpu.cfs_period_us") == "100000"
    assert cgroup_file(cli, "limited", "cpu", "cpu.shares") == "512"
    assert cgroup_file(cli, "limited", "cpuset", "cpuset.cpus") == "0"
    assert cgroup_file(cli, "limited", "pids", "pids.max") == "20"
    assert cgroup_file(cli, "limited", "memory", "memory.swappiness") == "10"
    assert sh(cli, "limited", "cat /proc/1/oom_score_adj").strip() == "300"
    assert cgroup_file(cli, "deployed", "memory", "memory.limit_in_bytes") == str(48 << 20)
    assert cgroup_file(cli, "deployed", "memory", "memory.soft_limit_in_bytes") == str(16 << 20)
    assert cgroup_file(cli, "deployed", "cpu", "cpu.cfs_quota_us") == "25000"
    assert cgroup_file(cli, "deployed", "pids", "pids.max") == "30"
    # the pid limit binds: forks beyond it fail inside the container
    res = cli("exec", "-T", "limited", "sh", "-c", "for i in $(seq 40); do sleep 5 & done", check=False)
    assert res.returncode != 0 and "Resource temporarily unavailable" in res.stdout + res.stderr, res
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

    cli("pause", "busy")
    entry = next(e for e in ps(cli) if e["Service"] == "busy")
    assert entry["State"] == "paused" and entry["Status"].endswith("(Paused)")
    assert [e["Service"] for e in ps(cli, "--status", "paused")] == ["busy"]
    logs_before = cli("logs", "busy").stdout
    time.sleep(0.3)
    assert cli("logs", "busy").stdout == logs_before  # frozen: nothing runs
    assert cli("kill", "-s", "USR1", "busy", check=False).returncode != 0  # like Docker: unpause first
    cli("unpause", "busy")
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
    cli("up", "-d")
    try:
        assert cgroup_file(cli, "io", "blkio", "blkio.throttle.read_bps_device") == f"{number} 1048576"
        assert cgroup_file(cli, "io", "blkio", "blkio.throttle.write_iops_device") == f"{number} 120"
        weight = cgroup_file(cli, "io", "blkio", "blkio.bfq.weight")
        assert weight.split()[-1] == "300"
    finally:
        cli("down")
