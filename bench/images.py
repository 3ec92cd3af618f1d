"""Image benchmark: a layer of many small files — unpacked, loaded, pushed and pulled.

Makes one layer of N files (default 20,000 in 200 directories, a few hundred bytes each, some hard
and symbolic links) offline and times:
  unpack   engine.snapshots.unpack into a fresh directory, next to GNU `tar -x` of the same layer;
  load     `composer image load` of a `docker save`-style archive of it, and `docker load` of the
           same archive where a Docker engine answers (`docker info`), with the ratio;
  push/pull to a local registry (Debian's docker-registry on 127.0.0.1) where it is installed,
           next to `docker push`/`docker pull` where Docker answers.
Needs root (the layer's owners and device-free modes are restored as in a real unpack).

    python3 bench/images.py [--files N] [--runs R]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def make_layer(path: str, files: int) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        dirs = max(1, files // 100)
        for d in range(dirs):
            info = tarfile.TarInfo(f"data/d{d:04d}")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tar.addfile(info)
        for i in range(files):
            name = f"data/d{i % dirs:04d}/f{i:06d}"
            if i % 50 == 49:
                info = tarfile.TarInfo(name)
                info.type, info.linkname = tarfile.SYMTYPE, f"f{i - 1:06d}"
                tar.addfile(info)
                continue
            if i % 50 == 48:
                info = tarfile.TarInfo(name)
                info.type, info.linkname = tarfile.LNKTYPE, f"data/d{(i - 1) % dirs:04d}/f{i - 1:06d}"
                tar.addfile(info)
                continue
            body = (f"file {i}\n" * (20 + i % 40)).encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uid, info.gid = len(body), 0o644, 1_700_000_000, i % 3, i % 3
            tar.addfile(info, io.BytesIO(body))


def make_archive(layer: str, path: str, tag: str) -> None:
    """A `docker save` archive of a one-layer image of *layer*."""
    diff_id = "sha256:" + hashlib.sha256(open(layer, "rb").read()).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/data"]},
                         "created": "2026-01-01T00:00:00Z",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(path, "w") as tar:
        for name, data in ((config_name, config),
                           ("manifest.json", json.dumps([{"Config": config_name, "RepoTags": [tag],
                                                          "Layers": ["layer/layer.tar"]}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.add(layer, "layer/layer.tar")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def docker_answers() -> bool:
    try:
        return shutil.which("docker") is not None and subprocess.run(
            ["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def report(label: str, ours: list[float], theirs: list[float] | None = None, their_name: str = "docker") -> None:
    o = statistics.median(ours)
    line = f"{label:<28} composer {o * 1000:8.0f} ms"
    if theirs:
        t = statistics.median(theirs)
        line += f"   {their_name} {t * 1000:8.0f} ms   ({t / o:.2f}x)"
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()
    from engine.snapshots.unpack import unpack

    work = tempfile.mkdtemp(prefix="bench-images-")
    composer = [sys.executable, "-m", "composer"]
    env = {**os.environ, "PYTHONPATH": REPO}
    docker = docker_answers()
    try:
        layer = os.path.join(work, "layer.tar")
        make_layer(layer, opts.files)
        print(f"layer: {opts.files} entries, {os.path.getsize(layer) / 1e6:.1f} MB uncompressed", flush=True)

        ours, tar_x = [], []
        for i in range(opts.runs):
            target = os.path.join(work, f"u{i}")
            with open(layer, "rb") as f:
                ours.append(timed(lambda: unpack(f, target)))
            gnu = os.path.join(work, f"t{i}")
            os.makedirs(gnu)
            tar_x.append(timed(lambda: run(["tar", "-xpf", layer, "-C", gnu])))
            shutil.rmtree(target)
            shutil.rmtree(gnu)
        report("unpack", ours, tar_x, "tar -x")

        archive = os.path.join(work, "image.tar")
        make_archive(layer, archive, "bench/many:1")
        ours, theirs = [], []
        for i in range(opts.runs):
            root = os.path.join(work, f"root{i}")
            ours.append(timed(lambda: run([*composer, "--root", root, "image", "load", "-i", archive], env=env)))
            if docker:
                theirs.append(timed(lambda: run(["docker", "load", "-i", archive])))
                run(["docker", "image", "rm", "-f", "bench/many:1"])
            if i:
                shutil.rmtree(root)
        report("image load", ours, theirs or None)

        from tests.support.registry import Registry, available

        if available():
            reg = Registry(os.path.join(work, "registry"))
            try:
                name = f"{reg.host}/bench/many:1"
                root = os.path.join(work, "root0")
                run([*composer, "--root", root, "image", "tag", "bench/many:1", name], env=env)
                push = [timed(lambda: run([*composer, "--root", root, "image", "push", name], env=env))]
                pull = []
                for i in range(opts.runs):
                    fresh = os.path.join(work, f"pull{i}")
                    pull.append(timed(lambda: run([*composer, "--root", fresh, "image", "pull", name], env=env)))
                    shutil.rmtree(fresh)
                dpush, dpull = [], []
                if docker:
                    run(["docker", "load", "-i", archive])
                    run(["docker", "tag", "bench/many:1", f"{reg.host}/bench/docker:1"])
                    dpush.append(timed(lambda: run(["docker", "push", f"{reg.host}/bench/docker:1"])))
                    for _ in range(opts.runs):
                        run(["docker", "image", "rm", "-f", "bench/many:1", f"{reg.host}/bench/docker:1"])
                        dpull.append(timed(lambda: run(["docker", "pull", f"{reg.host}/bench/docker:1"])))
                    run(["docker", "image", "rm", "-f", f"{reg.host}/bench/docker:1"])
                report("push (first)", push, dpush or None)
                report("pull (fresh root)", pull, dpull or None)
            finally:
                reg.stop()
        if not docker:
            print("(no Docker engine answers `docker info`: Docker columns skipped)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
