"""`composer watch` and `up --watch` against a real stack: files edited on the host reach the container."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import BASE_IMAGE, REPO

SLEEPER = '["sh", "-c", "trap \'exit 0\' TERM; echo start >> /starts; while true; do sleep 1 & wait; done"]'


class Watcher:
    """`composer <args>` running in the background, its stderr collected in a file."""

    def __init__(self, cli, *args: str, env: dict[str, str] | None = None):
        self.cli = cli
        self.err_path = os.path.join(cli.cwd, ".watch.err")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "composer", "--root", cli.root, "-p", cli.project,
                                      *args], cwd=cli.cwd, stdout=self.err, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONPATH": REPO, **(env or {})})
        self.wait_for("Watch enabled", timeout=120)

    def output(self) -> str:
        with open(self.err_path) as f:
            return f.read()

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.output()
            if out.count(text) >= count:
                return out
            assert self.proc.poll() is None, f"watch ended ({self.proc.returncode}):\n{out}"
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} (x{count}) within {timeout}s:\n{self.output()}")

    def interrupt(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=60)
        finally:
            self.err.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def container_file(cli, service: str, path: str) -> str | None:
    res = cli("exec", service, "cat", path, check=False)
    return res.stdout if res.returncode == 0 else None


def eventually(fn, expected, watcher: Watcher | None = None, timeout: float = 30):
    deadline = time.monotonic() + timeout
    got = fn()
    while got != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        got = fn()
    assert got == expected, watcher.output() if watcher else ""
    return got


@pytest.fixture
def watching(cli):
    started: list[Watcher] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Watcher:
        w = Watcher(cli, *args, env=env)
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill()
    cli("down", "-t", "0", check=False)


def test_sync_new_changed_deleted_ignored_and_a_burst(cli, base_image, watching):
    cli.write("src/keep.txt", "kept\n")
    cli.write("compose.yaml", f"""services:
  app:
    image: {BASE_IMAGE}
    command: {SLEEPER}
    develop:
      watch:
        - path: ./src
          target: /app
          action: sync
          ignore: ["*.tmp", "cache/"]
          initial_sync: true
""")
    # a burst counts as one when its writes are no further apart than the quiet time (25 ms by default);
    # this loaded test machine may pause the writing loop longer than that
    w = watching("watch", env={"COMPOSER_WATCH_QUIET_MS": "300"})
    assert container_file(cli, "app", "/app/keep.txt") == "kept\n"  # initial_sync
    script = cli.write("src/run.sh", "#!/bin/sh\necho run\n")
    os.chmod(script, 0o755)
    eventually(lambda: cli("exec", "app", "/app/run.sh", check=False).stdout, "run\n", w)
    cli.write("src/keep.txt", "changed\n")
    eventually(lambda: container_file(cli, "app", "/app/keep.txt"), "changed\n", w)
    cli.write("src/skip.tmp", "no\n")
    cli.write("src/cache/big", "no\n")
    cli.write("src/sub/dir/deep.txt", "deep\n")
    eventually(lambda: container_file(cli, "app", "/app/sub/dir/deep.txt"), "deep\n", w)
    assert container_file(cli, "app", "/app/skip.tmp") is None
    assert container_file(cli, "app", "/app/cache/big") is None
    os.unlink(script)
    eventually(lambda: container_file(cli, "app", "/app/run.sh"), None, w)
    before = w.output().count("Syncing service")
    for i in range(20):
        cli.write(f"src/burst/f{i:02}", f"{i}\n")
    w.wait_for("after 20 changes were detected")
    eventually(lambda: container_file(cli, "app", "/app/burst/f19"), "19\n", w)
    time.sleep(0.3)  # a second batch would have been reported by now
    assert w.output().count("Syncing service") == before + 1
    # Ctrl-C stops watching, and the stack this watch started
    assert w.interrupt() == 0
    assert cli("ps", "-q").stdout.strip() == ""


def test_sync_writes_files_as_the_containers_user(cli, base_image, watching):
    """As Docker Compose: synced files (and the directories made for them) belong to the service's
    user, so a non-root app can rewrite them; the host files' modes are kept."""
    cli.write("src/conf.txt", "v1\n")
    cli.write("compose.yaml", f"""services:
  app:
    image: {BASE_IMAGE}
    user: "1234:2345"
    command: {SLEEPER.replace("echo start >> /starts; ", "")}
    develop:
      watch:
        - path: ./src
          target: /srv/app
          action: sync
""")
    w = watching("watch")
    cli.write("src/conf.txt", "v2\n")
    cli.write("src/new/deep.txt", "deep\n")
    eventually(lambda: container_file(cli, "app", "/srv/app/new/deep.txt"), "deep\n", w)
    eventually(lambda: container_file(cli, "app", "/srv/app/conf.txt"), "v2\n", w)
    owners = cli("exec", "-T", "app", "stat", "-c", "%u:%g %n", "/srv/app/conf.txt", "/srv/app/new",
                 "/srv/app/new/deep.txt").stdout.split("\n")
    assert [o.split()[0] for o in owners if o] == ["1234:2345"] * 3, owners
    # the app (not root) can rewrite a synced file
    cli("exec", "-T", "app", "sh", "-c", "echo mine > /srv/app/conf.txt")
    assert container_file(cli, "app", "/srv/app/conf.txt") == "mine\n"


def test_restart_and_sync_exec(cli, base_image, watching):
    cli.write("conf/value", "one\n")
    cli.write("restart-me", "x\n")
    cli.write("compose.yaml", f"""services:
  app:
    image: {BASE_IMAGE}
    command: {SLEEPER}
    develop:
      watch:
        - path: ./restart-me
          action: restart
        - path: ./conf
          target: /etc/app
          action: sync+exec
          exec:
            command: ["sh", "-c", "grep -qv bad /etc/app/value && cp /etc/app/value /value.copy"]
""")
    cli("up", "-d")
    w = watching("watch", "app")
    cli.write("conf/value", "two\n")
    eventually(lambda: container_file(cli, "app", "/value.copy"), "two\n", w)
    assert container_file(cli, "app", "/starts") == "start\n"
    cli.write("restart-me", "y\n")
    w.wait_for('service "app" restarted')
    assert container_file(cli, "app", "/starts") == "start\nstart\n"
    # a failing exec is reported and watching goes on
    cli.write("conf/value", "bad\n")
    w.wait_for("exec failed")
    cli.write("conf/value", "four\n")
    eventually(lambda: container_file(cli, "app", "/value.copy"), "four\n", w)
    # watch did not start the stack: Ctrl-C leaves it running
    assert w.interrupt() == 0
    assert cli("ps", "-q").stdout.strip() != ""


def rebuilt_app(cli) -> str:
    """Service `app` built from ./app (its /msg from app/msg, "v1"), rebuilt on any change there;
    returns its Dockerfile."""
    dockerfile = f"FROM {BASE_IMAGE}\nCOPY msg /msg\nCMD {SLEEPER}\n"
    cli.write("app/Dockerfile", dockerfile)
    cli.write("app/msg", "v1\n")
    cli.write("compose.yaml", """services:
  app:
    build: ./app
    develop:
      watch:
        - path: ./app
          action: rebuild
""")
    return dockerfile


def test_failing_rebuild_is_reported_and_a_fixed_one_recovers(cli, base_image, watching):
    good = rebuilt_app(cli)
    cli.write("app/.dockerignore", "notes.txt\n")
    w = watching("watch")
    assert container_file(cli, "app", "/msg") == "v1\n"
    cli.write("app/msg", "v2\n")
    w.wait_for('service "app" rebuilt')
    assert container_file(cli, "app", "/msg") == "v2\n"
    cli.write("app/Dockerfile", good.replace("COPY msg /msg", "RUN exit 3"))
    w.wait_for("rebuild failed")
    assert container_file(cli, "app", "/msg") == "v2\n"  # the old container still runs
    cli.write("app/notes.txt", "excluded by .dockerignore: no rebuild\n")
    cli.write("app/msg", "v3\n")
    cli.write("app/Dockerfile", good)
    out = w.wait_for('service "app" rebuilt', count=2)
    assert container_file(cli, "app", "/msg") == "v3\n"
    assert out.count("Rebuilding service") == 3
    assert w.interrupt() == 0


def test_up_watch_follows_logs_and_ctrl_c_stops_the_stack(cli, base_image, watching):
    cli.write("src/a.txt", "a\n")
    cli.write("compose.yaml", f"""services:
  app:
    image: {BASE_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; echo hello from app; while true; do sleep 1 & wait; done"]
    develop:
      watch:
        - path: ./src
          target: /src
          action: sync+restart
""")
    w = watching("up", "--watch")
    w.wait_for("hello from app")
    cli.write("src/a.txt", "b\n")
    w.wait_for('service "app" restarted')
    assert container_file(cli, "app", "/src/a.txt") == "b\n"
    w.wait_for("hello from app", count=2)  # the restarted container's output is followed too
    assert w.interrupt() == 130
    assert cli("ps", "-q").stdout.strip() == ""


def test_bad_rules_are_refused(cli, base_image):
    cli.write("compose.yaml", f"""services:
  app:
    image: {BASE_IMAGE}
    develop:
      watch:
        - path: ./missing
          target: /x
          action: sync
  plain:
    image: {BASE_IMAGE}
""")
    res = cli("watch", "app", check=False)
    assert res.returncode != 0 and "services.app.develop.watch[0].path" in res.stderr and "does not exist" in res.stderr
    res = cli("watch", "plain", check=False)
    assert res.returncode != 0 and "none of the selected services is configured for watch" in res.stderr
    assert cli("ps", "-a", "-q").stdout.strip() == ""


@pytest.mark.parametrize("prune", [True, False])
def test_rebuild_prunes_the_image_it_replaced_unless_told_not_to(cli, base_image, watching, prune):
    # and shows the build's steps, unless --quiet (given here with --prune=false)
    rebuilt_app(cli)
    w = watching("watch", *([] if prune else ["--prune=false", "--quiet"]))
    assert container_file(cli, "app", "/msg") == "v1\n"
    images = lambda: set(cli("image", "ls", "-q", "--no-trunc").stdout.split())  # noqa: E731
    before = images()
    cli.write("app/msg", "v2\n")
    out = w.wait_for('service "app" rebuilt')
    assert container_file(cli, "app", "/msg") == "v2\n"
    after = images()
    assert len(after - before) == 1, out  # the new build
    if prune:
        assert len(before - after) == 1, "the replaced image should be gone"
    else:
        assert before <= after, "with --prune=false the replaced image stays"
    rebuilt = out.split("Watch enabled", 1)[1]
    assert ("COPY msg /msg" in rebuilt) == prune, out  # the rebuild's steps: shown, or hidden by --quiet
    assert w.interrupt() == 0
