"""Pure logic of the runtime: users and groups, PATH lookup, restart policies, signals, log records."""
from __future__ import annotations

import json
import os
import re

import pytest

from engine.errors import EngineError
from engine.runtime.container_init import find_executable, resolve_user
from engine.runtime.initerror import InitError
from engine.runtime.launch import _signal_number
from engine.runtime.monitor import STOPPING, Monitor, now
from engine.store.records import encode_flat


@pytest.fixture
def etc(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n# a comment\napp:x:1000:1000:app:/home/app:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (tmp_path / "etc" / "group").write_text("root:x:0:\nwheel:x:10:app,other\napp:x:1000:\naudio:x:29:app\n"
                                           "nogroup:x:65534:\n")
    return str(tmp_path)


@pytest.mark.parametrize("spec,expected", [
    ("", (0, 0, [0], "/root")),
    ("root", (0, 0, [0], "/root")),
    ("app", (1000, 1000, [10, 29, 1000], "/home/app")),
    ("1000", (1000, 1000, [10, 29, 1000], "/home/app")),
    ("nobody", (65534, 65534, [65534], "/nonexistent")),
    ("4321", (4321, 0, [0], "/")),
    ("4321:4321", (4321, 4321, [4321], "/")),
    ("app:nogroup", (1000, 65534, [10, 29, 65534], "/home/app")),
    ("app:29", (1000, 29, [10, 29], "/home/app")),
])
def test_resolve_user(etc, spec, expected):
    assert resolve_user(spec, etc) == expected


def test_resolve_user_without_passwd_file(tmp_path):
    assert resolve_user("1000:1000", str(tmp_path)) == (1000, 1000, [1000], "/")
    with pytest.raises(InitError, match="unable to find user app"):
        resolve_user("app", str(tmp_path))


def test_unknown_names_are_errors(etc):
    with pytest.raises(InitError, match="unable to find user ghost: no matching entries in passwd file"):
        resolve_user("ghost", etc)
    with pytest.raises(InitError, match="unable to find group ghosts"):
        resolve_user("app:ghosts", etc)


def test_find_executable(tmp_path):
    exe = tmp_path / "tool"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    plain = tmp_path / "plain"
    plain.write_text("")
    env = {"PATH": f"/nonexistent:{tmp_path}"}
    assert find_executable("tool", env) == str(exe)
    assert find_executable(str(exe), env) == str(exe)
    with pytest.raises(InitError) as err:
        find_executable("plain", env)  # not executable: skipped in the PATH search, as Docker does
    assert err.value.code == 127 and str(err.value) == 'exec: "plain": executable file not found in $PATH'
    with pytest.raises(InitError) as err:
        find_executable("/no/such", env)
    assert err.value.code == 127 and "no such file or directory" in str(err.value)


@pytest.mark.parametrize("name,number", [("SIGTERM", 15), ("TERM", 15), ("sigkill", 9), ("9", 9), (2, 2),
                                         ("USR1", 10)])
def test_signal_names(name, number):
    assert _signal_number(name) == number


def test_unknown_signal_is_an_engine_error():
    with pytest.raises(EngineError, match="invalid signal: SIGNOPE"):
        _signal_number("SIGNOPE")


def _monitor(tmp_path, restart: str) -> Monitor:
    cfg = {"id": "c1", "state": str(tmp_path / "state.json"), "log": str(tmp_path / "container.log"),
           "cgroup_parent": "composer-test00", "restart": restart}
    return Monitor(str(tmp_path), cfg)


@pytest.mark.parametrize("policy,code,count,expected", [
    ("no", 1, 0, False), ("", 1, 0, False),
    ("always", 0, 0, True), ("always", 1, 99, True), ("unless-stopped", 0, 3, True),
    ("on-failure", 0, 0, False), ("on-failure", 1, 50, True),
    ("on-failure:2", 1, 1, True), ("on-failure:2", 1, 2, False), ("on-failure:2", 0, 0, False),
])
def test_restart_policy(tmp_path, policy, code, count, expected):
    assert _monitor(tmp_path, policy).should_restart(code, count) is expected


def test_no_restart_once_the_user_stopped_it(tmp_path):
    m = _monitor(tmp_path, "always")
    (tmp_path / STOPPING).touch()
    assert m.should_restart(1, 0) is False
    assert m.stopped_during(5) is True  # returns at once


def test_log_records_are_docker_json_file_lines(tmp_path):
    m = _monitor(tmp_path, "no")
    m.write_log("stdout", "héllo \"quoted\"\n".encode())
    m.write_log("stderr", b"\xff bad utf-8\n")
    lines = (tmp_path / "container.log").read_text().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["log"] == "héllo \"quoted\"\n" and first["stream"] == "stdout"
    assert second["stream"] == "stderr" and second["log"].endswith("bad utf-8\n")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first["time"])


def test_state_is_written_atomically_as_json(tmp_path):
    m = _monitor(tmp_path, "no")
    m.save(status="running", pid=12, monitor_pid=34, started_at=now(), oom_killed=False, error="")
    data = json.loads((tmp_path / "state.json").read_text())
    assert data["status"] == "running" and data["pid"] == 12 and data["oom_killed"] is False
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".") or p.endswith(".tmp")]
    assert json.loads(encode_flat({"a": "x\n\"", "b": None, "c": 1.5})) == {"a": "x\n\"", "b": None, "c": 1.5}
