"""Attack programs for the security tests: small C sources compiled here with `gcc -static`, so they
run in any container (busybox has no libc to link against)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def build(directory: str, name: str, source: str) -> str:
    """Compile *source* into *directory*/*name* (a static executable); its path."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the attack programs (tests/run.sh installs it)")
    os.makedirs(directory, exist_ok=True)
    src = os.path.join(directory, name + ".c")
    with open(src, "w") as f:
        f.write(source)
    out = os.path.join(directory, name)
    res = subprocess.run(["gcc", "-static", "-O2", "-o", out, src], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"cannot build {name}: {res.stderr}")
    os.unlink(src)
    return out
