"""A container does not outlive its monitor unnoticed.

The monitor is killed with SIGKILL (the OOM killer, a careless `kill -9`): the container's processes
must not live on as orphans of the host's init, `ps` must not show a dead container while its
processes run, and the next `up -d` must not start a second copy beside them.
"""
from __future__ import annotations

import glob
import json
import os
import random
import signal
import time

import pytest


def processes(argv: str) -> list[int]:
    """Host pids whose command line is exactly *argv* (space-separated)."""
    out = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace") == argv:
                    out.append(int(entry))
        except OSError:
            continue
    return out


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


MODES = {"default": "", "init": "    init: true\n", "host-pid": "    pid: host\n"}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_killing_the_monitor_leaves_no_process_and_no_second_copy(cli, base_image, engine_root, mode):
    background, main = (f"sleep {random.randint(100000, 999999)}" for _ in range(2))
    cli.write("compose.yaml", f"""
services:
  svc:
    image: composer/busybox
    command: ["sh", "-c", "{background} & exec {main}"]
    stop_grace_period: 0s
{MODES[mode]}""")
    try:
        cli("up", "-d")
        assert wait_until(lambda: len(processes(background)) == 1 and len(processes(main)) == 1, 30)
        short = json.loads(cli("ps", "--format", "json").stdout.splitlines()[0])["ID"]
        (cdir,) = glob.glob(os.path.join(engine_root, "containers", short + "*"))
        with open(os.path.join(cdir, "state.json")) as f:
            monitor = int(json.load(f)["monitor_pid"])
        os.kill(monitor, signal.SIGKILL)
        if mode != "host-pid":  # the container's PID 1 dies with its monitor, and its namespace with it
            assert wait_until(lambda: not processes(background) and not processes(main), 10), \
                "the container's processes outlived its monitor"
        else:  # PID 1 dies with the monitor; what it left in the host's pid namespace goes at the next start
            assert wait_until(lambda: not processes(main), 10), "the container's command outlived its monitor"
        assert "Exited (255)" in cli("ps", "-a").stdout
        cli("up", "-d")
        assert wait_until(lambda: len(processes(main)) == 1, 30)
        time.sleep(0.5)
        assert len(processes(background)) == 1 and len(processes(main)) == 1, \
            f"a second copy runs beside the first: {processes(background)} {processes(main)}"
        assert "Up " in cli("ps").stdout
    finally:
        cli("down", "-t", "0", check=False)
    assert not processes(background) and not processes(main)
