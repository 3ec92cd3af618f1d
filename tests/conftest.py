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
SESSION = os.environ.setdefault("COMPOSER_TEST_SESSION", uuid.uuid4().hex[:8])


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/integration/" in str(item.fspath) or "/security/" in str(item.fspath):
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
        res = subprocess.run(self._command(args, project), cwd=self.cwd, capture_output=True, text=True,
                             timeout=timeout, input=input, env={**os.environ, "PYTHONPATH": REPO})
        if check and res.returncode != 0:
            raise AssertionError(f"composer {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res

    def _command(self, args, project: bool = True) -> list[str]:
        return [sys.executable, "-m", "composer", "--root", self.root, *(["-p", self.project] if project else []),
                *args]

    def popen(self, *args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
        """Start `composer ARGS...` in the background (the caller waits for it or kills it)."""
        return subprocess.Popen(self._command(args), cwd=self.cwd,
                                env={**os.environ, "PYTHONPATH": REPO, **(env or {})}, **kwargs)

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

    root = tempfile.mkdtemp(prefix=f"composer-test-{SESSION}-")
    yield root
    _record_root(root)
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
# Scoped to this session's engine roots (their paths and ids are recorded as tests finish), so test
# runs of other checkouts on the same host neither hide nor fake a leak.

def _roots_file() -> str:
    return os.path.join(tempfile.gettempdir(), f"composer-test-{SESSION}.roots")


def _record_root(root: str) -> None:
    from engine.paths import Paths

    try:
        paths = Paths.open(root, create=False)
        line = f"{root} {paths.root_id or '-'} {paths.cgroup_parent}\n"
    except (OSError, ValueError):
        line = f"{root} - -\n"
    with open(_roots_file(), "a") as f:
        f.write(line)


def _session_leftovers() -> list[str]:
    from tests.support.host import _cmdlines, _links

    try:
        with open(_roots_file()) as f:
            roots = [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return []
    found: set[str] = set()
    marker = f"composer-test-{SESSION}"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if marker in line:
                found.add("mount " + line.split()[4])
    ids = {rid[:5] for _, rid, _ in roots if rid != "-"}
    for link in _links():
        if link.startswith(("cb", "cv")) and any(i in link for i in ids):
            found.add(f"link {link}")
    parents = {cg for _, _, cg in roots if cg != "-"}
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        for ctrl in [base, *[os.path.join(base, c) for c in os.listdir(base)]] if os.path.isdir(base) else []:
            for cg in parents:
                if os.path.isdir(os.path.join(ctrl, cg)):
                    found.add(f"cgroup {os.path.join(ctrl, cg)}")
    for pid, cmd in _cmdlines():
        if marker in cmd and pid != os.getpid():
            found.add(f"process {pid}: {cmd[:100]}")
    return sorted(found)


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):
        return
    leaked = _session_leftovers()
    try:
        os.unlink(_roots_file())
    except FileNotFoundError:
        pass
    if leaked:
        sys.stderr.write("\nLEAK CHECK FAILED: the test session left these on the host:\n  "
                         + "\n  ".join(leaked) + "\n")
        session.exitstatus = 1
