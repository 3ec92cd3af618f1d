"""The monitor's supervision on the real kernel: restart policies and back-off, healthchecks, log rotation."""
from __future__ import annotations

import os
import time

import pytest

from engine.runtime import launch
from engine.runtime.health import read_health
from engine.runtime.logs import log_files, read_log
from engine.store.records import read_json
from tests.integration.test_runtime_support import host_fixture, output, wait_exit, wait_for


@pytest.fixture
def host():
    yield from host_fixture()


def _state(cdir: str) -> dict:
    return read_json(os.path.join(cdir, "state.json"), {}) or {}


def _health(cdir: str) -> dict:
    return read_health(cdir) or {}


def _stop(cdir: str) -> None:
    launch.stop(cdir, 0)
    assert not launch._monitor_alive(int(_state(cdir).get("monitor_pid") or 0))


# -- restart policies ---------------------------------------------------------------------------

def test_no_policy_never_restarts(host):
    cdir = host.container(["/bin/sh", "-c", "echo run; exit 1"], restart="no")
    launch.start(cdir)
    state = wait_exit(cdir)
    assert state["exit_code"] == 1 and state["restart_count"] == 0 and output(cdir) == "run\n"


def test_backoff_doubles_from_100ms(host):
    cdir = host.container(["/bin/sh", "-c", "exit 1"], restart="always")
    launch.start(cdir)
    starts = []
    last = None
    deadline = time.monotonic() + 15
    while len(starts) < 5 and time.monotonic() < deadline:
        st = _state(cdir).get("started_at")
        if st and st != last:
            starts.append(time.monotonic())
            last = st
        time.sleep(0.005)
    _stop(cdir)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(gaps) == 4, gaps
    # 0.1, 0.2, 0.4, 0.8 s (plus the start itself); each gap at least the back-off, growing
    for gap, backoff in zip(gaps, (0.1, 0.2, 0.4, 0.8)):
        assert gap >= backoff * 0.9, gaps
    assert gaps[3] > gaps[0] and gaps[3] >= 0.72, gaps  # (each gap also pays for a start, slow under load)


def test_on_failure_counts_only_failures_up_to_n(host):
    cdir = host.container(["/bin/sh", "-c", "echo run; exit 2"], restart="on-failure:3")
    launch.start(cdir)
    state = wait_exit(cdir, timeout=15)
    assert state["exit_code"] == 2 and state["restart_count"] == 3
    assert output(cdir).count("run\n") == 4


def test_max_attempts_and_fixed_delay_of_deploy_restart_policy(host):
    cdir = host.container(["/bin/sh", "-c", "echo run; exit 0"], restart="always", restart_max_attempts=2,
                          restart_delay=0.3)
    started = time.monotonic()
    launch.start(cdir)
    state = wait_exit(cdir, timeout=10)
    took = time.monotonic() - started
    assert state["restart_count"] == 2 and output(cdir).count("run\n") == 3
    assert took >= 0.55  # two fixed 0.3 s delays (not 0.1 + 0.2)


@pytest.mark.parametrize("policy", ["always", "unless-stopped"])
def test_stop_is_not_undone_by_the_policy(host, policy):
    cdir = host.container(["sleep", "300"], restart=policy)
    pid = launch.start(cdir)
    launch.stop(cdir, 0)
    state = launch.read_state(cdir)
    assert state["status"] == "exited" and state["restart_count"] == 0
    time.sleep(0.3)  # the first back-off would have restarted it by now
    assert launch.read_state(cdir)["status"] == "exited" and not os.path.exists(f"/proc/{pid}/cmdline") or \
        _zombie_or_gone(pid)


def _zombie_or_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_restarting_status_between_runs_and_kill_restarts(host):
    cdir = host.container(["sleep", "300"], restart="unless-stopped")
    pid = launch.start(cdir)
    launch.kill(cdir, "SIGKILL")  # not a stop: the policy brings it back
    wait_for(lambda: _state(cdir).get("pid") not in (0, pid, None) and _state(cdir)["status"] == "running",
             what="the restart")
    assert _state(cdir)["restart_count"] == 1
    _stop(cdir)


# -- healthchecks -------------------------------------------------------------------------------

def test_becomes_healthy_and_keeps_the_last_five_results(host):
    cdir = host.container(["sleep", "300"], healthcheck={
        "test": ["CMD-SHELL", "echo checked $HOSTNAME"], "interval": 0.1, "timeout": 2, "retries": 3})
    launch.start(cdir)
    assert _health(cdir)["Status"] in ("starting", "healthy")
    first = wait_for(lambda: _health(cdir).get("Log"), what="a first check")[0]
    wait_for(lambda: len(_health(cdir)["Log"]) == 5 and _health(cdir)["Log"][0] != first, what="six checks")
    h = _health(cdir)
    assert h["Status"] == "healthy" and h["FailingStreak"] == 0 and len(h["Log"]) == 5
    assert h["Log"][-1]["ExitCode"] == 0 and h["Log"][-1]["Output"].startswith("checked ")
    _stop(cdir)
    assert _health(cdir)["Status"] == "unhealthy"  # a stopped container is not healthy


def test_becomes_unhealthy_after_retries(host):
    cdir = host.container(["sleep", "300"], healthcheck={
        "test": ["CMD", "/bin/sh", "-c", "echo nope >&2; exit 3"], "interval": 0.1, "retries": 2})
    launch.start(cdir)
    wait_for(lambda: _health(cdir).get("Status") == "unhealthy", what="unhealthy")
    h = _health(cdir)
    assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 3 and "nope" in h["Log"][-1]["Output"]
    _stop(cdir)


def test_healthy_then_unhealthy_when_the_check_starts_failing(host):
    cdir = host.container(["sleep", "300"], healthcheck={
        "test": ["CMD-SHELL", "test ! -e /tmp/broken"], "interval": 0.1, "retries": 2})
    launch.start(cdir)
    wait_for(lambda: _health(cdir).get("Status") == "healthy", what="healthy")
    from engine.runtime.exec import exec_in

    assert exec_in(cdir, ["touch", "/tmp/broken"], ["PATH=/bin"], "", "/", None, None, None) == 0
    wait_for(lambda: _health(cdir).get("Status") == "unhealthy", what="unhealthy")
    _stop(cdir)


def test_a_check_over_its_timeout_is_killed_and_fails(host):
    cdir = host.container(["sleep", "300"], healthcheck={
        "test": ["CMD", "sleep", "30"], "interval": 0.1, "timeout": 0.3, "retries": 1})
    launch.start(cdir)
    started = time.monotonic()
    wait_for(lambda: _health(cdir).get("Status") == "unhealthy", what="unhealthy")
    assert time.monotonic() - started < 3
    entry = _health(cdir)["Log"][-1]
    assert entry["ExitCode"] == -1 and "exceeded timeout" in entry["Output"]
    _stop(cdir)  # the fixture checks that the killed check's processes are gone too


def test_failures_in_the_start_period_do_not_count(host):
    cdir = host.container(["/bin/sh", "-c", "sleep 0.8; touch /tmp/up; sleep 300"], healthcheck={
        "test": ["CMD-SHELL", "test -e /tmp/up"], "interval": 5, "start_period": 3, "start_interval": 0.1,
        "retries": 1})
    launch.start(cdir)
    wait_for(lambda: _health(cdir).get("Status") == "healthy", what="healthy")
    h = _health(cdir)
    assert any(e["ExitCode"] != 0 for e in h["Log"])  # failed checks, but it never became unhealthy
    assert h["FailingStreak"] == 0
    _stop(cdir)


def test_none_disables_the_check(host):
    cdir = host.container(["sleep", "300"], healthcheck={"test": ["NONE"], "interval": 0.1})
    launch.start(cdir)
    time.sleep(0.3)
    assert read_health(cdir) is None
    _stop(cdir)


# -- logs ---------------------------------------------------------------------------------------

def test_rotation_keeps_max_file_files_of_max_size(host):
    script = "i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done"
    cdir = host.container(["/bin/sh", "-c", script], log_max_size=2000, log_max_file=3)
    launch.start(cdir)
    wait_exit(cdir)
    files = log_files(cdir)
    assert [os.path.basename(f) for f in files] == ["container.log.2", "container.log.1", "container.log"]
    assert all(os.path.getsize(f) <= 2000 for f in files)
    lines = [e["log"] for e in read_log(cdir)]
    assert lines[-1].startswith("line-299-")
    numbers = [int(ln.split("-")[1]) for ln in lines]
    assert numbers == list(range(numbers[0], 300)) and numbers[0] > 0  # the oldest were dropped, in order


def test_follow_goes_on_across_restarts_and_rotation(host):
    cdir = host.container(["/bin/sh", "-c", "echo start-$(date +%s%N)-xxxxxxxxxxxxxxxxxxxxxxxxxxxx; sleep 0.2; exit 1"],
                          restart="on-failure:3", log_max_size=300, log_max_file=2)
    launch.start(cdir)
    seen = [e["log"] for e in read_log(cdir, follow=True)]
    assert len([s for s in seen if s.startswith("start-")]) == 4, seen
    assert wait_exit(cdir)["restart_count"] == 3  # and its monitor is gone, having cleaned up


def test_since_until_and_tail(host):
    cdir = host.container(["/bin/sh", "-c", "echo a; echo b; sleep 0.5; echo c; echo d"])
    launch.start(cdir)
    wait_exit(cdir)
    entries = list(read_log(cdir))
    assert [e["log"] for e in entries] == ["a\n", "b\n", "c\n", "d\n"]
    from datetime import datetime

    t_c = datetime.fromisoformat(entries[2]["time"].replace("Z", "+00:00")).timestamp()
    assert [e["log"] for e in read_log(cdir, since=t_c - 0.2)] == ["c\n", "d\n"]
    assert [e["log"] for e in read_log(cdir, until=t_c - 0.2)] == ["a\n", "b\n"]
    assert [e["log"] for e in read_log(cdir, tail=1)] == ["d\n"]
    assert [e["log"] for e in read_log(cdir, tail=0)] == []
