"""Lifecycle commands as a user runs them: restart policies and healthchecks from the stack file,
ps/inspect, logs options, run flags, cp, wait, attach, stop_signal and stop_grace_period."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO


def _ps(cli) -> list[dict]:
    return [json.loads(line) for line in cli("ps", "-a", "--format", "json").stdout.splitlines() if line.strip()]


def _inspect(cli, name: str) -> dict:
    return json.loads(cli("container", "inspect", name, project=False).stdout)[0]


def _until(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_policies_from_the_stack_file_and_restart_count_in_inspect(cli, base_image):
    cli.write("compose.yaml", """
services:
  flaky:
    image: composer/busybox
    command: ["sh", "-c", "echo try; exit 3"]
    restart: on-failure:2
  deployed:
    image: composer/busybox
    command: ["sh", "-c", "exit 1"]
    deploy:
      restart_policy: {condition: on-failure, max_attempts: 1, delay: 200ms}
  steady:
    image: composer/busybox
    command: ["sleep", "300"]
    restart: unless-stopped
""")
    cli("up", "-d")
    flaky = f"{cli.project}-flaky-1"
    _until(lambda: _inspect(cli, flaky)["status"] == "exited", what="flaky to give up")
    info = _inspect(cli, flaky)
    assert info["restart_count"] == 2 and info["exit_code"] == 3
    assert cli("logs", "--no-log-prefix", "flaky").stdout == "try\ntry\ntry\n"
    deployed = f"{cli.project}-deployed-1"
    _until(lambda: _inspect(cli, deployed)["status"] == "exited", what="deployed to give up")
    assert _inspect(cli, deployed)["restart_count"] == 1
    cli("stop", "-t", "0", "steady")
    time.sleep(0.3)
    steady = _inspect(cli, f"{cli.project}-steady-1")
    assert steady["status"] == "exited" and steady["restart_count"] == 0  # stop is not undone
    cli("down", "-t", "0")


def test_kill_turns_the_policy_off_until_the_next_start_a_crash_does_not(cli, base_image):
    # Docker: `kill` with SIGKILL or the stop signal disables the restart policy until the next start
    # (the container stays Exited (137)); another signal leaves it; a process that dies by itself
    # (a crash, the OOM killer) is restarted
    cli.write("compose.yaml", """
services:
  svc:
    image: composer/busybox
    command: ["sh", "-c", "trap 'echo hup' HUP; trap 'exit 143' TERM; echo ready; while true; do sleep 0.1; done"]
    restart: always
""")
    name = f"{cli.project}-svc-1"
    try:
        cli("up", "-d")
        _until(lambda: "ready" in cli("logs", "svc").stdout, what="the trap set")
        cli("kill", "-s", "HUP", "svc")
        _until(lambda: "hup" in cli("logs", "svc").stdout, what="the trap")
        assert _inspect(cli, name)["status"] == "running"
        cli("kill", "svc")
        _until(lambda: _inspect(cli, name)["status"] == "exited", what="the kill")
        time.sleep(1)  # the policy's first back-off is 100 ms
        info = _inspect(cli, name)
        assert (info["status"], info["exit_code"], info["restart_count"]) == ("exited", 137, 0)
        assert "Exited (137)" in cli("ps", "-a", "--format", "{{.Status}}").stdout
        cli("start", "svc")
        pid = _until(lambda: _inspect(cli, name)["pid"], what="the start")
        os.kill(pid, signal.SIGKILL)  # a crash: the policy is back on
        _until(lambda: _inspect(cli, name)["restart_count"] == 1 and _inspect(cli, name)["status"] == "running",
               what="the restart after the crash")
        cli("kill", "-s", "TERM", "svc")  # the stop signal is fatal too
        _until(lambda: _inspect(cli, name)["status"] == "exited", what="the TERM")
        time.sleep(1)
        assert _inspect(cli, name)["restart_count"] == 1
    finally:
        cli("down", "-t", "0", check=False)


def test_container_processes_start_with_default_signal_actions(cli, base_image):
    # an ignored signal stays ignored across execve, and a shell cannot trap a signal ignored on
    # entry: the monitor's SIGHUP, Python's SIGXFSZ and what the caller ignored must not reach the
    # container (Docker starts its processes with every signal at its default action)
    cli.write("compose.yaml", """
services:
  svc:
    image: composer/busybox
    command: ["sh", "-c", "trap 'echo hup' HUP; grep SigIgn /proc/self/status; while true; do sleep 0.1; done"]
  plain:
    image: composer/busybox
    command: ["grep", "SigIgn", "/proc/self/status"]
    init: true
""")
    try:
        with_ignored = subprocess.run(
            [sys.executable, "-c", "import signal, subprocess, sys; signal.signal(signal.SIGQUIT, signal.SIG_IGN); "
             "sys.exit(subprocess.run(sys.argv[1:]).returncode)", *cli._command(("up", "-d"))],
            cwd=cli.cwd, env={**os.environ, "PYTHONPATH": REPO}, capture_output=True, text=True, timeout=120)
        assert with_ignored.returncode == 0, with_ignored.stderr
        _until(lambda: "SigIgn" in cli("logs", "plain").stdout, what="plain's output")
        assert cli("logs", "--no-log-prefix", "plain").stdout.split() == ["SigIgn:", "0" * 16]
        assert cli("exec", "-T", "svc", "grep", "SigIgn", "/proc/self/status").stdout.split() == ["SigIgn:", "0" * 16]
        _until(lambda: "SigIgn" in cli("logs", "svc").stdout, what="the trap set")
        cli("kill", "-s", "HUP", "svc")
        _until(lambda: "hup" in cli("logs", "svc").stdout, what="the HUP trap")
    finally:
        cli("down", "-t", "0", check=False)


def test_an_invalid_restart_policy_is_one_line(cli, base_image):
    cli.write("compose.yaml", "services:\n  a:\n    image: composer/busybox\n    restart: sometimes\n")
    res = cli("up", "-d", check=False)
    assert res.returncode != 0 and "restart" in res.stderr and "Traceback" not in res.stderr
    assert res.stderr.startswith("error:") and res.stderr.count("\n") == 1
    assert "t" not in cli("container", "ls", "-a", project=False).stdout.splitlines()[1:]


def test_health_in_ps_and_inspect(cli, base_image):
    cli.write("compose.yaml", """
services:
  good:
    image: composer/busybox
    command: ["sleep", "300"]
    healthcheck: {test: "echo fine", interval: 100ms, retries: 2}
  bad:
    image: composer/busybox
    command: ["sleep", "300"]
    healthcheck: {test: ["CMD", "false"], interval: 100ms, retries: 2}
  slow:
    image: composer/busybox
    command: ["sleep", "300"]
    healthcheck: {test: ["CMD", "sleep", "10"], interval: 100ms, timeout: 200ms, retries: 1}
  plain:
    image: composer/busybox
    command: ["sleep", "300"]
""")
    cli("up", "-d")
    by = lambda: {e["Service"]: e for e in _ps(cli)}  # noqa: E731
    _until(lambda: by()["good"]["Health"] == "healthy" and by()["bad"]["Health"] == "unhealthy"
           and by()["slow"]["Health"] == "unhealthy", what="health states")
    entries = by()
    assert entries["good"]["Status"].endswith("(healthy)") and entries["good"]["Status"].startswith("Up ")
    assert entries["bad"]["Status"].endswith("(unhealthy)")
    assert entries["plain"]["Health"] == "" and "(" not in entries["plain"]["Status"]
    table = cli("ps").stdout
    assert "(healthy)" in table and "(unhealthy)" in table
    good = _inspect(cli, f"{cli.project}-good-1")
    assert good["health"] == "healthy" and good["health_log"][-1]["Output"] == "fine\n"
    slow = _inspect(cli, f"{cli.project}-slow-1")
    assert slow["health_log"][-1]["ExitCode"] == -1 and "timeout" in slow["health_log"][-1]["Output"]
    cli("down", "-t", "0")


def test_logs_options_and_rotation(cli, base_image):
    cli.write("compose.yaml", """
services:
  talk:
    image: composer/busybox
    command: ["sh", "-c", "echo one; echo two; sleep 1.2; echo three; i=0; while [ $$i -lt 200 ]; do echo filler-$$i-yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy; i=$$((i+1)); done; echo last; sleep 300"]
    logging:
      driver: json-file
      options: {max-size: 3k, max-file: "2"}
""")
    cli("up", "-d")
    _until(lambda: "last" in cli("logs", "talk").stdout, what="all output")
    files = sorted(f for f in os.listdir(_cdir(cli, "talk")) if f.startswith("container.log"))
    assert files == ["container.log", "container.log.1"]  # max-file 2: one rotated file kept
    assert all(os.path.getsize(os.path.join(_cdir(cli, "talk"), f)) <= 3000 for f in files)
    out = cli("logs", "--no-log-prefix", "talk").stdout
    assert "one\n" not in out and out.endswith("last\n")  # the oldest lines were rotated away
    assert cli("logs", "--no-log-prefix", "-n", "2", "talk").stdout.splitlines()[-1] == "last"
    stamped = cli("logs", "-t", "-n", "1", "talk").stdout
    assert stamped.startswith("talk-1  | 20") and "Z last" in stamped
    assert "\033[" not in cli("logs", "talk").stdout  # not a terminal: no colours
    assert cli("logs", "--since", "1h", "-n", "1", "--no-log-prefix", "talk").stdout == "last\n"
    assert cli("logs", "--until", "1h", "talk").stdout == ""
    assert cli("logs", "--since", "2999-01-01T00:00:00Z", "talk").stdout == ""
    bad = cli("logs", "--since", "yesterday-ish", "talk", check=False)
    assert bad.returncode != 0 and bad.stderr.startswith("error: --since")
    cli("down", "-t", "0")


def _cdir(cli, service: str) -> str:
    info = _inspect(cli, f"{cli.project}-{service}-1")
    return os.path.join(cli.root, "containers", info["id"])


def test_logs_follow_goes_on_across_a_restart(cli, base_image):
    cli.write("compose.yaml", """
services:
  app:
    image: composer/busybox
    command: ["sh", "-c", "echo started; sleep 300"]
""")
    cli("up", "-d")
    follower = subprocess.Popen([sys.executable, "-m", "composer", "--root", cli.root, "-p", cli.project,
                                 "logs", "-f", "--no-log-prefix"], cwd=cli.cwd, stdout=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONPATH": REPO})
    try:
        assert follower.stdout.readline() == "started\n"
        cli("restart", "-t", "0")
        assert follower.stdout.readline() == "started\n"  # the new run, seen by the same follower
        cli("stop", "-t", "0")
        follower.wait(timeout=20)  # everything stopped: the follower ends
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    cli("down", "-t", "0")


STACK = """
services:
  web:
    image: composer/busybox
    command: ["sleep", "300"]
    environment: {FROM_FILE: file}
    working_dir: /srv
    ports: ["127.0.0.1::80"]
    depends_on: [db]
  db:
    image: composer/busybox
    command: ["sleep", "300"]
"""


def test_run_flags_and_rm_leaves_nothing(cli, base_image, tmp_path):
    cli.write("compose.yaml", STACK)
    host_dir = tmp_path / "shared"
    host_dir.mkdir()
    (host_dir / "note").write_text("from the host")
    res = cli("run", "--rm", "-e", "EXTRA=1", "-u", "1000", "-w", "/tmp", "-v", f"{host_dir}:/mnt:ro", "web",
              "sh", "-c", "echo $FROM_FILE $EXTRA $(id -u) $(pwd) $(cat /mnt/note); echo err >&2; exit 5",
              check=False)
    assert res.returncode == 5
    assert res.stdout == "file 1 1000 /tmp from the host\n" and "err" in res.stderr
    # --rm left no container; the dependency was started (compose runs depends_on first)
    entries = _ps(cli)
    assert [e["Service"] for e in entries] == ["db"] and entries[0]["State"] == "running"
    # stdin reaches the process
    assert cli("run", "--rm", "-T", "--no-deps", "web", "cat", input="piped\n").stdout == "piped\n"
    # --entrypoint replaces the image's entrypoint and the service's command
    assert cli("run", "--rm", "-T", "--entrypoint", "echo", "web", "hello").stdout == "hello\n"
    cli("down", "-t", "0")
    assert cli("ps", "-a", "-q").stdout.strip() == ""


def test_run_detached_named_and_labelled_one_off(cli, base_image):
    cli.write("compose.yaml", STACK)
    name = cli("run", "-d", "--no-deps", "web", "sleep", "300").stdout.strip()
    assert name.startswith(f"{cli.project}-web-run-") and len(name.rsplit("-", 1)[1]) == 12
    info = _inspect(cli, name)
    assert info["labels"]["com.docker.compose.oneoff"] == "True" and info["status"] == "running"
    assert info["ports"] == []  # the service's ports are not published without --service-ports
    assert _ps(cli) == []  # --no-deps: db not started; ps lists no one-off
    named = cli("run", "-d", "--no-deps", "--name", "custom-one", "--service-ports", "-p", "127.0.0.1::81",
                "web", "sleep", "300").stdout.strip()
    assert named == "custom-one"
    ports = sorted(p["container_port"] for p in _inspect(cli, "custom-one")["ports"])
    assert ports == [80, 81]
    for n in (name, named):
        cli("container", "rm", "-f", n, project=False)
    cli("down", "-t", "0")


def test_cp_both_ways(cli, base_image, tmp_path):
    cli.write("compose.yaml", "services:\n  box:\n    image: composer/busybox\n    command: [sleep, '300']\n")
    cli("up", "-d")
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("alpha")
    (src / "b.txt").write_text("beta")
    cli("cp", str(src), "box:/data")  # a directory to a new path: it becomes that path
    cli("cp", str(src / "b.txt"), "box:/data/sub/")  # a file into a directory
    out = cli("exec", "-T", "box", "sh", "-c", "cat /data/sub/a.txt /data/b.txt /data/sub/b.txt; stat -c %u /data/b.txt")
    assert out.stdout == "alphabetabeta0\n"
    cli("exec", "-T", "box", "sh", "-c", "mkdir -p /out/d && echo made > /out/d/f && ln -s /etc/passwd /out/d/link")
    back = tmp_path / "back"
    cli("cp", "box:/out/d", str(back))
    assert (back / "f").read_text() == "made\n" and os.readlink(back / "link") == "/etc/passwd"
    cli("cp", "box:/out/d/.", str(tmp_path / "back"))  # contents into an existing directory
    cli("cp", "box:/out/d/f", str(tmp_path / "single"))
    assert (tmp_path / "single").read_text() == "made\n"
    missing = cli("cp", "box:/nope", str(tmp_path / "x"), check=False)
    assert missing.returncode != 0 and missing.stderr.startswith("error:") and "/nope" in missing.stderr
    assert not (tmp_path / "x").exists()
    both_local = cli("cp", str(src), str(tmp_path / "y"), check=False)
    assert both_local.returncode != 0 and "SERVICE:PATH" in both_local.stderr
    cli("stop", "-t", "0")
    cli("cp", str(src / "b.txt"), "box:/stopped.txt")  # a stopped container too
    cli("cp", "box:/stopped.txt", str(tmp_path / "stopped"))
    assert (tmp_path / "stopped").read_text() == "beta"
    cli("down", "-t", "0")


def test_wait_prints_exit_codes(cli, base_image):
    cli.write("compose.yaml", """
services:
  quick:
    image: composer/busybox
    command: ["sh", "-c", "sleep 0.3; exit 3"]
  later:
    image: composer/busybox
    command: ["sh", "-c", "sleep 0.6; exit 4"]
""")
    cli("up", "-d")
    res = cli("wait", "later", "quick", check=False)
    assert res.stdout.split() == ["4", "3"] and res.returncode == 3  # in the order asked; status of the first to stop
    missing = cli("wait", "nosuch", check=False)
    assert missing.returncode != 0 and "nosuch" in missing.stderr
    cli("down", "-t", "0")


def test_attach_streams_output_and_passes_ctrl_c(cli, base_image):
    cli.write("compose.yaml", """
services:
  loop:
    image: composer/busybox
    command: ["sh", "-c", "trap 'echo got-int; exit 9' INT; while true; do echo tick; sleep 0.1; done"]
""")
    cli("up", "-d")
    attached = subprocess.Popen([sys.executable, "-m", "composer", "--root", cli.root, "-p", cli.project,
                                 "attach", "loop"], cwd=cli.cwd, stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": REPO})
    try:
        assert attached.stdout.readline() == "tick\n"
        attached.send_signal(signal.SIGINT)
        rest = attached.stdout.read()
        assert attached.wait(timeout=20) == 9 and "got-int" in rest
    finally:
        if attached.poll() is None:
            attached.kill()
            attached.wait()
    cli("down", "-t", "0")


def test_stop_signal_and_grace_period(cli, base_image):
    cli.write("compose.yaml", """
services:
  usr1:
    image: composer/busybox
    command: ["sh", "-c", "trap 'echo bye-usr1; exit 0' USR1; echo ready; while true; do sleep 0.1; done"]
    stop_signal: SIGUSR1
  stubborn:
    image: composer/busybox
    command: ["sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"]
    stop_grace_period: 1s
""")
    cli("up", "-d")
    _until(lambda: cli("logs", "usr1").stdout.count("ready") and cli("logs", "stubborn").stdout.count("ready"),
           what="traps set")
    started = time.monotonic()
    cli("stop", "usr1")
    assert time.monotonic() - started < 5
    assert "bye-usr1" in cli("logs", "usr1").stdout
    assert _inspect(cli, f"{cli.project}-usr1-1")["exit_code"] == 0
    started = time.monotonic()
    cli("stop", "stubborn")
    took = time.monotonic() - started
    assert 0.9 <= took < 6  # waited the grace period, then killed
    assert _inspect(cli, f"{cli.project}-stubborn-1")["exit_code"] == 137
    cli("down", "-t", "0")


def test_the_image_healthcheck_applies_unless_the_service_changes_it(cli, base_image):
    cli.write("compose.yaml", """
x-image: &image
  image: lifecycle/checked:1
  command: ["sleep", "300"]
  build:
    context: .
    dockerfile_inline: |
      FROM composer/busybox
      HEALTHCHECK --interval=100ms --retries=2 CMD echo image-check
services:
  from-image:
    <<: *image
  tuned:
    <<: *image
    depends_on: [from-image]
    healthcheck: {test: ["CMD", "false"]}
  disabled:
    <<: *image
    depends_on: [from-image]
    healthcheck: {disable: true}
""")
    cli("up", "-d")
    by = lambda: {e["Service"]: e["Health"] for e in _ps(cli)}  # noqa: E731
    _until(lambda: by()["from-image"] == "healthy" and by()["tuned"] == "unhealthy", what="health states")
    assert by()["disabled"] == ""
    image_run = _inspect(cli, f"{cli.project}-from-image-1")
    assert image_run["health_log"][-1]["Output"] == "image-check\n"
    tuned = _inspect(cli, f"{cli.project}-tuned-1")  # the image's interval and retries, the service's test
    assert tuned["failing_streak"] >= 2 and tuned["health_log"][-1]["ExitCode"] == 1
    cli("down", "-t", "0")


def test_attach_writes_into_stdin_open(cli, base_image):
    cli.write("compose.yaml", """
services:
  reader:
    image: composer/busybox
    stdin_open: true
    command: ["sh", "-c", "echo ready; while read l; do [ \\"$$l\\" = quit ] && exit 6; echo got-$$l; done"]
""")
    cli("up", "-d")
    _until(lambda: "ready" in cli("logs", "reader").stdout, what="the reader")
    attached = subprocess.Popen([sys.executable, "-m", "composer", "--root", cli.root, "-p", cli.project,
                                 "attach", "reader"], cwd=cli.cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONPATH": REPO})
    try:
        attached.stdin.write("hello\n")
        attached.stdin.flush()
        assert attached.stdout.readline() == "got-hello\n"
        attached.stdin.write("quit\n")
        attached.stdin.flush()
        assert attached.wait(timeout=20) == 6
    finally:
        if attached.poll() is None:
            attached.kill()
            attached.wait()
    cli("down", "-t", "0")
