"""Loader benchmark: a 50-service project spread over a main file, two included projects and a
file of bases that services extend, loaded in-process (warm) and as `composer config -q` (a fresh
process: imports, validation cache). Where Docker Compose is installed, `docker compose config -q`
is timed on the same project and the ratio printed. Also reports whether a repeat load imported
jsonschema (it should not: validation results are cached by content hash).

    python3 bench/loader.py [--runs N] [--services N]
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


def service(i: int, extends: bool) -> str:
    deps = f"\n    depends_on: [svc{i - 1}]" if i % 5 else ""
    ext = "\n    extends: {file: bases.yaml, service: " + ("web" if i % 2 else "worker") + "}" if extends else ""
    return f"""  svc{i}:{ext}
    image: "registry.example/app{i}:${{TAG:-1.0}}"
    environment:
      - INDEX={i}
      - SHARED=${{SHARED:-x}}
    ports: ["{10000 + i}:80", "127.0.0.1:{20000 + i}:81/udp"]
    volumes: ["./data/{i}:/data", "cache{i % 3}:/cache:ro"]
    labels: [com.example.index={i}]
    healthcheck: {{test: "curl -f http://localhost", interval: 30s, timeout: 5s}}
    mem_limit: 256m{deps}
"""


def make_project(root: str, n: int) -> None:
    per = n // 3
    os.makedirs(os.path.join(root, "inc1"))
    os.makedirs(os.path.join(root, "inc2"))
    with open(os.path.join(root, "bases.yaml"), "w") as f:
        f.write("services:\n  web:\n    restart: always\n    environment: [ROLE=web]\n    networks: [front]\n"
                "  worker:\n    restart: on-failure\n    environment: [ROLE=worker]\n    command: work\n")
    vols = "volumes:\n  cache0:\n  cache1:\n  cache2:\n"
    for sub, lo, hi in (("inc1", 0, per), ("inc2", per, 2 * per)):
        with open(os.path.join(root, sub, "compose.yaml"), "w") as f:
            f.write("services:\n" + "".join(service(i, False) for i in range(lo, hi))
                    .replace(f"depends_on: [svc{lo - 1}]", "depends_on: []") + vols)
    with open(os.path.join(root, "compose.yaml"), "w") as f:
        f.write("include:\n  - inc1/compose.yaml\n  - inc2/compose.yaml\nservices:\n"
                + "".join(service(i, True) for i in range(2 * per, n))
                + "networks:\n  front:\n" + vols)


def median_ms(fn, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (this process and its children) of *fn*, in ms. On a
    shared, busy machine the CPU time is the steadier of the two."""
    import resource

    def cpu() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    walls, cpus = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), cpu()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(cpu() - start_cpu)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--services", type=int, default=50)
    a = ap.parse_args()
    sys.path.insert(0, REPO)
    from composer.load.loader import LoadOptions, load

    root = tempfile.mkdtemp(prefix="composer-bench-loader-")
    cache = tempfile.mkdtemp(prefix="composer-bench-cache-")
    try:
        make_project(root, a.services)
        env = {**os.environ, "XDG_CACHE_HOME": cache, "PYTHONPATH": REPO}
        os.environ["XDG_CACHE_HOME"] = cache
        project = load(LoadOptions(project_name="bench"), cwd=root)
        assert len(project.services) == a.services, sorted(project.services)
        wall, cpu = median_ms(lambda: load(LoadOptions(project_name="bench"), cwd=root), a.runs)
        print(f"in-process load of {a.services} services (include + extends): {wall:.1f} ms wall, {cpu:.1f} ms CPU")

        cmd = [sys.executable, "-m", "composer.cli.main", "-p", "bench", "config", "-q"]
        subprocess.run(cmd, cwd=root, env=env, check=True)
        cold, cold_cpu = median_ms(lambda: subprocess.run(cmd, cwd=root, env=env, check=True), max(3, a.runs // 4))
        print(f"`composer config -q` (fresh process, cached validation): {cold:.1f} ms wall, {cold_cpu:.1f} ms CPU")
        out = subprocess.run([sys.executable, "-X", "importtime", "-m", "composer.cli.main", "-p", "bench",
                              "config", "-q"], cwd=root, env=env, capture_output=True, text=True).stderr
        heavy = [m for m in ("jsonschema", "anyio") if f"| {m}\n" in out or f" {m}\n" in out]
        print("imports on a repeat load: " + (", ".join(heavy) if heavy else "no jsonschema or anyio"))
        if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
            dcmd = ["docker", "compose", "-p", "bench", "config", "-q"]
            docker, docker_cpu = median_ms(lambda: subprocess.run(dcmd, cwd=root, check=True, capture_output=True),
                                           max(3, a.runs // 4))
            print(f"`docker compose config -q`: {docker:.1f} ms wall, {docker_cpu:.1f} ms CPU "
                  f"(composer/docker: {cold / docker:.2f} wall, {cold_cpu / docker_cpu:.2f} CPU)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
