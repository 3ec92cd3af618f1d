"""Interoperability with Docker: archives both ways, registry pushes and pulls both ways.

These run only where a Docker engine answers (`docker info`); elsewhere they are skipped.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

from engine.api import Engine
from tests.support.registry import registry  # noqa: F401 - the fixture


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


pytestmark = pytest.mark.skipif(not _docker_answers(), reason="no Docker engine answers `docker info`")


def docker(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    res = subprocess.run(["docker", *args], capture_output=True, input=input, timeout=300)
    assert res.returncode == 0, f"docker {' '.join(args)}: {res.stderr.decode(errors='replace')}"
    return res


@pytest.fixture
def docker_name():
    """A unique name for images put into Docker; removed afterwards."""
    names: list[str] = []

    def make(prefix: str = "composer-interop") -> str:
        names.append(f"{prefix}-{uuid.uuid4().hex[:8]}")
        return names[-1]

    yield make
    for n in names:
        subprocess.run(["docker", "image", "rm", "-f", n + ":1"], capture_output=True)


def test_our_save_loads_in_docker_and_back(cli, base_image, engine_root, tmp_path, docker_name):
    name = docker_name()
    Engine(engine_root).tag_image(base_image, f"{name}:1")
    archive = str(tmp_path / "ours.tar")
    cli("image", "save", "-o", archive, f"{name}:1")
    docker("load", "-i", archive)
    assert docker("run", "--rm", f"{name}:1", "echo", "in-docker").stdout.strip() == b"in-docker"
    # and Docker's save of an image it built on ours loads here
    derived = docker_name()
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(f"FROM {name}:1\nRUN echo from-docker > /mark\n")
    docker("build", "-q", "-t", f"{derived}:1", str(tmp_path / "ctx"))
    theirs = str(tmp_path / "theirs.tar")
    docker("save", "-o", theirs, f"{derived}:1")
    assert f"Loaded image: {derived}:1" in cli("image", "load", "-i", theirs).stdout
    assert cli("container", "run", "--rm", f"{derived}:1", "cat", "/mark").stdout.strip() == "from-docker"


def test_push_pull_both_ways(cli, base_image, engine_root, registry, tmp_path, docker_name):  # noqa: F811
    ours = f"{registry.host}/{docker_name('ours')}"
    Engine(engine_root).tag_image(base_image, ours + ":1")
    digest = Engine(engine_root).push_image(ours + ":1").digest
    docker("pull", ours + ":1")
    repo_digests = json.loads(docker("image", "inspect", ours + ":1").stdout)[0]["RepoDigests"]
    assert f"{ours}@{digest}" in repo_digests
    assert docker("run", "--rm", ours + ":1", "echo", "pulled-by-docker").stdout.strip() == b"pulled-by-docker"
    theirs = f"{registry.host}/{docker_name('theirs')}"
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(f"FROM {ours}:1\nRUN echo pushed-by-docker > /mark\n")
    docker("build", "-q", "-t", theirs + ":1", str(tmp_path / "ctx"))
    docker("push", theirs + ":1")
    cli("image", "pull", theirs + ":1")
    assert cli("container", "run", "--rm", theirs + ":1", "cat", "/mark").stdout.strip() == "pushed-by-docker"
    subprocess.run(["docker", "image", "rm", "-f", ours + ":1"], capture_output=True)
