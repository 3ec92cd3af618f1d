"""`container run --rm IMAGE true`, and `up -d` / a no-op `up -d` / `down` of a 10-service stack.

Runs composer against a fresh engine root; where a Docker engine answers (`docker info`), runs the
same with `docker run --rm` and `docker compose` and prints the ratio. Needs root.

    python3 bench/spine.py [--runs N]
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
IMAGE = "composer/busybox:latest"


def timed(cmd: list[str], cwd: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def stack_file(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    image: {IMAGE}", "    command: [\"sleep\", \"3600\"]", "    stop_signal: SIGKILL"]
    return "\n".join(lines) + "\n"


def monitor_rss(root: str) -> list[int]:
    """Resident memory (kB) of each container monitor of the engine root."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            if b"engine.runtime.monitor" in cmd and root.encode() in cmd:
                with open(f"/proc/{pid}/status") as f:
                    out += [int(line.split()[1]) for line in f if line.startswith("VmRSS:")]
        except OSError:
            continue
    return out


def docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def summary(name: str, ours: list[float], theirs: list[float] | None) -> None:
    m = statistics.median(ours)
    line = f"{name:<28} composer median {m * 1000:8.1f} ms  (min {min(ours) * 1000:.1f}, n={len(ours)})"
    if theirs:
        d = statistics.median(theirs)
        line += f" | docker median {d * 1000:8.1f} ms | docker/composer = {d / m:5.2f}x"
    print(line, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="composer-bench-")
    work = tempfile.mkdtemp(prefix="composer-bench-proj-")
    composer = [sys.executable, "-m", "composer", "--root", root]
    docker = docker_available()
    try:
        tar = os.path.join(work, "rootfs.tar")
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", "busybox_rootfs.py"), tar], check=True)
        subprocess.run(composer + ["image", "import", tar, IMAGE], check=True, stdout=subprocess.DEVNULL)
        if docker:
            subprocess.run(f"docker import {tar} {IMAGE}", shell=True, check=True, stdout=subprocess.DEVNULL)

        ours = [timed(composer + ["container", "run", "--rm", IMAGE, "true"]) for _ in range(args.runs)]
        theirs = [timed(["docker", "run", "--rm", IMAGE, "true"]) for _ in range(args.runs)] if docker else None
        summary("run --rm IMAGE true", ours, theirs)

        with open(os.path.join(work, "compose.yaml"), "w") as f:
            f.write(stack_file(10))
        ups, noops, downs, dups, dnoops, ddowns = [], [], [], [], [], []
        rss: list[int] = []
        for _ in range(max(3, args.runs // 3)):
            ups.append(timed(composer + ["-p", "bench", "up", "-d"], cwd=work))
            rss += monitor_rss(root)
            noops += [timed(composer + ["-p", "bench", "up", "-d"], cwd=work) for _ in range(3)]
            downs.append(timed(composer + ["-p", "bench", "down"], cwd=work))
            if docker:
                dups.append(timed(["docker", "compose", "-p", "bench", "up", "-d"], cwd=work))
                dnoops += [timed(["docker", "compose", "-p", "bench", "up", "-d"], cwd=work) for _ in range(3)]
                ddowns.append(timed(["docker", "compose", "-p", "bench", "down"], cwd=work))
        summary("up -d (10 services)", ups, dups or None)
        summary("up -d, nothing to do", noops, dnoops or None)
        summary("down (10 services)", downs, ddowns or None)
        if rss:
            print(f"{'monitor resident memory':<28} median {statistics.median(rss) / 1024:.1f} MB per container "
                  "(Docker's containerd-shim: about 13 MB)")
        if not docker:
            print("(no Docker engine answered: composer numbers only)")
    finally:
        subprocess.run(composer + ["-p", "bench", "down", "-v"], cwd=work, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
