"""Monitors forked by the fork server (engine/runtime/forkserver.py) behave as directly started ones."""
from __future__ import annotations

import os
import signal

import pytest

from engine.runtime import forkserver, launch
from engine.runtime.state import read_state
from tests.integration.test_runtime_support import host_fixture, output, wait_exit, wait_for

pytestmark = pytest.mark.root


@pytest.fixture
def host():
    yield from host_fixture()


def servers() -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"engine.runtime.forkserver" in f.read():
                    out.append(int(pid))
        except OSError:
            pass
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def parent(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("PPid:")).split()[1])


def test_monitor_names_its_container_and_the_cli_leaves_no_server(cli, base_image):
    cli.write("compose.yaml", f"services:\n  a:\n    image: {base_image}\n    command: [sleep, '300']\n"
                              f"  b:\n    image: {base_image}\n    command: [sleep, '300']\n")
    cli("up", "-d")
    try:
        ids = cli("ps", "-q").stdout.split()
        assert len(ids) == 2
        for cid in ids:
            state = read_state(os.path.join(cli.root, "containers", cid))
            assert state["status"] == "running"
            line = cmdline(int(state["monitor_pid"]))
            assert "engine.runtime.monitor" in line and cid in line
        # the command's server goes with it (one that outlived it would now be the child of pid 1)
        wait_for(lambda: not [pid for pid in servers() if parent(pid) == 1], timeout=5,
                 what="no fork server left without its command")
    finally:
        cli("down", "-t", "0")


def test_config_too_big_for_a_message_starts_the_monitor_directly(host):
    part = "x" * 60000  # one variable may have at most 128 KiB; three of these make a config too big
    cdir = host.container(["/bin/sh", "-c", 'echo "$((${#A} + ${#B} + ${#C}))"'],
                          process={"env": ["PATH=/bin:/usr/bin", f"A={part}", f"B={part}", f"C={part}"]})
    assert len(open(os.path.join(cdir, "config.json")).read()) > forkserver.MAX_MESSAGE
    launch.start(cdir)
    assert wait_exit(cdir)["exit_code"] == 0
    assert output(cdir).strip() == str(3 * len(part))


def test_a_killed_server_is_replaced(host):
    first = host.container(["/bin/sleep", "60"])
    launch.start(first)
    ours = [pid for pid in servers() if parent(pid) == os.getpid()]
    assert len(ours) == 1, "this process should have one fork server"
    os.kill(ours[0], signal.SIGKILL)
    wait_for(lambda: not cmdline(ours[0]), what="the server to exit")  # a zombie has no command line
    second = host.container(["/bin/sh", "-c", "echo again"])
    launch.start(second)
    assert wait_exit(second)["exit_code"] == 0 and output(second).strip() == "again"
    launch.stop(first, 0, "SIGKILL")
