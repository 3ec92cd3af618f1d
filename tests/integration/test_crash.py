"""Crash safety: a `composer up` or `down` killed with SIGKILL at any moment leaves a state that the
next `up` or `down` converges from, and after the final `down` nothing of the stack is left."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import time

from tests.conftest import REPO
from tests.integration.test_stack import ps
from tests.support.host import leftovers

# a sitecustomize of the test's own, on PYTHONPATH before the repository: it makes the command kill
# itself as a given operation of its plan begins (production code reads no test hook)
CRASHPOINT = os.path.join(REPO, "tests", "support", "crashpoint")

STACK = """
services:
  db:
    image: composer/busybox
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    volumes: [data:/data]
  api:
    image: composer/busybox
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    depends_on: [db]
    networks: [default, back]
  web:
    image: composer/busybox
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    depends_on: [api]
networks:
  back: {}
volumes:
  data: {}
"""


def spawn(cli, *args: str, env: dict | None = None) -> subprocess.Popen:
    return cli.popen(*args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def killed_at(k: int) -> dict:
    return {"PYTHONPATH": f"{CRASHPOINT}{os.pathsep}{REPO}", "CRASHPOINT_OPERATION": str(k)}


def converged_up(cli) -> None:
    cli("up", "-d")
    running = sorted(c["Service"] for c in ps(cli) if c["State"] == "running")
    assert running == ["api", "db", "web"]
    assert len(ps(cli, "-a")) == 3


def converged_down(cli) -> None:
    cli("down", "-v", "-t", "0")
    assert ps(cli, "-a") == []
    assert cli("network", "ls", "-q", project=False).stdout.strip() == ""
    assert cli("volume", "ls", "-q", project=False).stdout.strip() == ""
    assert leftovers(cli.root) == []


def test_kill_at_every_operation_of_up_and_down(cli, base_image):
    cli.write("compose.yaml", STACK)
    steps = len(cli("up", "-d", "--dry-run").stdout.strip().splitlines())
    assert steps >= 8
    for k in range(1, steps + 1):
        # from nothing, up has every step of the dry run: it is killed at each of them
        assert spawn(cli, "up", "-d", env=killed_at(k)).wait() == -signal.SIGKILL, f"up not killed at step {k}"
        converged_up(cli)
        spawn(cli, "down", "-v", "-t", "0", env=killed_at(k)).wait()  # killed, unless it has fewer steps
        converged_down(cli)


def test_kill_at_random_moments(cli, base_image):
    cli.write("compose.yaml", STACK)
    seed = int(os.environ.get("COMPOSER_CRASH_SEED") or time.time())
    rng = random.Random(seed)
    for _ in range(int(os.environ.get("COMPOSER_CRASH_ROUNDS") or 3)):
        for command, converge in ((("up", "-d"), converged_up), (("down", "-v", "-t", "0"), converged_down)):
            p = spawn(cli, *command)
            delay = rng.uniform(0.02, 0.8)
            time.sleep(delay)
            p.send_signal(signal.SIGKILL)
            p.wait()
            try:
                converge(cli)
            except AssertionError as e:
                raise AssertionError(f"after {' '.join(command)} killed at {delay:.2f}s (seed {seed}): {e}") from None
    converged_down(cli)
