"""composer's pytest plugin, used by a small suite of its own (tests/plugin_suite) run by pytest in a
subprocess: alone and under pytest-xdist with two workers."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

SUITE = os.path.join(REPO, "tests", "plugin_suite")


def run_suite(root: str, *extra: str, suite: str = SUITE, files: str = "check_*.py") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": REPO, "COMPOSER_ROOT": root, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    cmd = [sys.executable, "-m", "pytest", "-p", "composer.pytest_plugin", "-p", "xdist.plugin",
           "-p", "no:cacheprovider", "-o", f"python_files={files}", "--rootdir", suite,
           "--confcutdir", suite,  # not our tests/conftest.py: its session-end leak check is the outer run's
           "-s", "-rA", *extra, suite]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=suite, env=env, timeout=600)


@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "loadscope"]], ids=["serial", "xdist"])
def test_plugin_suite(engine_root, base_image, workers):
    res = run_suite(engine_root, *workers)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out  # exactly the one test that fails on purpose
    assert re.search(r"1 failed, 4 passed", out), out
    assert "composer logs" in out and "db is ready" in out  # the failing test's report has the logs
    projects = set(re.findall(r"PROJECT (\S+)", out))
    if not workers:
        assert len(projects) == 3  # one module-scoped stack shared by its tests, two function-scoped
    # every stack came down, the failing test's too
    from engine.api import Engine

    eng = Engine(engine_root)
    assert eng.list_containers() == [] and eng.list_networks() == [] and eng.list_volumes() == []


def test_plugin_is_registered_through_the_pytest11_entry_point():
    import tomllib

    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        meta = tomllib.load(f)
    assert meta["project"]["entry-points"]["pytest11"] == {"composer": "composer.pytest_plugin"}


def test_the_pytest_example_passes(engine_root, base_image):
    example = os.path.join(REPO, "examples", "pytest-fixture")
    try:
        res = run_suite(engine_root, "-n", "2", "--dist", "loadscope", suite=example, files="test_*.py")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "5 passed" in res.stdout
    finally:  # its reused stack stays up after the run, as it should: gone here
        from composer import Stack

        Stack(os.path.join(example, "compose.yaml"), root=engine_root, reuse=True).down()
