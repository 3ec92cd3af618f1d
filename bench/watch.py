"""Hot-reload latency: from a file saved on the host to the new content inside the container.

Starts `composer watch` on a one-service stack with a sync rule, then repeatedly writes a file and
polls (every millisecond) the container's view of it through /proc/<PID 1>/root until the new content
shows. Where a Docker engine answers, runs `docker compose watch` on the same stack the same way.
Prints the medians. Needs root.

    python3 bench/watch.py [--runs N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from spine import docker_available

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "composer/busybox:latest"
ENV = {**os.environ, "PYTHONPATH": REPO}  # this checkout's composer
STACK = f"""services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    develop:
      watch:
        - path: ./src
          target: /src
          action: sync
"""


def wait_ready(proc: subprocess.Popen, log: str, text: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log) as f:
            if text in f.read():
                return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    with open(log) as f:
        raise SystemExit(f"watch did not start:\n{f.read()}")


def latencies(work: str, pid: int, runs: int) -> list[float]:
    inside = f"/proc/{pid}/root/src/probe.txt"
    host = os.path.join(work, "src", "probe.txt")
    out = []
    for i in range(runs + 1):
        text = f"edit {i} {time.time()}\n"
        start = time.perf_counter()
        with open(host, "w") as f:
            f.write(text)
        deadline = start + 10
        while time.perf_counter() < deadline:
            try:
                with open(inside) as f:
                    if f.read() == text:
                        break
            except OSError:
                pass
            time.sleep(0.001)
        else:
            raise SystemExit(f"edit {i} never reached the container")
        if i:  # the first edit also creates the file: warm-up
            out.append(time.perf_counter() - start)
        time.sleep(0.3)  # edits apart, as a person saves
    return out


def measure(cmd: list[str], work: str, ready: str, pid_of) -> list[float]:
    log = os.path.join(work, "watch.log")
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=work, stdout=f, stderr=subprocess.STDOUT, env=ENV)
    try:
        wait_ready(proc, log, ready)
        time.sleep(0.5)
        return latencies(work, pid_of(), ARGS.runs)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ARGS = ap.parse_args()
    root = tempfile.mkdtemp(prefix="composer-bench-")
    work = tempfile.mkdtemp(prefix="composer-bench-watch-")
    composer = [sys.executable, "-m", "composer", "--root", root, "-p", "benchwatch"]
    os.makedirs(os.path.join(work, "src"))
    with open(os.path.join(work, "compose.yaml"), "w") as f:
        f.write(STACK)
    docker = docker_available()
    try:
        tar = os.path.join(root, "rootfs.tar")
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", "busybox_rootfs.py"), tar], check=True)
        subprocess.run(composer + ["image", "import", tar, IMAGE], check=True, stdout=subprocess.DEVNULL, env=ENV)

        def our_pid() -> int:
            sys.path.insert(0, REPO)
            from engine.api import Engine

            return Engine(root).list_containers({"com.docker.compose.project": "benchwatch"})[0].pid

        ours = measure(composer + ["watch"], work, "Watch enabled", our_pid)
        m = statistics.median(ours)
        line = (f"save -> visible in container: composer median {m * 1000:.1f} ms "
                f"(min {min(ours) * 1000:.1f}, max {max(ours) * 1000:.1f}, n={len(ours)})")
        if docker:
            subprocess.run(f"docker import {tar} {IMAGE}", shell=True, check=True, stdout=subprocess.DEVNULL)

            def docker_pid() -> int:
                cid = subprocess.run(["docker", "compose", "-p", "benchwatch", "ps", "-q", "app"], cwd=work,
                                     capture_output=True, text=True, check=True).stdout.split()[0]
                return int(subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", cid], capture_output=True,
                                          text=True, check=True).stdout)

            theirs = measure(["docker", "compose", "-p", "benchwatch", "watch"], work, "Watch enabled", docker_pid)
            d = statistics.median(theirs)
            line += f" | docker compose median {d * 1000:.1f} ms | docker/composer = {d / m:.1f}x"
        else:
            line += " (no Docker engine answered: composer only)"
        print(line, flush=True)
    finally:
        subprocess.run(composer + ["down", "-t", "0"], cwd=work, capture_output=True, env=ENV)
        if docker:
            subprocess.run(["docker", "compose", "-p", "benchwatch", "down", "-t", "0"], cwd=work, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
