"""Container lifecycle on the real kernel: stop, kill, restart policies, monitor death, cgroups, costs."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from engine.runtime import launch
from engine.runtime.cgroups import Cgroup
from engine.store.records import read_json
from tests.integration.test_runtime_support import host_fixture, output, wait_exit, wait_for


@pytest.fixture
def host():
    yield from host_fixture()


def _state(cdir: str) -> dict:
    return read_json(os.path.join(cdir, "state.json"), {}) or {}


def test_running_state_and_cgroup_membership(host):
    cdir = host.container(["sleep", "30"])
    pid = launch.start(cdir)
    state = launch.read_state(cdir)
    assert state["status"] == "running" and state["pid"] == pid and state["monitor_pid"] > 0
    cg = Cgroup(host.paths.cgroup_parent, os.path.basename(cdir))
    assert pid in cg.pids()
    with open(f"/proc/{pid}/cgroup") as f:
        assert f"/{host.paths.cgroup_parent}/{os.path.basename(cdir)}" in f.read()
    launch.stop(cdir, 0.5)
    assert launch.read_state(cdir)["status"] == "exited"


def test_stop_with_a_handler_exits_cleanly(host):
    cdir = host.container(["/bin/sh", "-c", "trap 'echo bye; exit 0' TERM; echo ready; while true; do sleep 0.1; done"])
    launch.start(cdir)
    wait_for(lambda: "ready" in output(cdir), what="the trap")
    started = time.monotonic()
    launch.stop(cdir, 10)
    assert time.monotonic() - started < 3
    state = launch.read_state(cdir)
    assert state["exit_code"] == 0 and state["status"] == "exited"
    assert "bye" in output(cdir)


def test_stop_kills_a_process_ignoring_sigterm_after_the_timeout(host):
    cdir = host.container(["sleep", "300"])  # PID 1 without a handler: SIGTERM is ignored
    launch.start(cdir)
    started = time.monotonic()
    launch.stop(cdir, 1)
    took = time.monotonic() - started
    assert 0.9 <= took < 5
    state = launch.read_state(cdir)
    assert state["exit_code"] == 137 and state["status"] == "exited"


def test_stop_with_another_signal(host):
    cdir = host.container(["/bin/sh", "-c", "trap 'exit 4' USR1; echo ready; while true; do sleep 0.1; done"])
    launch.start(cdir)
    wait_for(lambda: "ready" in output(cdir), what="the trap")
    launch.stop(cdir, 10, "SIGUSR1")
    assert launch.read_state(cdir)["exit_code"] == 4


def test_children_die_with_pid_1(host):
    cdir = host.container(["/bin/sh", "-c", "sleep 300 & sleep 300 & echo started; sleep 0.2; exit 5"])
    launch.start(cdir)
    state = wait_exit(cdir)
    assert state["exit_code"] == 5  # the fixture checks that no sleep and no cgroup is left


def test_restart_always_restarts_until_stopped(host):
    cdir = host.container(["/bin/sh", "-c", "echo run; exit 1"], restart="always")
    launch.start(cdir)
    wait_for(lambda: _state(cdir).get("restart_count", 0) >= 2, what="two restarts")
    assert output(cdir).count("run\n") >= 2
    started = time.monotonic()
    launch.stop(cdir, 1)
    assert time.monotonic() - started < 3
    state = launch.read_state(cdir)
    assert state["status"] == "exited"
    assert not launch._monitor_alive(state["monitor_pid"])


def test_restart_on_failure_with_a_limit(host):
    cdir = host.container(["/bin/sh", "-c", "echo run; exit 3"], restart="on-failure:2")
    launch.start(cdir)
    state = wait_exit(cdir, timeout=10)
    assert state["exit_code"] == 3 and state["restart_count"] == 2
    assert output(cdir).count("run\n") == 3


def test_restart_on_failure_does_not_restart_success(host):
    cdir = host.container(["/bin/sh", "-c", "echo run"], restart="on-failure")
    launch.start(cdir)
    state = wait_exit(cdir)
    assert state["exit_code"] == 0 and state["restart_count"] == 0


def test_stop_during_a_long_restart_backoff_is_prompt(host):
    cdir = host.container(["/bin/sh", "-c", "exit 1"], restart="always")
    launch.start(cdir)
    # after 6 quick failures the back-off has grown to over 3 s
    wait_for(lambda: _state(cdir).get("restart_count", 0) >= 5, timeout=20, what="five restarts")
    time.sleep(0.1)
    started = time.monotonic()
    launch.stop(cdir, 1)
    assert time.monotonic() - started < 2.5
    assert not launch._monitor_alive(launch.read_state(cdir)["monitor_pid"])


def test_sigterm_to_the_monitor_takes_the_container_down(host):
    cdir = host.container(["sleep", "300"], restart="always")
    pid = launch.start(cdir)
    monitor = launch.read_state(cdir)["monitor_pid"]
    os.kill(monitor, signal.SIGTERM)
    state = wait_exit(cdir)
    assert state["status"] == "exited" and state["exit_code"] == 137
    assert not os.path.exists(f"/proc/{pid}")  # the fixture also checks cgroups and processes


def test_a_killed_monitor_reads_as_exited_and_is_cleaned_up(host):
    cdir = host.container(["sleep", "300"])
    pid = launch.start(cdir)
    monitor = launch.read_state(cdir)["monitor_pid"]
    os.kill(monitor, signal.SIGKILL)
    wait_for(lambda: launch.read_state(cdir)["status"] == "exited", what="exited state")
    assert _state(cdir)["status"] == "running"  # reading did not rewrite the record
    launch.stop(cdir, 0)  # ends what the monitor left: the process and its cgroups
    assert _state(cdir)["status"] == "exited"
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or _zombie(pid), what="container process gone")


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_kill_of_a_stopped_container_is_an_error(host):
    cdir = host.container(["true"])
    launch.start(cdir)
    wait_exit(cdir)
    from engine.errors import EngineError

    with pytest.raises(EngineError, match="not running"):
        launch.kill(cdir, "SIGKILL")


def test_two_containers_share_the_root_cgroup_parent(host):
    a = host.container(["sleep", "30"])
    b = host.container(["sleep", "30"])
    launch.start(a)
    launch.start(b)
    launch.stop(a, 0)
    # b still runs, so the parent stays; once b stops, it goes too (checked by the fixture)
    assert launch.read_state(b)["status"] == "running"
    launch.stop(b, 0)


def test_monitor_memory_and_start_latency(host, capsys):
    cdir = host.container(["sleep", "30"])
    started = time.perf_counter()
    launch.start(cdir)
    latency = time.perf_counter() - started
    monitor = launch.read_state(cdir)["monitor_pid"]
    rss_kb = int(subprocess.run(["ps", "-o", "rss=", "-p", str(monitor)], capture_output=True, text=True).stdout)
    launch.stop(cdir, 0)
    with capsys.disabled():
        print(f"\n[runtime] start latency {latency * 1000:.0f} ms, monitor RSS {rss_kb / 1024:.1f} MB")
    assert latency < 2
    assert rss_kb < 20 * 1024


def test_oom_kill_is_recorded(host):
    cdir = host.container(["/bin/sh", "-c", "sleep 0.5; exec dd if=/dev/zero of=/big/fill bs=1M count=200"],
                          mounts=[{"type": "tmpfs", "target": "/big", "options": "size=400m"}])
    launch.start(cdir)
    cg = Cgroup(host.paths.cgroup_parent, os.path.basename(cdir))
    limits = [d for d in cg.dirs if os.path.exists(os.path.join(d, "memory.limit_in_bytes"))] or \
             [d for d in cg.dirs if os.path.exists(os.path.join(d, "memory.max"))]
    if not limits:
        launch.stop(cdir, 0)
        pytest.skip("no memory controller")
    name = "memory.limit_in_bytes" if os.path.exists(os.path.join(limits[0], "memory.limit_in_bytes")) else "memory.max"
    with open(os.path.join(limits[0], name), "w") as f:
        f.write(str(32 * 1024 * 1024))
    state = wait_exit(cdir, timeout=20)
    assert state["oom_killed"] is True, (state, output(cdir))
    assert state["exit_code"] == 137
