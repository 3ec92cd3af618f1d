"""The Python API and the pytest plugin as test fixtures, beyond what testcontainers' DockerCompose
offers: up on entry, waiting for a log line or an HTTP answer, stdout and stderr apart, and stacks
reused between runs (keyed by their configuration, shared by workers, removed when idle)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from composer import Stack
from composer.errors import ComposerError
from engine.api import Engine
from tests.conftest import REPO
from tests.integration.test_pytest_plugin import run_suite

APP = """
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "echo out-line; echo err-line >&2; sleep 0.5; echo served > /tmp/index.html;
                           echo now listening; exec httpd -f -p 80 -h /tmp"]
    stop_signal: SIGKILL
  api:
    image: composer/busybox
    command: ["sh", "-c", "mkdir -p /w/cgi-bin; echo up > /w/index.html; exec httpd -f -p 8080 -h /w"]
    ports: ["127.0.0.1::8080"]
    stop_signal: SIGKILL
  once:
    image: composer/busybox
    command: ["sh", "-c", "echo bye; exit 0"]
    profiles: [oneshot]
"""


def write(tmp_path, text: str = APP, name: str = "compose.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_context_manager_waits_for_logs_and_http_and_splits_streams(engine_root, base_image, tmp_path):
    path = write(tmp_path)
    with Stack(path, root=engine_root) as s:  # up on entry: nothing else to call
        assert sorted((c.service, c.state) for c in s.ps()) == [("api", "running"), ("web", "running")]
        assert s.wait_for_log("web", r"now listen\w+", timeout=20) == "now listening"
        assert s.wait_for_http("web", 80, "/index.html", timeout=20) == b"served\n"  # not published: by address
        assert s.wait_for_http("api", 8080, timeout=20) == b"up\n"  # published: through the host port
        with pytest.raises(ComposerError, match=r"did not answer 200 within 1 s \(last: status 404\)"):
            s.wait_for_http("api", 8080, "/missing", timeout=1)
        assert s.wait_for_http("api", 8080, "/missing", status=404, timeout=5) is not None
        started = time.monotonic()
        with pytest.raises(ComposerError, match=r"no output matched 'never' within 0\.5 s"):
            s.wait_for_log("web", "never", timeout=0.5)
        assert time.monotonic() - started < 5
        assert s.logs("web", stream="stdout") == "out-line\nnow listening\n"
        assert s.logs("web", stream="stderr") == "err-line\n"
        assert "err-line" in s.logs("web") and "out-line" in s.logs("web")
        name = s.name
    assert [c for c in Engine(engine_root).list_containers() if c.labels.get("com.docker.compose.project") == name] == []


def test_wait_for_log_of_an_exited_service_fails_at_once(engine_root, base_image, tmp_path):
    path = write(tmp_path)
    s = Stack(path, root=engine_root, profiles=["oneshot"])
    try:
        s.up(wait=False, services=["once"])
        assert s.wait_for_log("once", "bye", timeout=20) == "bye"
        started = time.monotonic()
        with pytest.raises(ComposerError, match="service once exited before its output matched"):
            s.wait_for_log("once", "never", timeout=30)
        assert time.monotonic() - started < 10
    finally:
        s.down()


def test_a_missing_stack_file_is_one_clear_error(engine_root, tmp_path):
    with pytest.raises(ComposerError, match="stack file not found: .*nope.yaml"):
        Stack(str(tmp_path / "nope.yaml"), root=engine_root)


def _ids(root: str) -> dict[str, str]:
    return {c.name: c.id for c in Engine(root).list_containers()}


def test_reuse_keeps_it_warm_recreates_on_change_and_expires(engine_root, base_image, tmp_path):
    path = write(tmp_path)
    try:
        with Stack(path, root=engine_root, reuse=True) as s:
            first = _ids(engine_root)
            name = s.name
        assert _ids(engine_root) == first and len(first) == 2  # still running after exit
        with Stack(path, root=engine_root, reuse=True) as s:  # the same configuration: the same containers
            assert s.name == name and _ids(engine_root) == first
            assert s.wait_for_http("api", 8080, timeout=20) == b"up\n"
        write(tmp_path, APP.replace("echo up >", "echo changed >"))
        with Stack(path, root=engine_root, reuse=True) as s:  # a change: made anew, the old one gone
            assert s.name == name
            now = _ids(engine_root)
            assert now["%s-web-1" % name] != first["%s-web-1" % name] and len(now) == 2
            assert s.wait_for_http("api", 8080, timeout=20) == b"changed\n"
        # idle past its time-to-live: the next reusing run (of any stack) removes it
        with Stack(path, root=engine_root, reuse=True, reuse_ttl=0.2):
            pass
        time.sleep(0.5)
        other = write(tmp_path, "services:\n  x:\n    image: composer/busybox\n    command: [sleep, '60']\n"
                                "    stop_signal: SIGKILL\n", "other.yaml")
        with Stack(other, root=engine_root, reuse=True, project="other") as s2:
            assert sorted(_ids(engine_root)) == ["other-x-1"]
            s2.down()
    finally:
        for f in (path,):
            try:
                Stack(f, root=engine_root, reuse=True).down()
            except ComposerError:
                pass
    assert _ids(engine_root) == {}


def test_two_processes_share_one_reused_stack(engine_root, base_image, tmp_path):
    """As two pytest-xdist workers would: both start at once, one stack is made, both use it."""
    path = write(tmp_path, APP.replace("sleep 0.5", "sleep 1"))
    script = ("import sys; from composer import Stack\n"
              "with Stack(sys.argv[1], root=sys.argv[2], reuse=True) as s:\n"
              "    print(s.engine.inspect_container(s.name + '-web-1').id)\n")
    env = {**os.environ, "PYTHONPATH": REPO}
    procs = [subprocess.Popen([sys.executable, "-c", script, path, engine_root], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    try:
        outs = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        assert outs[0][0] == outs[1][0] and len(_ids(engine_root)) == 2, outs
    finally:
        Stack(path, root=engine_root, reuse=True).down()


def test_plugin_reuse_across_runs_and_workers_and_a_missing_file(engine_root, base_image):
    suite = os.path.join(REPO, "tests", "plugin_reuse")
    try:
        seen = set()
        for extra in ([], ["-n", "2"]):
            res = run_suite(engine_root, *extra, "-k", "reused", suite=suite)
            assert res.returncode == 0, res.stdout + res.stderr
            assert "4 passed" in res.stdout
            seen |= set(re.findall(r"CONTAINER (\S+ \S+)", res.stdout))
        assert len(seen) == 1, seen  # one container for both runs and both workers
        res = run_suite(engine_root, "-k", "missing", suite=suite)
        out = res.stdout + res.stderr
        assert res.returncode == 1 and "stack file not found:" in out and "no-such-compose.yaml" in out
        assert "Traceback" not in out and "def stack(" not in out, out
    finally:
        Stack(os.path.join(suite, "compose.yaml"), root=engine_root, reuse=True).down()
    assert _ids(engine_root) == {}
