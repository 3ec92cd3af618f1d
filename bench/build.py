"""Builder benchmark: a cold build, then cached rebuilds of an unchanged context, against `docker build`.

The Dockerfile has the usual shape (base image, ENV/WORKDIR, COPY of a 500-file context, two RUN
steps, metadata). Runs composer against a fresh engine root; where a Docker engine answers it runs
`docker build` on the same context and Dockerfile and prints the ratio. Needs root.

    python3 bench/build.py [--runs N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from spine import IMAGE, REPO, docker_available, summary, timed

DOCKERFILE = f"""FROM {IMAGE}
ENV APP=/srv/app
WORKDIR /srv/app
COPY src/ ./src/
RUN find src -type f | wc -l > /srv/count
RUN echo built > /srv/stamp
LABEL bench=build
EXPOSE 8080
CMD ["cat", "/srv/count"]
"""


def context(path: str, files: int = 500) -> None:
    os.makedirs(os.path.join(path, "src"))
    for i in range(files):
        sub = os.path.join(path, "src", f"d{i % 20}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{i}.txt"), "w") as f:
            f.write(f"file {i}\n" * 20)
    with open(os.path.join(path, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="composer-bench-")
    work = tempfile.mkdtemp(prefix="composer-bench-build-")
    composer = [sys.executable, "-m", "composer", "--root", root]
    docker = docker_available()
    ctx = os.path.join(work, "ctx")
    try:
        tar = os.path.join(work, "rootfs.tar")
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", "busybox_rootfs.py"), tar], check=True)
        subprocess.run(composer + ["image", "import", tar, IMAGE], check=True, stdout=subprocess.DEVNULL)
        if docker:
            subprocess.run(["docker", "import", tar, IMAGE], check=True, stdout=subprocess.DEVNULL)
        context(ctx)
        build = composer + ["image", "build", "-t", "bench/build", ctx]
        dbuild = ["docker", "build", "-t", "bench/build", ctx]
        summary("cold build", [timed(build)], [timed(dbuild)] if docker else None)
        ours = [timed(build) for _ in range(args.runs)]
        theirs = [timed(dbuild) for _ in range(args.runs)] if docker else None
        summary("cached rebuild (unchanged)", ours, theirs)
        with open(os.path.join(ctx, "src", "d0", "f0.txt"), "a") as f:
            f.write("changed\n")
        summary("rebuild after one file changed", [timed(build)], [timed(dbuild)] if docker else None)
        if not docker:
            print("(no Docker engine answered: composer numbers only)")
    finally:
        if docker:
            subprocess.run(["docker", "rmi", "bench/build"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
