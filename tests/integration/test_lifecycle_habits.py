"""Docker Compose habits through the CLI, as a user has them: `up --wait` fails on a crashing service,
`down` takes profiled containers along, `start` honours depends_on conditions, `ps` shows commands as
Docker does, an attached `up` after `stop` prints only new output, and what a terminal shows (tmux)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

SLEEPER = '["sleep", "1000"]'


def ps(cli, *args: str) -> list[dict]:
    out = cli("ps", "--format", "json", *args).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def no_escapes(res: subprocess.CompletedProcess) -> None:
    assert "\x1b" not in res.stdout and "\x1b" not in res.stderr, (res.stdout, res.stderr)


# -- up --wait ------------------------------------------------------------------------------------

def test_up_wait_fails_when_a_service_crashes(cli, base_image):
    cli.write("compose.yaml", f"""
services:
  web:
    image: composer/busybox
    command: {SLEEPER}
    stop_signal: SIGKILL
  crash:
    image: composer/busybox
    command: ["sh", "-c", "echo boom; exit 3"]
""")
    res = cli("up", "--wait", check=False, timeout=60)
    assert res.returncode == 1, res.stderr
    assert f"container {cli.project}-crash-1 exited (3)" in res.stderr
    assert "Traceback" not in res.stderr
    no_escapes(res)
    cli("down", "-t", "0")

    # one that crashes a moment after it started (not at once) is caught too
    cli.write("compose.yaml", """
services:
  late:
    image: composer/busybox
    command: ["sh", "-c", "sleep 0.2; exit 1"]
""")
    res = cli("up", "--wait", check=False, timeout=60)
    assert res.returncode == 1 and f"container {cli.project}-late-1 exited (1)" in res.stderr, res.stderr
    cli("down", "-t", "0")


def test_up_wait_accepts_a_one_shot_that_others_wait_for_and_shows_it_exited(cli, base_image):
    cli.write("compose.yaml", f"""
services:
  migrate:
    image: composer/busybox
    command: ["sh", "-c", "echo migrated"]
  app:
    image: composer/busybox
    command: {SLEEPER}
    stop_signal: SIGKILL
    depends_on:
      migrate: {{condition: service_completed_successfully}}
""")
    res = cli("up", "--wait", timeout=60)
    last = {}
    for line in res.stderr.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "Container":
            last[words[1]] = words[2]
    assert last == {f"{cli.project}-migrate-1": "Exited", f"{cli.project}-app-1": "Running"}, res.stderr
    assert {c["Service"]: c["State"] for c in ps(cli, "-a")} == {"migrate": "exited", "app": "running"}
    cli("down", "-t", "0")

    # a one-shot nobody waits for is a service that stopped: --wait fails, as Docker Compose's does
    cli.write("compose.yaml", """
services:
  once:
    image: composer/busybox
    command: ["true"]
""")
    res = cli("up", "--wait", check=False, timeout=60)
    assert res.returncode == 1 and f"container {cli.project}-once-1 exited (0)" in res.stderr, res.stderr
    cli("down", "-t", "0")


def test_stack_up_wait_fails_on_a_crashing_service(engine_root, base_image, tmp_path):
    from composer.errors import ComposerError
    from composer.stack import Stack

    path = tmp_path / "compose.yaml"
    path.write_text('services:\n  crash:\n    image: composer/busybox\n    command: ["sh", "-c", "exit 7"]\n')
    stack = Stack(str(path), root=engine_root)
    try:
        with pytest.raises(ComposerError, match=r"container .*-crash-1 exited \(7\)"):
            stack.up(wait=True, timeout=30)
    finally:
        stack.down()


def test_pytest_fixture_errors_on_a_crashing_service(engine_root, base_image, tmp_path):
    (tmp_path / "compose.yaml").write_text(
        'services:\n  crash:\n    image: composer/busybox\n    command: ["sh", "-c", "exit 5"]\n')
    (tmp_path / "test_suite.py").write_text("""
import pytest

@pytest.mark.stack("compose.yaml")
def test_uses_the_stack(stack):
    pass
""")
    env = {**os.environ, "PYTHONPATH": REPO, "COMPOSER_ROOT": engine_root, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    res = subprocess.run([sys.executable, "-m", "pytest", "-p", "composer.pytest_plugin", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), "-q", str(tmp_path / "test_suite.py")], cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode != 0, res.stdout
    assert "1 error" in res.stdout and "exited (5)" in res.stdout, res.stdout


# -- down -------------------------------------------------------------------------------------------

def test_down_removes_profiled_containers_and_the_network(cli, base_image):
    cli.write("compose.yaml", f"""
services:
  web:
    image: composer/busybox
    command: {SLEEPER}
    stop_signal: SIGKILL
  debug:
    image: composer/busybox
    command: {SLEEPER}
    stop_signal: SIGKILL
    profiles: [debug]
""")
    cli("up", "-d")
    cli("--profile", "debug", "up", "-d")
    assert sorted(c["Service"] for c in ps(cli)) == ["debug", "web"]
    res = cli("down", check=False)
    assert res.returncode == 0, res.stderr
    assert "orphan" not in res.stderr.lower()
    no_escapes(res)
    assert cli("container", "ls", "-a", project=False).stdout.strip().splitlines()[1:] == []
    assert cli("network", "ls", "-q", project=False).stdout.strip() == ""


def test_down_removes_the_containers_of_a_renamed_service_too(cli, base_image):
    """As Docker Compose v2.40 does (tests/integration/test_docker_parity.py runs it under both): `down`
    takes every container of the project, those of services the file no longer names included, then
    the network, with no warning about orphans."""
    cli.write("compose.yaml", f"services:\n  old:\n    image: composer/busybox\n    command: {SLEEPER}\n"
                              "    stop_signal: SIGKILL\n")
    cli("up", "-d")
    cli.write("compose.yaml", f"services:\n  new:\n    image: composer/busybox\n    command: {SLEEPER}\n"
                              "    stop_signal: SIGKILL\n")
    res = cli("down", check=False)
    assert res.returncode == 0, res.stderr
    assert "orphan" not in res.stderr and "Resource is still in use" not in res.stderr, res.stderr
    no_escapes(res)
    assert ps(cli, "-a") == []
    assert cli("network", "ls", "-q", project=False).stdout.strip() == ""


# -- start --------------------------------------------------------------------------------------

def test_start_waits_for_healthy_and_completed_dependencies(cli, base_image):
    # db becomes healthy 2 s after each start (its marker lives on a tmpfs, gone when it stops)
    cli.write("compose.yaml", f"""
services:
  db:
    image: composer/busybox
    command: ["sh", "-c", "sleep 2; touch /state/ok; exec sleep 1000"]
    stop_signal: SIGKILL
    tmpfs: [/state]
    healthcheck:
      test: ["CMD", "test", "-f", "/state/ok"]
      interval: 0.3s
      retries: 50
  init:
    image: composer/busybox
    command: ["sh", "-c", "sleep 1; echo done"]
  app:
    image: composer/busybox
    command: {SLEEPER}
    stop_signal: SIGKILL
    depends_on:
      db: {{condition: service_healthy}}
      init: {{condition: service_completed_successfully}}
""")
    cli("up", "--wait", timeout=90)
    cli("stop")
    began = time.monotonic()
    res = cli("start", timeout=90)
    took = time.monotonic() - began
    states = {c["Service"]: (c["State"], c["Health"], c["ExitCode"]) for c in ps(cli, "-a")}
    assert states == {"db": ("running", "healthy", 0), "init": ("exited", "", 0), "app": ("running", "", 0)}, \
        res.stderr
    assert took >= 1.8, f"start returned after {took:.1f}s, before db could be healthy"
    lines = res.stderr.splitlines()
    healthy = next(i for i, line in enumerate(lines) if "db" in line and "Healthy" in line)
    started = next(i for i, line in enumerate(lines) if f"{cli.project}-app-1" in line and "Started" in line)
    assert healthy < started, res.stderr
    cli("down", "-t", "0")


def test_start_fails_when_a_dependency_does_not_complete(cli, base_image):
    cli.write("compose.yaml", f"""
services:
  init:
    image: composer/busybox
    command: ["sh", "-c", "test -f /fail-next-time && exit 4; touch /fail-next-time"]
  app:
    image: composer/busybox
    command: {SLEEPER}
    stop_signal: SIGKILL
    depends_on:
      init: {{condition: service_completed_successfully}}
""")
    cli("up", "--wait", timeout=90)
    cli("stop")
    res = cli("start", check=False, timeout=90)
    assert res.returncode != 0
    assert "service init didn't complete successfully: exit 4" in res.stderr
    assert {c["Service"]: c["State"] for c in ps(cli, "-a")}["app"] == "exited"
    cli("down", "-t", "0")


# -- ps ---------------------------------------------------------------------------------------

def test_ps_shows_the_image_command_multi_line_commands_on_one_line_sorted_by_name(cli, base_image,
                                                                                   rootfs_tar, engine_root):
    from engine.api import Engine

    Engine(engine_root).import_image(rootfs_tar, "composer/withcmd:latest", ['CMD ["sleep", "1000"]'])
    cli.write("compose.yaml", """
services:
  zeta:
    image: composer/withcmd
    stop_signal: SIGKILL
  alpha:
    image: composer/busybox
    stop_signal: SIGKILL
    command:
      - sh
      - -c
      - |
        echo one
        exec sleep 1000
  mid:
    image: composer/busybox
    stop_signal: SIGKILL
    command: ["sh", "-c", "exec sleep 1000"]
""")
    cli("up", "-d")
    lines = cli("ps").stdout.splitlines()
    assert len(lines) == 4, lines  # the header and one line per container: nothing breaks the table
    names = [line.split()[0] for line in lines[1:]]
    assert names == sorted(names) == [f"{cli.project}-alpha-1", f"{cli.project}-mid-1", f"{cli.project}-zeta-1"]
    assert '"sh -c \'echo one\\nexe…"' in lines[1]  # 19 characters (the newline one of them), an ellipsis
    assert '"sh -c \'exec sleep 1…"' in lines[2]
    assert '"sleep 1000"' in lines[3]
    wide = cli("ps", "--no-trunc").stdout.splitlines()
    assert '"sh -c \'echo one\\nexec sleep 1000\\n\'"' in wide[1]
    commands = {c["Service"]: c["Command"] for c in ps(cli)}
    assert commands["zeta"] == '"sleep 1000"'
    cli("down", "-t", "0")


# -- what a terminal shows ----------------------------------------------------------------------

class Tmux:
    """A tmux server of the test's own (its own socket) with one window running a command."""

    def __init__(self, tmp_path, command: str, cols: int = 100, rows: int = 30):
        self.socket = str(tmp_path / "tmux.sock")
        self.run("new-session", "-d", "-x", str(cols), "-y", str(rows), command)
        self.run("set-option", "-g", "history-limit", "5000")

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], check=True, capture_output=True, text=True,
                              env={**os.environ, "TERM": "xterm"}).stdout

    def screen(self) -> str:
        """Everything the terminal shows and has scrolled away (the scrollback)."""
        return self.run("capture-pane", "-p", "-J", "-S", "-")

    def expect(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            seen = self.screen()
            if text in seen:
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"did not see {text!r} in:\n{seen}")
            time.sleep(0.2)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)


needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def composer_command(cli, *args: str) -> str:
    import shlex

    cmd = [sys.executable, "-m", "composer", "--root", cli.root, "-p", cli.project, *args]
    script = f"cd {shlex.quote(cli.cwd)} && PYTHONPATH={shlex.quote(REPO)} {shlex.join(cmd)}; echo EXIT=$?; sleep 600"
    return "bash -c " + shlex.quote(script)  # bash goes on after a child that handled the Ctrl-C itself


@needs_tmux
def test_attached_up_after_stop_shows_only_new_output_and_ctrl_c_says_so(cli, base_image, tmp_path):
    cli.write("compose.yaml", """
services:
  talk:
    image: composer/busybox
    init: true
    volumes: [runs:/data]
    command: ["sh", "-c", "n=$$(cat /data/n 2>/dev/null || echo 0); n=$$((n+1)); echo $$n > /data/n; echo run-$$n-said; exec sleep 1000"]
volumes:
  runs: {}
""")
    cli("up", "-d")
    cli("stop")
    term = Tmux(tmp_path, composer_command(cli, "up"))
    try:
        term.expect("run-2-said")
        time.sleep(0.5)
        term.run("send-keys", "C-c")
        seen = term.expect("EXIT=")
    finally:
        term.close()
    assert "run-1-said" not in seen, seen  # the previous run's output is not replayed
    assert "Gracefully stopping... (press Ctrl+C again to force)" in seen, seen
    assert seen.index("run-2-said") < seen.index("Gracefully stopping") < seen.index("EXIT=130"), seen
    assert seen.count("[+]") == 2, seen  # one block for the up, one for the stop; no header twice
    assert "Stopped" in seen[seen.index("Gracefully stopping"):], seen
    cli("down", "-v", "-t", "0")


@needs_tmux
def test_the_live_display_does_not_fill_the_scrollback(cli, base_image, tmp_path):
    services = "".join(f"  service-with-a-rather-long-name-{i}:\n    image: composer/busybox\n"
                       f"    command: {SLEEPER}\n    stop_signal: SIGKILL\n" for i in range(8))
    cli.write("compose.yaml", "services:\n" + services)
    term = Tmux(tmp_path, composer_command(cli, "up", "-d"), cols=60, rows=8)
    try:
        seen = term.expect("EXIT=")
    finally:
        term.close()
    assert "EXIT=0" in seen, seen
    assert seen.count("[+] Running") == 1, seen  # redrawn in place: the header is never left behind
    assert "Running 9/9" in seen, seen
    cli("down", "-t", "0")
