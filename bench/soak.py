"""Soak: N containers (default 100) of one stack on one host, and what each costs outside itself.

Brings up a stack of N `sleep` services with `composer up -d` against a fresh engine root, keeps them
running for a while (checking they all stay up), and reports per container:
  - the monitor's resident memory (RSS), its proportional share (PSS: pages shared between monitors,
    such as the interpreter's, are split among them) and its private memory (USS);
  - the host memory that went away per container beyond what the containers themselves use
    (MemAvailable drop minus the containers' own cgroup usage): monitors, mounts, namespaces, veths.
    Noisy on a shared machine; the monitor figures are exact.
Docker's containerd-shim costs about 13 MB RSS per container. Needs root.

    python3 bench/soak.py [-n 100] [--hold 30]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "composer/busybox:latest"
DOCKER_SHIM_MB = 13.0


def composer(root: str, cwd: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": REPO}
    return subprocess.run([sys.executable, "-m", "composer", "--root", root, "-p", "soak", *args], cwd=cwd,
                          env=env, check=True, capture_output=True, text=True)


def stack_file(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    image: {IMAGE}", '    command: ["sleep", "3600"]', "    stop_signal: SIGKILL"]
    return "\n".join(lines) + "\n"


def monitors(root: str) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        # the monitor itself, not an `init: true` PID 1 forked from it (that one lives in the container)
        if b"engine.runtime.monitor" in cmd and root.encode() in cmd and _in_host_pidns(pid):
            out.append(int(pid))
    return out


def _in_host_pidns(pid: str) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid") == os.readlink("/proc/self/ns/pid")
    except OSError:
        return False


def memory_kb(pid: int) -> dict[str, int]:
    """Rss, Pss and USS (private clean + dirty) in kB, from smaps_rollup."""
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    fields[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        return {}
    return {"rss": fields.get("Rss", 0), "pss": fields.get("Pss", 0),
            "uss": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)}


def mem_available_kb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def containers_usage_kb(root: str) -> int:
    """What the containers themselves use (their cgroups' memory)."""
    sys.path.insert(0, REPO)
    from engine.paths import Paths

    parent = Paths.open(root).cgroup_parent
    for path in (f"/sys/fs/cgroup/memory/{parent}/memory.usage_in_bytes", f"/sys/fs/cgroup/{parent}/memory.current"):
        try:
            with open(path) as f:
                return int(f.read()) // 1024
        except OSError:
            continue
    return 0


def mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="containers (default 100)")
    parser.add_argument("--hold", type=float, default=30, help="seconds to keep them running (default 30)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak.py needs root")
    work = tempfile.mkdtemp(prefix="composer-soak-")
    root = os.path.join(work, "root")
    tar = os.path.join(work, "busybox.tar")
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "busybox_rootfs.py"), tar], check=True,
                   capture_output=True)
    env = {**os.environ, "PYTHONPATH": REPO}
    subprocess.run([sys.executable, "-m", "composer", "--root", root, "image", "import", tar, IMAGE], env=env,
                   check=True, capture_output=True)
    with open(os.path.join(work, "compose.yaml"), "w") as f:
        f.write(stack_file(args.n))
    before = mem_available_kb()
    try:
        start = time.perf_counter()
        composer(root, work, "up", "-d")
        up_s = time.perf_counter() - start
        deadline = time.monotonic() + args.hold
        worst_running = args.n
        while time.monotonic() < deadline:
            running = len(composer(root, work, "ps", "-q").stdout.split())
            worst_running = min(worst_running, running)
            time.sleep(min(5, max(deadline - time.monotonic(), 0)))
        pids = monitors(root)
        mems = [m for m in (memory_kb(p) for p in pids) if m]
        drop_kb = before - mem_available_kb()
        inside_kb = containers_usage_kb(root)
        start = time.perf_counter()
        composer(root, work, "ps")
        ps_s = time.perf_counter() - start
    finally:
        start = time.perf_counter()
        composer(root, work, "down")
        down_s = time.perf_counter() - start
        subprocess.run(["rm", "-rf", work], check=False)
    left = monitors(root)
    rss = mean([m["rss"] for m in mems]) / 1024
    pss = mean([m["pss"] for m in mems]) / 1024
    uss = mean([m["uss"] for m in mems]) / 1024
    outside = max(drop_kb - inside_kb, 0) / max(len(mems), 1) / 1024
    print(f"containers: {args.n} up in {up_s:.1f} s, ran {args.hold:.0f} s (fewest seen running: {worst_running}), "
          f"ps {ps_s * 1000:.0f} ms, down {down_s:.1f} s, monitors left after down: {len(left)}")
    print(f"per-container monitor: RSS {rss:.1f} MB, PSS {pss:.1f} MB, private {uss:.1f} MB "
          f"(Docker's shim: ~{DOCKER_SHIM_MB:.0f} MB RSS; ratio RSS {DOCKER_SHIM_MB / rss:.1f}x, "
          f"PSS {DOCKER_SHIM_MB / pss:.1f}x)" if mems else "no monitors found")
    print(f"host memory gone per container beyond the containers' own use: {outside:.1f} MB (noisy on a shared host)")
    return 0 if worst_running == args.n and not left else 1


if __name__ == "__main__":
    sys.exit(main())
