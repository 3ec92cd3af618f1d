"""composer as a test fixture: `python -m pytest` here (as root, after `bash examples/up.sh` made the
composer/busybox image). Runs under pytest-xdist too (`-n 2 --dist loadscope`)."""
import os
import urllib.request

import pytest

from composer import Stack

pytestmark = pytest.mark.stack("compose.yaml", scope="module")


_seeded = {}  # stack name -> snapshot of its seeded volumes


@pytest.fixture
def db(stack):
    """The stack with its database seeded once, and reset to that state before every test."""
    if stack.name not in _seeded:
        stack.exec("db", "for i in 1 2 3; do echo row$i > /data/rows/$i; done")
        _seeded[stack.name] = stack.snapshot()
    stack.restore(_seeded[stack.name])  # milliseconds for a small database
    return stack


def test_web_answers(stack):
    host, port = stack.port("web", 80)
    assert b"ok" in urllib.request.urlopen(f"http://{host}:{port}/", timeout=5).read()


def test_delete_a_row(db):
    db.exec("db", "rm /data/rows/1")
    assert db.exec("db", "ls /data/rows").stdout.split() == ["2", "3"]


def test_rows_are_back(db):
    assert db.exec("db", "ls /data/rows").stdout.split() == ["1", "2", "3"]


def test_the_api_without_the_plugin():
    # up (and healthy) on entry, in a project of its own; down, volumes too, when the block ends
    with Stack(os.path.join(os.path.dirname(__file__), "compose.yaml")) as s:
        assert s.exec("db", "ls /data").stdout.split() == ["rows"]
        assert s.wait_for_http("web", 80, "/", timeout=10).strip() == b"<h1>ok</h1>"


@pytest.mark.stack("compose.yaml", reuse=True, timeout=60)
def test_a_reused_stack(stack):
    """Kept running after the run: the next run (or another xdist worker) starts warm, in milliseconds,
    as long as compose.yaml is unchanged; removed after 15 idle minutes (reuse_ttl=)."""
    assert [c.state for c in stack.ps()] == ["running", "running"]
