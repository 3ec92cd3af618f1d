"""Shared fixtures: a fresh engine root per test, the offline base image, and leak checks."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE_IMAGE = "composer/busybox:latest"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.root)
            if os.geteuid() != 0:
                item.add_marker(pytest.mark.skip(reason="needs root"))


@pytest.fixture(scope="session")
def rootfs_tar(tmp_path_factory) -> str:
    """A busybox root filesystem tarball made offline from Debian's busybox-static."""
    out = str(tmp_path_factory.mktemp("base") / "busybox-rootfs.tar")
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "busybox_rootfs.py"), out], check=True)
    return out


class CLI:
    """Runs `composer` as a user would, against one engine root and one project directory."""

    def __init__(self, root: str, cwd: str, project: str):
        self.root = root
        self.cwd = cwd
        self.project = project

    def __call__(self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None,
                 project: bool = True) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "composer", "--root", self.root]
        if project:
            cmd += ["-p", self.project]
        cmd += list(args)
        env = {**os.environ, "PYTHONPATH": REPO}
        res = subprocess.run(cmd, cwd=self.cwd, capture_output=True, text=True, timeout=timeout, input=input,
                             env=env)
        if check and res.returncode != 0:
            raise AssertionError(f"composer {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.cwd, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path


def _force_clean(root: str) -> None:
    """Tear down whatever a failed test left in its root (the leak check runs after this)."""
    from engine.api import Engine
    from engine.errors import EngineError

    if not os.path.exists(os.path.join(root, "engine.json")):
        return
    eng = Engine(root)
    for c in eng.list_containers():
        try:
            eng.remove_container(c.id, force=True)
        except (EngineError, OSError):
            pass
    try:
        nets = eng.list_networks()
    except (EngineError, OSError):
        nets = []
    for n in nets:
        try:
            eng.networks.remove(n.name)
        except (EngineError, OSError):
            pass


@pytest.fixture
def engine_root():
    """A fresh engine root; after the test, anything it still holds on the host fails the test."""
    from tests.support.host import leftovers

    root = tempfile.mkdtemp(prefix="composer-test-")
    yield root
    left = leftovers(root)
    _force_clean(root)
    still = leftovers(root)
    shutil.rmtree(root, ignore_errors=True)
    assert not left, "left behind after the test:\n" + "\n".join(left)
    assert not still, "could not clean up:\n" + "\n".join(still)


@pytest.fixture
def base_image(engine_root, rootfs_tar) -> str:
    from engine.api import Engine

    Engine(engine_root).import_image(rootfs_tar, BASE_IMAGE, [])
    return BASE_IMAGE


@pytest.fixture
def cli(engine_root, tmp_path) -> CLI:
    project = "t" + uuid.uuid4().hex[:8]
    return CLI(engine_root, str(tmp_path), project)


# -- the session-end leak check ---------------------------------------------------------------

def _host_snapshot() -> set[str]:
    from tests.support.host import _cmdlines, _links

    items: set[str] = set()
    for link in _links():
        if link.startswith(("cb", "cv")):
            items.add(f"link {link}")
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if "composer-test-" in line or " - overlay " in line or "/netns/" in line:
                items.add("mount " + line.split()[4])
    for ctrl in os.listdir("/sys/fs/cgroup") if os.path.isdir("/sys/fs/cgroup") else []:
        base = os.path.join("/sys/fs/cgroup", ctrl)
        if os.path.isdir(base):
            for d in os.listdir(base):
                if d.startswith("composer-") and os.path.isdir(os.path.join(base, d)):
                    items.add(f"cgroup {base}/{d}")
    for pid, cmd in _cmdlines():
        if "composer-test-" in cmd:
            items.add(f"process {pid}: {cmd[:100]}")
    return items


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        session.config._host_before = _host_snapshot()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_host_before", None)
    if before is None:
        return
    leaked = sorted(_host_snapshot() - before)
    if leaked:
        sys.stderr.write("\nLEAK CHECK FAILED: the test session left these on the host:\n  "
                         + "\n  ".join(leaked) + "\n")
        session.exitstatus = 1
