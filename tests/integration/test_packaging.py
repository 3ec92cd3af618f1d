"""composer as a user installs it: a wheel built from this tree, installed into a fresh virtualenv
(not editable, nothing of the checkout on the path), validates stack files and runs a stack."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

STACK = """
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "echo hello > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    stop_signal: SIGKILL
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> str:
    """The bin directory of a fresh virtualenv holding composer's wheel and its dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    for name in ("composer", "engine"):
        shutil.copytree(os.path.join(REPO, name), src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(REPO, name), src / name)
    quiet = ["-q", "--disable-pip-version-check"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", *quiet, "--no-deps", "-w", str(work / "dist"), str(src)],
                   check=True, timeout=300, cwd=str(work))
    [wheel] = [p for p in os.listdir(work / "dist") if p.endswith(".whl")]
    venv = work / "venv"
    subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", *quiet, str(work / "dist" / wheel)], check=True,
                   timeout=600, cwd=str(work))
    return str(venv / "bin")


def run(bindir: str, cwd, *args: str, check: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    res = subprocess.run([os.path.join(bindir, "composer"), *args], cwd=str(cwd), env=env, capture_output=True,
                         text=True, timeout=120)
    if check:
        assert res.returncode == 0, (args, res.stdout, res.stderr)
    return res


def test_the_wheel_carries_the_schema_and_runs_a_stack(installed, engine_root, rootfs_tar, tmp_path):
    where = subprocess.run([os.path.join(installed, "python"), "-c", "import composer, engine; "
                            "print(composer.__file__); print(engine.__file__)"], cwd=str(tmp_path),
                           capture_output=True, text=True, check=True).stdout.split()
    assert all("/venv/lib/" in p and not p.startswith(REPO + "/") for p in where), where

    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: composer/busybox\n    restrat: always\n")
    res = run(installed, tmp_path, "config")
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1, res
    assert "unknown attribute 'restrat'" in res.stderr and "compose.yaml:4" in res.stderr

    (tmp_path / "compose.yaml").write_text(STACK)
    root = ["--root", engine_root]
    run(installed, tmp_path, *root, "image", "import", rootfs_tar, "composer/busybox", check=True)
    run(installed, tmp_path, *root, "up", "-d", check=True)
    try:
        assert "Up" in run(installed, tmp_path, *root, "ps", check=True).stdout
        out = run(installed, tmp_path, *root, "exec", "-T", "web", "wget", "-q", "-O", "-", "http://127.0.0.1/",
                  check=True).stdout
        assert out == "hello\n"
    finally:
        run(installed, tmp_path, *root, "down", check=True)
    assert run(installed, tmp_path, *root, "ps", "-a", "-q", check=True).stdout.strip() == ""
