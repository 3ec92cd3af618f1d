"""Warm start of a reused stack (`Stack(reuse=True)`, `@pytest.mark.stack(..., reuse=True)`): how long a
run takes to get a stack that is already up as configured. Goal: under 100 ms.

Each sample is a fresh interpreter that enters and leaves `with Stack(path, reuse=True)`; it prints the
time from before `Stack(...)` to inside the block (what a test waits for), and the whole process.
Needs root.

    python3 bench/reuse.py [--runs N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = """
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "exec httpd -f -p 80 -h /tmp"]
    ports: ["127.0.0.1::80"]
    stop_signal: SIGKILL
  db:
    image: composer/busybox
    command: ["sleep", "3600"]
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    stop_signal: SIGKILL
"""
SAMPLE = """
import sys, time
from composer import Stack
start = time.perf_counter()
with Stack(sys.argv[1], root=sys.argv[2], reuse=True) as s:
    print(time.perf_counter() - start)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    runs = ap.parse_args().runs
    work = tempfile.mkdtemp(prefix="composer-bench-reuse-")
    root = os.path.join(work, "root")
    env = {**os.environ, "PYTHONPATH": REPO}
    path = os.path.join(work, "compose.yaml")
    with open(path, "w") as f:
        f.write(STACK)
    try:
        tar = os.path.join(work, "busybox.tar")
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", "busybox_rootfs.py"), tar], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "composer", "--root", root, "image", "import", tar, "composer/busybox"],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        inner, whole = [], []
        for i in range(runs + 1):
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", SAMPLE, path, root], check=True, env=env,
                                 capture_output=True, text=True).stdout
            elapsed = time.perf_counter() - started
            if i == 0:
                print(f"cold (made the stack): {elapsed * 1000:.0f} ms")
                continue
            inner.append(float(out.strip()) * 1000)
            whole.append(elapsed * 1000)
        print(f"warm start, Stack() to inside `with`: median {statistics.median(inner):.0f} ms "
              f"(min {min(inner):.0f}, max {max(inner):.0f}); goal under 100 ms")
        print(f"warm start, whole interpreter: median {statistics.median(whole):.0f} ms")
    finally:
        sys.path.insert(0, REPO)
        from composer import Stack

        Stack(path, root=root, reuse=True).down()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
