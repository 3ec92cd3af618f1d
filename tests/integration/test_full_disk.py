"""A full disk under a running stack: monitors keep their containers (and restart policies)
going, nothing piles up, and removing works on the full disk. The engine root is a small tmpfs of
the test's own, filled with a file."""
from __future__ import annotations

import errno
import glob
import json
import os
import subprocess
import time
import uuid

import pytest

from tests.conftest import BASE_IMAGE, CLI, _force_clean
from tests.support.host import leftovers

STACK = """
services:
  chatty:
    image: composer/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do echo line $$i; i=$$((i+1)); sleep 0.1; done"]
    stop_grace_period: 1s
    volumes: ["data:/data", "/scratch"]
  flaky:
    image: composer/busybox
    command: ["sh", "-c", "echo start; sleep 0.5; exit 3"]
    restart: always
volumes:
  data: {}
"""


@pytest.fixture
def small_root(engine_root, rootfs_tar, tmp_path):
    """A CLI whose engine root is a 24 MiB tmpfs (unmounted afterwards, whatever happened)."""
    from engine.api import Engine

    root = os.path.join(engine_root, "small")
    os.mkdir(root)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,nr_inodes=4k,mode=0700", "composer-test-full", root],
                   check=True)
    cli = CLI(root, str(tmp_path), "t" + uuid.uuid4().hex[:8])
    try:
        Engine(root).import_image(rootfs_tar, BASE_IMAGE, [])
        cli.write("compose.yaml", STACK)
        yield cli
    finally:
        _unfill(root)
        cli("down", "-v", "-t", "0", check=False)
        _force_clean(root)
        if subprocess.run(["umount", root], capture_output=True).returncode != 0:
            time.sleep(1)
            subprocess.run(["umount", "-l", root], check=False)


def _fill(root: str, inodes: bool = False) -> None:
    """Take every free byte of the tmpfs (with *inodes*, every free inode too: no file can be made)."""
    os.mkdir(os.path.join(root, "fill.d"))
    with open(os.path.join(root, "fill"), "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
    with pytest.raises(OSError):
        with open(os.path.join(root, "fill.d", "probe"), "wb") as f:
            f.write(b"x" * 8192)
    os.unlink(os.path.join(root, "fill.d", "probe"))
    if inodes:
        try:
            for i in range(1 << 20):
                os.close(os.open(os.path.join(root, "fill.d", str(i)), os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
        with pytest.raises(OSError):
            os.mkdir(os.path.join(root, "probe"))


def _unfill(root: str) -> None:
    import shutil

    shutil.rmtree(os.path.join(root, "fill.d"), ignore_errors=True)
    try:
        os.unlink(os.path.join(root, "fill"))
    except FileNotFoundError:
        pass


def _temporaries(root: str) -> list[str]:
    return [os.path.join(d, n) for d, _, names in os.walk(root) for n in names if ".tmp." in n]


def _state(root: str, service_name: str) -> dict:
    for cdir in glob.glob(os.path.join(root, "containers", "*")):
        with open(os.path.join(cdir, "record.json")) as f:
            if json.load(f)["name"].split("-")[-2] == service_name:
                with open(os.path.join(cdir, "state.json")) as f:
                    return json.load(f)
    raise AssertionError(f"no container of {service_name}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _wait(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_monitors_survive_a_full_disk_and_carry_on_when_space_returns(small_root):
    cli = small_root
    root = cli.root
    cli("up", "-d")
    _wait(lambda: _state(root, "flaky").get("restart_count", 0) >= 1, "flaky restarts")
    monitors = {svc: int(_state(root, svc)["monitor_pid"]) for svc in ("chatty", "flaky")}
    _fill(root)
    time.sleep(3)  # lines to log, states to record, restarts to make: all on a full disk
    for svc, pid in monitors.items():
        assert _alive(pid), f"the monitor of {svc} died on the full disk"
    assert _temporaries(root) == []
    assert "chatty" in cli("ps").stdout
    restarts = _state(root, "flaky")["restart_count"]
    lines = len(cli("logs", "chatty").stdout.splitlines())
    _unfill(root)
    # the restart policy kept going and the log takes lines again, as soon as there is room
    _wait(lambda: _state(root, "flaky")["restart_count"] > restarts, "flaky restarts after the disk has room")
    _wait(lambda: len(cli("logs", "chatty").stdout.splitlines()) > lines, "chatty logs after the disk has room")
    assert "Up " in cli("ps", "chatty").stdout
    for svc, pid in monitors.items():
        assert int(_state(root, svc)["monitor_pid"]) == pid


def test_rm_and_down_work_on_a_full_disk_and_leave_nothing(small_root):
    cli = small_root
    root = cli.root
    cli("up", "-d")
    _wait(lambda: "line 3" in cli("logs", "chatty").stdout, "chatty logs")
    assert len(os.listdir(os.path.join(root, "volumes"))) == 2  # data and /scratch
    _fill(root, inodes=True)
    cli("stop", "flaky", timeout=120)  # no file can be made to tell its monitor: it is told otherwise
    time.sleep(1.5)
    assert "Exited" in cli("ps", "-a", "flaky").stdout
    cli("rm", "-s", "-f", "-v", "chatty", timeout=120)
    assert cli("ps", "-a", "-q", "chatty").stdout.strip() == ""
    assert len(os.listdir(os.path.join(root, "volumes"))) == 1  # the anonymous one went with it
    cli("down", "-v", "-t", "0", timeout=120)
    assert cli("ps", "-a", "-q").stdout.strip() == ""
    assert os.listdir(os.path.join(root, "containers")) == []
    assert os.listdir(os.path.join(root, "volumes")) == []
    assert _temporaries(root) == []
    assert [x for x in leftovers(root) if x != f"mount {root}"] == []  # but the test's tmpfs
