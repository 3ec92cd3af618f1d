"""The Python API (`from composer import Stack`) against a real stack."""
from __future__ import annotations

import os
import time
import urllib.request

import pytest

from composer import Stack
from composer.errors import ComposerError
from engine.api import NotFound
from tests.support.host import leftovers

STACK = """
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "echo '<p>hello from web</p>' > /tmp/index.html; echo web up; exec httpd -f -p 80 -h /tmp"]
    ports: ["127.0.0.1::80"]
    stop_signal: SIGKILL
  db:
    image: composer/busybox
    command: ["sh", "-c", "echo db up; exec sleep 1000"]
    stop_signal: SIGKILL
    volumes: [data:/data]
volumes:
  data: {}
"""


@pytest.fixture
def stack_file(tmp_path, base_image):
    path = tmp_path / "compose.yaml"
    path.write_text(STACK)
    return str(path)


def test_stack_up_port_exec_logs_ps_and_down_on_exit(stack_file, engine_root):
    with Stack(stack_file, root=engine_root) as s:
        s.up(wait=True)
        assert [(c.service, c.state) for c in s.ps()] == [("db", "running"), ("web", "running")]
        host, port = s.port("web", 80)
        body = ""
        for _ in range(100):
            try:
                body = urllib.request.urlopen(f"http://{host}:{port}/index.html", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.05)
        assert "hello from web" in body
        ok = s.exec("db", ["sh", "-c", "echo out; echo err >&2; exit 3"])
        assert (ok.exit_code, ok.stdout, ok.stderr) == (3, "out\n", "err\n")
        assert s.exec("db", "hostname").stdout.strip()
        assert "db up" in s.logs("db") and "web up" not in s.logs("db")
        assert "db up" in s.logs() and "web up" in s.logs()
        s.stop("web")
        assert {c.service: c.state for c in s.ps()}["web"] == "exited"
        s.start("web")
        assert {c.service: c.state for c in s.ps()}["web"] == "running"
        with pytest.raises(ComposerError, match="no such service"):
            s.exec("nope", "true")
        name = s.name
    assert s.ps() == []
    assert [v for v in s.engine.list_volumes() if v.name.startswith(name)] == []


def test_stack_comes_down_even_when_the_block_fails(stack_file, engine_root):
    with pytest.raises(RuntimeError):
        with Stack(stack_file, root=engine_root) as s:  # up, every service, on entry
            assert sorted(c.service for c in s.ps()) == sorted(s.project.services)
            raise RuntimeError("the test failed")
    assert s.ps() == []
    assert s.engine.list_networks() == []
    assert [ln for ln in leftovers(engine_root) if "process" in ln or "link" in ln] == []


def test_two_stacks_of_one_file_do_not_collide(stack_file, engine_root):
    with Stack(stack_file, root=engine_root) as a, Stack(stack_file, root=engine_root) as b:
        assert a.name != b.name
        a.up(services=["db"])
        b.up(services=["db"])
        a.exec("db", "echo a > /data/who")
        assert b.exec("db", "cat /data/who").exit_code != 0  # each stack has its own volume


def test_snapshot_and_restore_of_volumes(stack_file, engine_root):
    with Stack(stack_file, root=engine_root) as s:
        s.up(services=["db"])
        s.exec("db", "mkdir -p /data/rows && seq 1 1000 > /data/rows/all && chmod 640 /data/rows/all")
        snap = s.snapshot()
        assert {c.service: c.state for c in s.ps()}["db"] == "running"  # paused only while copying
        s.exec("db", "echo changed > /data/rows/all; touch /data/extra")
        s.restore(snap)
        assert s.exec("db", "wc -l < /data/rows/all").stdout.strip() == "1000"
        assert s.exec("db", "stat -c %a /data/rows/all").stdout.strip() == "640"
        assert s.exec("db", "test -e /data/extra").exit_code == 1
        s.exec("db", "echo again > /data/rows/all")
        s.restore(snap)  # a snapshot restores any number of times
        assert s.exec("db", "head -1 /data/rows/all").stdout.strip() == "1"
        # dropped, the copy is gone from the engine root, and restoring it is an error
        volume_dir = os.path.dirname(s.engine.inspect_volume(next(iter(snap.volumes))).mountpoint)
        before = sum(len(files) for _, _, files in os.walk(volume_dir))
        s.drop(snap)
        assert sum(len(files) for _, _, files in os.walk(volume_dir)) < before
        with pytest.raises(NotFound, match="no such volume snapshot"):
            s.restore(snap)
        assert {c.service: c.state for c in s.ps()}["db"] == "running"  # back up all the same
