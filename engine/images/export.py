"""`container export`: a container's filesystem (image layers + its changes) as one tar.

The merged view is made by overlayfs, read-only (the container's upper dir as the topmost lower),
in a child process with a mount namespace of its own: whatever happens to either process, the
mount never exists outside that child, so nothing can leak.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile

from engine.errors import EngineError


def export(layers: list[str], dest: str, scratch: str) -> None:
    """Tar the merged view of *layers* (top first) into *dest* ("-": standard output).
    *scratch* is a directory of ours where the (private) mount point is made."""
    os.makedirs(scratch, exist_ok=True)
    mnt = tempfile.mkdtemp(prefix="export-", dir=scratch)
    try:
        if dest == "-":
            out = sys.stdout.buffer
            out.flush()
            res = subprocess.run([sys.executable, "-m", "engine.images.export", mnt, *layers], stdout=out,
                                 stderr=subprocess.PIPE, env=_env())
        else:
            try:
                f = open(dest, "wb")
            except OSError as e:
                raise EngineError(f"cannot write {dest}: {e.strerror}") from None
            with f:
                res = subprocess.run([sys.executable, "-m", "engine.images.export", mnt, *layers], stdout=f,
                                     stderr=subprocess.PIPE, env=_env())
        if res.returncode != 0:
            if dest != "-":
                os.unlink(dest)
            err = res.stderr.decode(errors="replace").strip().splitlines()
            raise EngineError(f"export failed: {err[-1] if err else res.returncode}")
    finally:
        os.rmdir(mnt)


def _env() -> dict[str, str]:
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {**os.environ, "PYTHONPATH": here + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _child(mnt: str, layers: list[str]) -> None:
    from engine.runtime.syscalls import CLONE_NEWNS, MS_PRIVATE, MS_RDONLY, MS_REC, mount, unshare

    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    if len(layers) == 1:
        root = layers[0]
    else:
        mount("overlay", mnt, "overlay", MS_RDONLY, "lowerdir=" + ":".join(layers))
        root = mnt
    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(root)):
            tar.add(os.path.join(root, name), arcname=name)


if __name__ == "__main__":
    try:
        _child(sys.argv[1], sys.argv[2:])
    except OSError as e:
        print(f"{e}", file=sys.stderr)
        sys.exit(1)
