"""The spine end to end, driven through the `composer` command as a user would."""
from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ps(cli, *extra) -> list[dict]:
    out = cli("ps", "--format", "json", *extra).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def wait_for(fn, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (OSError, AssertionError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting; last result: {last!r}")


TWO_SERVICES = """
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "echo web says hi; echo '<p>from web</p>' > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    stop_grace_period: 1s
  worker:
    image: composer/busybox
    depends_on: [web]
    environment:
      ROLE: worker
    command: ["sh", "-c", "trap 'exit 0' TERM; echo worker $$ROLE started; while true; do sleep 1 & wait; done"]
"""


@pytest.fixture
def stack(cli, base_image):
    cli.write("compose.yaml", TWO_SERVICES)
    yield cli
    cli("down", "-v", check=False)


def test_up_ps_logs_exec_down(stack):
    cli = stack
    cli("up", "-d")
    entries = {e["Service"]: e for e in ps(cli)}
    assert set(entries) == {"web", "worker"}
    assert all(e["State"] == "running" for e in entries.values())
    assert entries["web"]["Name"] == f"{cli.project}-web-1"

    def both_logged():
        out = cli("logs").stdout
        return out if "worker worker started" in out and "web says hi" in out else None

    logs = wait_for(both_logged)
    assert "web-1" in logs and "worker-1" in logs
    assert "worker worker started" in cli("logs", "worker").stdout
    assert "web says hi" not in cli("logs", "worker").stdout

    res = cli("exec", "-T", "worker", "sh", "-c", "echo $ROLE; hostname; exit 3", check=False)
    assert res.returncode == 3
    assert res.stdout.splitlines()[0] == "worker"
    # an exec'd process sees the container's pid namespace: PID 1 is the service's command
    assert "sh" in cli("exec", "-T", "worker", "cat", "/proc/1/cmdline").stdout

    cli("stop", "worker")
    states = {e["Service"]: e["State"] for e in ps(cli, "-a")}
    assert states == {"web": "running", "worker": "exited"}
    cli("start", "worker")
    assert {e["Service"]: e["State"] for e in ps(cli)} == {"web": "running", "worker": "running"}

    cli("down")
    assert ps(cli, "-a") == []
    nets = cli("network", "ls", project=False).stdout
    assert f"{cli.project}_default" not in nets


def test_dns_by_service_name(stack):
    cli = stack
    cli("up", "-d")
    page = wait_for(lambda: cli("exec", "-T", "worker", "wget", "-q", "-O", "-", "http://web/index.html",
                                check=False).stdout)
    assert "from web" in page
    # the container name resolves too
    res = cli("exec", "-T", "worker", "nslookup", f"{cli.project}-web-1")
    web_ip = json.loads(cli("container", "inspect", f"{cli.project}-web-1", project=False).stdout)[0]["networks"]
    assert list(web_ip.values())[0] in res.stdout


def test_published_port_reachable_from_host(cli, base_image):
    port = free_port()
    cli.write("compose.yaml", f"""
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "echo published > /tmp/index.html; exec httpd -f -p 8000 -h /tmp"]
    ports: ["127.0.0.1:{port}:8000"]
    stop_grace_period: 1s
""")
    try:
        cli("up", "-d")
        body = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2).read())
        assert body == b"published\n"
        pub = ps(cli)[0]["Publishers"]
        assert pub == [{"URL": "127.0.0.1", "TargetPort": 8000, "PublishedPort": port, "Protocol": "tcp"}]
    finally:
        cli("down", check=False)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2)


def test_named_volume_survives_down_and_goes_with_down_v(cli, base_image):
    cli.write("compose.yaml", """
services:
  db:
    image: composer/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    volumes: ["data:/var/data"]
volumes:
  data: {}
""")
    try:
        cli("up", "-d")
        cli("exec", "-T", "db", "sh", "-c", "echo kept > /var/data/file")
        cli("down")
        assert f"{cli.project}_data" in cli("volume", "ls", project=False).stdout
        cli("up", "-d")
        assert cli("exec", "-T", "db", "cat", "/var/data/file").stdout == "kept\n"
        cli("down", "-v")
        assert f"{cli.project}_data" not in cli("volume", "ls", project=False).stdout
        cli("up", "-d")
        assert cli("exec", "-T", "db", "ls", "/var/data").stdout == ""
    finally:
        cli("down", "-v", check=False)


def test_second_up_changes_nothing(stack):
    cli = stack
    cli("up", "-d")
    first = {e["Service"]: e["ID"] for e in ps(cli)}
    res = cli("up", "-d")
    assert "Created" not in res.stderr and "Removed" not in res.stderr
    assert {e["Service"]: e["ID"] for e in ps(cli)} == first


def test_changed_service_is_recreated_alone(stack):
    cli = stack
    cli("up", "-d")
    first = {e["Service"]: e["ID"] for e in ps(cli)}
    cli.write("compose.yaml", TWO_SERVICES.replace("ROLE: worker", "ROLE: changed"))
    cli("up", "-d")
    second = {e["Service"]: e["ID"] for e in ps(cli)}
    assert second["web"] == first["web"]
    assert second["worker"] != first["worker"]
    assert cli("exec", "-T", "worker", "sh", "-c", "echo $ROLE").stdout == "changed\n"


# -- bad input: one clear line, non-zero exit, nothing half-created -------------------------

def assert_nothing_created(cli):
    assert cli.project not in cli("container", "ls", "-a", project=False).stdout
    assert cli.project not in cli("network", "ls", project=False).stdout
    assert cli.project not in cli("volume", "ls", project=False).stdout


def one_line_error(res) -> str:
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], res.stderr
    return errors[0]


def test_unknown_image(cli, base_image):
    cli.write("compose.yaml", """
services:
  ok:
    image: composer/busybox
    command: ["true"]
  bad:
    image: no/such-image:1.0
volumes:
  v: {}
""")
    line = one_line_error(cli("up", "-d", check=False))
    assert "no/such-image:1.0" in line and "bad" in line
    assert_nothing_created(cli)


def test_invalid_yaml_names_file_and_line(cli, base_image):
    path = cli.write("compose.yaml", "services:\n  web:\n    image: composer/busybox\n   command: [oops\n")
    line = one_line_error(cli("up", "-d", check=False))
    assert f"{path}:4" in line or f"{path}:5" in line
    assert_nothing_created(cli)


def test_schema_error_names_path(cli, base_image):
    path = cli.write("compose.yaml", "services:\n  web:\n    image: composer/busybox\n    imagee: typo\n")
    line = one_line_error(cli("config", check=False))
    assert f"{path}:4" in line and "imagee" in line


def test_unknown_service_name(stack):
    cli = stack
    for args in (("up", "-d", "nosuch"), ("logs", "nosuch"), ("exec", "-T", "nosuch", "true")):
        line = one_line_error(cli(*args, check=False))
        assert "nosuch" in line
    assert_nothing_created(cli)


def test_published_port_in_use(cli, base_image):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cli.write("compose.yaml", f"""
services:
  first:
    image: composer/busybox
    command: ["sleep", "30"]
  web:
    image: composer/busybox
    depends_on: [first]
    command: ["httpd", "-f", "-p", "80"]
    ports: ["127.0.0.1:{port}:80"]
volumes:
  v: {{}}
""")
        line = one_line_error(cli("up", "-d", check=False))
        assert str(port) in line and "in use" in line
        assert_nothing_created(cli)


def test_missing_volume_driver(cli, base_image):
    cli.write("compose.yaml", """
services:
  db:
    image: composer/busybox
    volumes: ["data:/data"]
volumes:
  data:
    driver: nosuch-driver
""")
    line = one_line_error(cli("up", "-d", check=False))
    assert "nosuch-driver" in line
    assert_nothing_created(cli)


def test_failed_start_leaves_nothing(cli, base_image):
    cli.write("compose.yaml", """
services:
  db:
    image: composer/busybox
    command: ["sleep", "30"]
    stop_signal: SIGKILL
  app:
    image: composer/busybox
    depends_on: [db]
    command: ["no-such-program"]
volumes:
  v: {}
""")
    line = one_line_error(cli("up", "-d", check=False))
    assert "no-such-program" in line and "app" in line
    assert_nothing_created(cli)


def test_attached_up_streams_prefixed_logs_until_exit(cli, base_image):
    cli.write("compose.yaml", """
services:
  one:
    image: composer/busybox
    command: ["sh", "-c", "echo first line; sleep 0.2; echo done"]
  two:
    image: composer/busybox
    command: ["echo", "from two"]
""")
    try:
        res = cli("up", timeout=30)
        lines = res.stdout.splitlines()
        assert "one-1  | first line" in lines and "one-1  | done" in lines
        assert "two-1  | from two" in lines
        states = {e["Service"]: (e["State"], e["ExitCode"]) for e in ps(cli, "-a")}
        assert states == {"one": ("exited", 0), "two": ("exited", 0)}
    finally:
        cli("down", check=False)


def test_logs_follow_ends_when_container_stops(cli, base_image):
    cli.write("compose.yaml", """
services:
  ticker:
    image: composer/busybox
    command: ["sh", "-c", "for i in 1 2 3; do echo tick $$i; sleep 0.2; done"]
""")
    try:
        cli("up", "-d")
        res = cli("logs", "-f", "--no-log-prefix", "ticker", timeout=20)
        assert res.stdout.splitlines() == ["tick 1", "tick 2", "tick 3"]
        assert cli("logs", "-n", "1", "ticker").stdout.strip().endswith("tick 3")
    finally:
        cli("down", check=False)


def test_project_commands_without_the_stack_file(stack, tmp_path):
    cli = stack
    cli("up", "-d")
    import os

    os.unlink(os.path.join(cli.cwd, "compose.yaml"))
    assert {e["Service"] for e in ps(cli)} == {"web", "worker"}
    cli("down")
    assert cli.project not in cli("container", "ls", "-a", project=False).stdout
    assert f"{cli.project}_default" not in cli("network", "ls", project=False).stdout
