"""The container runtime on the real kernel: namespaces, root filesystem, mounts, users, log, errors."""
from __future__ import annotations

import json
import os
import time

import pytest

from engine.errors import EngineError
from engine.runtime import launch
from engine.runtime.exec import exec_in
from tests.integration.test_runtime_support import Host, host_fixture, output, wait_exit, wait_for


@pytest.fixture
def host():
    yield from host_fixture()


def run(host: Host, script: str, **overrides) -> tuple[dict, str]:
    """Start `sh -c script`, wait for it to end; (state, stdout+stderr)."""
    cdir = host.container(["/bin/sh", "-c", script], **overrides)
    launch.start(cdir)
    state = wait_exit(cdir)
    return state, output(cdir)


def test_output_goes_to_the_json_log_and_exit_code_is_recorded(host):
    cdir = host.container(["/bin/sh", "-c", "echo out; echo err >&2; printf partial; exit 3"])
    pid = launch.start(cdir)
    assert pid > 1
    state = wait_exit(cdir)
    assert state["exit_code"] == 3 and state["status"] == "exited"
    assert state["started_at"] and state["finished_at"] and state["error"] == ""
    with open(os.path.join(cdir, "container.log")) as f:
        entries = [json.loads(line) for line in f]
    assert {"log": "out\n", "stream": "stdout"}.items() <= entries[0].items() or \
        any(e["log"] == "out\n" and e["stream"] == "stdout" for e in entries)
    assert any(e["log"] == "err\n" and e["stream"] == "stderr" for e in entries)
    assert any(e["log"] == "partial" for e in entries)
    assert all(e["time"].endswith("Z") and "T" in e["time"] for e in entries)


def test_killed_by_a_signal_is_128_plus_signal(host):
    cdir = host.container(["sleep", "30"])
    launch.start(cdir)
    launch.kill(cdir, "KILL")
    assert wait_exit(cdir)["exit_code"] == 137


def test_hostname_pid_namespace_and_hidden_host_processes(host):
    state, out = run(host, "hostname; cat /etc/hostname; echo pid=$$; ps -o pid,comm; true")
    cid = os.path.basename(host.cdirs[-1])
    lines = out.splitlines()
    assert lines[0] == cid and lines[1] == cid
    assert lines[2] == "pid=1"
    procs = [line.split() for line in lines[4:]]
    assert sorted(p[1] for p in procs) == ["ps", "sh"]  # nothing of the host
    assert ["1", "sh"] in procs
    assert state["exit_code"] == 0


def test_root_is_overlay_and_writes_land_in_upper(host):
    state, out = run(host, "grep ' / / ' /proc/self/mountinfo; echo hello > /newfile; ls /dev; "
                           "grep -c . /proc/mounts >/dev/null; cat /etc/hosts")
    assert " - overlay " in out
    for dev in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx", "fd", "stdin"):
        assert dev in out.split(), dev
    assert "localhost" in out
    with open(os.path.join(host.cdirs[-1], "upper", "newfile")) as f:
        assert f.read() == "hello\n"
    assert not os.path.exists(os.path.join(host.lower, "newfile"))


def test_sys_is_read_only_and_proc_is_the_containers(host):
    state, out = run(host, "touch /sys/x 2>/dev/null && echo sys-writable; ls /proc | grep -c '^[0-9]'")
    assert "sys-writable" not in out
    assert int(out.split()[-1]) <= 3


def test_network_namespace_without_netns_has_only_lo(host):
    state, out = run(host, "ls /sys/class/net")
    assert out.split() == ["lo"]


def test_bind_mounts_read_write_and_read_only_and_tmpfs(host, tmp_path):
    rw = tmp_path / "rw"
    ro = tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (ro / "file").write_text("from host\n")
    mounts = [{"type": "bind", "source": str(rw), "target": "/data", "read_only": False},
              {"type": "bind", "source": str(ro), "target": "/deep/ro", "read_only": True},
              {"type": "tmpfs", "target": "/run/scratch", "options": "mode=755,size=1024k"}]
    state, out = run(host, "echo written > /data/out; cat /deep/ro/file; "
                           "(echo x > /deep/ro/new) 2>/dev/null || echo ro-refused; "
                           "grep ' /run/scratch ' /proc/mounts", mounts=mounts)
    assert (rw / "out").read_text() == "written\n"
    assert "from host" in out and "ro-refused" in out
    assert "tmpfs" in out and "size=1024k" in out
    assert not (ro / "new").exists()


def test_mount_target_through_a_symlink_stays_inside_the_rootfs(host, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(str(outside), os.path.join(host.lower, "escape"))  # absolute link to a host path
    mounts = [{"type": "bind", "source": str(src), "target": "/escape/mnt", "read_only": False}]
    state, out = run(host, "echo ok", mounts=mounts)
    assert state["exit_code"] == 0
    assert list(outside.iterdir()) == []  # nothing was created on the host through the link


def test_users_by_name_and_by_number(host):
    _, out = run(host, "id -u; id -g; id -G; echo $HOME", process={"user": "app"})
    assert out.split() == ["1000", "1000", "1000", "10", "/home/app"] or out.split()[:2] == ["1000", "1000"]
    assert "10" in out.split()[2:4]
    _, out = run(host, "id -u; id -g", process={"user": "nobody"})
    assert out.split() == ["65534", "65534"]
    _, out = run(host, "id -u; id -g", process={"user": "1234:1234"})
    assert out.split() == ["1234", "1234"]
    _, out = run(host, "id -u; id -g", process={"user": "app:nogroup"})
    assert out.split() == ["1000", "65534"]


def test_unknown_user_fails_to_start(host):
    cdir = host.container(["/bin/true"], process={"user": "ghost"})
    with pytest.raises(EngineError, match="unable to find user ghost"):
        launch.start(cdir)


def test_working_directory_is_created(host):
    state, out = run(host, "pwd", process={"cwd": "/work/deep/dir"})
    assert out.strip() == "/work/deep/dir"


def test_environment_and_path_lookup(host):
    cdir = host.container(["env"], process={"env": ["PATH=/bin", "GREETING=hi there"]})
    launch.start(cdir)
    wait_exit(cdir)
    out = output(cdir)
    assert "GREETING=hi there" in out.splitlines()


@pytest.mark.parametrize("args,code,message", [
    (["nosuchcmd"], 127, 'exec: "nosuchcmd": executable file not found in $PATH'),
    (["/no/such/file"], 127, "no such file or directory"),
    (["/bin/notexec"], 126, "permission denied"),
])
def test_start_failure_raises_the_docker_message_and_leaves_nothing(host, args, code, message):
    cdir = host.container(args)
    with pytest.raises(launch.StartError) as err:
        launch.start(cdir)
    assert message in str(err.value)
    assert err.value.exit_code == code
    assert "\n" not in str(err.value)
    state = launch.read_state(cdir)
    assert state["status"] == "exited" and state["exit_code"] == code and message in state["error"]
    # the monitor is gone and so are the cgroups (the fixture also checks mounts and processes)
    assert not launch._monitor_alive(int(state.get("monitor_pid") or 0))
    from tests.support.host import leftovers

    assert leftovers(host.paths.root) == []


def test_missing_bind_source_is_a_start_error(host, tmp_path):
    cdir = host.container(["true"], mounts=[{"type": "bind", "source": str(tmp_path / "nope"),
                                             "target": "/x", "read_only": False}])
    with pytest.raises(launch.StartError, match="bind mount source path does not exist"):
        launch.start(cdir)


def test_exec_runs_inside_with_exit_codes(host, tmp_path):
    cdir = host.container(["/bin/sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done"])
    launch.start(cdir)
    wait_for(lambda: "ready" in output(cdir), what="the trap")
    cid = os.path.basename(cdir)
    out_path = tmp_path / "out"
    with open(out_path, "wb") as out:
        code = exec_in(cdir, ["hostname"], ["PATH=/bin"], "", "/", None, out.fileno(), out.fileno())
        assert code == 0
        assert exec_in(cdir, ["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo"], ["PATH=/bin"], "", "/", None,
                       out.fileno(), None) == 0
        assert exec_in(cdir, ["sh", "-c", "exit 7"], ["PATH=/bin"], "", "/", None, None, None) == 7
        assert exec_in(cdir, ["mkdir", "-p", "/tmp/x"], ["PATH=/bin"], "", "/", None, None, None) == 0
        assert exec_in(cdir, ["sh", "-c", "echo $$; id -u; pwd; ls /sys/class/net"], ["PATH=/bin"],
                       "nobody", "/tmp/x", None, out.fileno(), None) == 0
        # as `docker exec`: a working directory that is not there is refused, never made
        assert exec_in(cdir, ["pwd"], ["PATH=/bin"], "", "/tmp/missing", None, None, None) == 126
    with open(tmp_path / "err", "wb") as err:
        assert exec_in(cdir, ["nosuchcmd"], ["PATH=/bin"], "", "/", None, None, err.fileno()) == 126  # as docker exec
        assert exec_in(cdir, ["/bin/notexec"], ["PATH=/bin"], "", "/", None, None, err.fileno()) == 126
    text = out_path.read_text().split("\n")
    assert text[0] == cid
    assert text[1].startswith("/bin/sh -c trap")
    pid_in_ns, uid, cwd, net = text[2], text[3], text[4], text[5]
    assert int(pid_in_ns) > 1 and uid == "65534" and cwd == "/tmp/x" and net == "lo"
    assert 'executable file not found in $PATH' in (tmp_path / "err").read_text()
    started = time.monotonic()
    launch.stop(cdir, 10)
    assert time.monotonic() - started < 5
    state = launch.read_state(cdir)
    assert state["exit_code"] == 0


def test_exec_in_a_stopped_container_is_an_error(host):
    state, _ = run(host, "true")
    with pytest.raises(EngineError, match="not running"):
        exec_in(host.cdirs[-1], ["true"], [], "", "/", None, None, None)


def test_exec_start_streams_through_a_pipe_and_forwards_signals(host):
    from engine.runtime.exec import exec_start

    cdir = host.container(["sleep", "300"])
    launch.start(cdir)
    r, w = os.pipe()
    proc = exec_start(cdir, ["/bin/sh", "-c", "trap 'echo got-term; exit 9' TERM; echo ready; "
                                              "while true; do sleep 0.05; done"],
                      ["PATH=/bin"], "", "/", None, w, w)
    os.close(w)
    with os.fdopen(r, "rb") as out:
        assert out.readline() == b"ready\n"
        assert proc.poll() is None
        proc.send_signal(15)
        assert proc.wait() == 9
        assert out.read() == b"got-term\n"
    proc2 = exec_start(cdir, ["sleep", "300"], ["PATH=/bin"], "", "/", None, None, None)
    time.sleep(0.1)
    assert proc2.container_pid > 0
    proc2.kill()
    assert proc2.wait() == 137
    assert not os.path.exists(f"/proc/{proc2.container_pid}")
    launch.stop(cdir, 0)


def test_home_defaults_from_the_image_passwd(host):
    _, out = run(host, "echo $HOME; id -un")
    assert out.split() == ["/root", "root"]
