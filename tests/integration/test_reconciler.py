"""The reconciler through the CLI: recreate rules, depends_on conditions, scaling, orphans, --wait,
attached mode and serialisation, each checked the way a user would check it."""
from __future__ import annotations

import subprocess
import threading
import time

import pytest

from tests.integration.test_stack import ps, wait_for

SLEEPER = '["sh", "-c", "trap \'exit 0\' TERM; while true; do sleep 1 & wait; done"]'


def ids(cli) -> dict[str, str]:
    return {c["Name"]: c["ID"] for c in ps(cli, "-a")}


def test_config_change_recreates_the_service_and_its_restart_true_dependents(cli, base_image):
    stack = f"""
services:
  db:
    image: composer/busybox
    command: {SLEEPER}
    environment: {{VERSION: "1"}}
  api:
    image: composer/busybox
    command: {SLEEPER}
    depends_on:
      db: {{condition: service_started, restart: true}}
  web:
    image: composer/busybox
    command: {SLEEPER}
    depends_on: [db]
"""
    cli.write("compose.yaml", stack)
    cli("up", "-d")
    before = ids(cli)
    cli.write("compose.yaml", stack.replace('VERSION: "1"', 'VERSION: "2"'))
    dry = cli("up", "-d", "--dry-run").stdout
    assert "recreate" in dry and "its configuration changed" in dry and "dependency db was recreated" in dry
    assert ids(cli) == before  # a dry run changes nothing
    cli("up", "-d")
    after = ids(cli)
    p = cli.project
    assert after[f"{p}-db-1"] != before[f"{p}-db-1"]
    assert after[f"{p}-api-1"] != before[f"{p}-api-1"]
    assert after[f"{p}-web-1"] == before[f"{p}-web-1"]
    assert cli("exec", "-T", "db", "sh", "-c", "echo $VERSION").stdout.strip() == "2"
    assert cli("up", "-d", "--dry-run").stdout.strip().startswith("nothing to do")
    cli("down")


def test_completed_successfully_gates_dependents_both_ways(cli, base_image):
    stack = """
services:
  migrate:
    image: composer/busybox
    command: ["sh", "-c", "sleep 0.3; exit CODE"]
  app:
    image: composer/busybox
    command: ["sh", "-c", "echo app started; sleep 100"]
    depends_on:
      migrate: {condition: service_completed_successfully}
"""
    cli.write("compose.yaml", stack.replace("CODE", "0"))
    cli("up", "-d")
    states = {c["Service"]: (c["State"], c["ExitCode"]) for c in ps(cli, "-a")}
    assert states == {"migrate": ("exited", 0), "app": ("running", 0)}
    cli("down", "-t", "0")

    cli.write("compose.yaml", stack.replace("CODE", "3"))
    res = cli("up", "-d", check=False)
    assert res.returncode != 0
    assert "migrate didn't complete successfully: exit 3" in res.stderr
    assert res.stderr.count("error:") == 1
    states = {c["Service"]: c["State"] for c in ps(cli, "-a")}
    assert states["app"] == "created"  # never started; the failed migration stays for its logs
    cli("down", "-t", "0")


def test_optional_dependency_failure_does_not_stop_dependents(cli, base_image):
    cli.write("compose.yaml", """
services:
  seed:
    image: composer/busybox
    command: ["false"]
  app:
    image: composer/busybox
    command: ["sleep", "100"]
    depends_on:
      seed: {condition: service_completed_successfully, required: false}
""")
    res = cli("up", "-d")
    assert "optional dependency seed" in res.stderr
    assert {c["Service"]: c["State"] for c in ps(cli, "-a")}["app"] == "running"
    cli("down", "-t", "0")


def test_scale_up_and_down_with_dns_following_the_replicas(cli, base_image):
    cli.write("compose.yaml", f"""
services:
  web:
    image: composer/busybox
    command: {SLEEPER}
  probe:
    image: composer/busybox
    command: {SLEEPER}
""")
    cli("up", "-d", "--scale", "web=3")
    names = sorted(c["Name"] for c in ps(cli) if c["Service"] == "web")
    assert names == [f"{cli.project}-web-{i}" for i in (1, 2, 3)]

    def addresses() -> set[str]:
        out = cli("exec", "-T", "probe", "nslookup", "web").stdout
        return {line.split()[-1] for line in out.splitlines()[2:] if line.startswith("Address")}

    assert len(wait_for(lambda: _exactly(addresses(), 3), timeout=30)) == 3
    cli("up", "-d", "--scale", "web=1")
    assert [c["Name"] for c in ps(cli, "-a") if c["Service"] == "web"] == [f"{cli.project}-web-1"]
    assert len(wait_for(lambda: _exactly(addresses(), 1), timeout=30)) == 1
    cli("down", "-t", "0")


def _exactly(found: set[str], n: int) -> set[str] | None:
    return found if len(found) == n else None


def test_orphans_are_named_and_removed_on_request(cli, base_image):
    cli.write("compose.yaml", f"services:\n  a:\n    image: composer/busybox\n    command: {SLEEPER}\n"
                              f"  b:\n    image: composer/busybox\n    command: {SLEEPER}\n")
    cli("up", "-d")
    cli.write("compose.yaml", f"services:\n  a:\n    image: composer/busybox\n    command: {SLEEPER}\n")
    res = cli("up", "-d")
    assert f"{cli.project}-b-1" in res.stderr and "--remove-orphans" in res.stderr
    assert len(ps(cli)) == 2
    cli("up", "-d", "--remove-orphans")
    assert [c["Service"] for c in ps(cli, "-a")] == ["a"]
    cli("down", "-t", "0")


def test_wait_returns_once_services_run(cli, base_image):
    cli.write("compose.yaml", f"""
services:
  ok:
    image: composer/busybox
    command: {SLEEPER}
""")
    res = cli("up", "--wait", "--wait-timeout", "20")
    assert res.returncode == 0 and ps(cli)[0]["State"] == "running"
    cli("down", "-t", "0")


def test_attached_up_aborts_on_exit_and_returns_the_chosen_exit_code(cli, base_image):
    cli.write("compose.yaml", f"""
services:
  tests:
    image: composer/busybox
    command: ["sh", "-c", "echo running tests; sleep 0.5; exit 7"]
  server:
    image: composer/busybox
    command: {SLEEPER}
""")
    res = cli("up", "--exit-code-from", "tests", check=False, timeout=60)
    assert res.returncode == 7, res.stderr
    assert "running tests" in res.stdout and "Aborting on container exit" in res.stderr
    assert {c["Service"]: c["State"] for c in ps(cli, "-a")} == {"tests": "exited", "server": "exited"}
    res = cli("up", "--abort-on-container-exit", check=False, timeout=60)
    assert res.returncode == 7
    with pytest.raises(AssertionError, match="cannot be combined"):
        cli("up", "-d", "--abort-on-container-exit")
    cli("down", "-t", "0")


def test_two_ups_at_once_are_serialised(cli, base_image):
    cli.write("compose.yaml", f"services:\n  a:\n    image: composer/busybox\n    command: {SLEEPER}\n"
                              f"  b:\n    image: composer/busybox\n    command: {SLEEPER}\n")
    results = []

    def up():
        results.append(cli("up", "-d", check=False))

    threads = [threading.Thread(target=up) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    assert sorted(c["Name"] for c in ps(cli, "-a")) == [f"{cli.project}-a-1", f"{cli.project}-b-1"]
    cli("down", "-t", "0")


def test_create_rm_port_and_ls(cli, base_image):
    cli.write("compose.yaml", f"""
services:
  web:
    image: composer/busybox
    command: {SLEEPER}
    ports: ["127.0.0.1::80"]
""")
    cli("create")
    assert [c["State"] for c in ps(cli, "-a")] == ["created"]
    cli("start")
    host = cli("port", "web", "80").stdout.strip()
    assert host.startswith("127.0.0.1:") and int(host.rsplit(":", 1)[1]) > 0
    listing = cli("ls", "--format", "json", project=False).stdout
    assert cli.project in listing and "running(1)" in listing
    assert "No stopped containers" in cli("rm", "-f").stderr
    cli("stop", "-t", "0")
    assert cli.project not in cli("ls", "-q", project=False).stdout
    assert cli.project in cli("ls", "-a", "-q", project=False).stdout
    cli("rm", "-f")
    assert ps(cli, "-a") == []
    cli("down")


def test_ps_status_filter_and_template(cli, base_image):
    cli.write("compose.yaml", f"services:\n  a:\n    image: composer/busybox\n    command: {SLEEPER}\n"
                              "  b:\n    image: composer/busybox\n    command: ['true']\n")
    cli("up", "-d")
    wait_for(lambda: any(c["State"] == "exited" for c in ps(cli, "-a")))
    assert cli("ps", "--status", "exited", "--format", "{{.Service}} {{.ExitCode}}").stdout.split() == ["b", "0"]
    assert cli("ps", "--filter", "status=running", "-q").stdout.strip() != ""
    assert cli("ps", "--format", "{{.Nope}}", check=False).returncode != 0
    cli("down", "-t", "0")


def test_completion_script_is_valid_bash(cli):
    script = cli("completion", "bash", project=False).stdout
    check = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert check.returncode == 0, check.stderr
    words = subprocess.run(["bash", "-c", script + "\nCOMP_WORDS=(composer up --for); COMP_CWORD=2; _composer; "
                            "echo ${COMPREPLY[@]}"], capture_output=True, text=True).stdout
    assert words.split() == ["--force-recreate"]


def test_every_command_has_help(cli):
    from composer.cli.commands.completion import tree

    for command in tree():
        res = cli(*command.split(), "--help", project=False)
        assert res.stdout.startswith("usage: composer"), command


def test_down_of_one_service_and_down_rmi(cli, base_image):
    cli("image", "tag", "composer/busybox", "mine/app:1", project=False)
    cli.write("compose.yaml", f"services:\n  a:\n    image: mine/app:1\n    command: {SLEEPER}\n"
                              f"  b:\n    image: composer/busybox\n    command: {SLEEPER}\n")
    cli("up", "-d")
    cli("down", "-t", "0", "a")
    assert [c["Service"] for c in ps(cli, "-a")] == ["b"]
    cli("up", "-d")
    cli("down", "-t", "0", "--rmi", "all")
    images = cli("image", "ls", "--format", "json", project=False).stdout
    assert "mine/app" not in images
    assert ps(cli, "-a") == []


def test_events_stream_what_happens_to_the_stack(cli, base_image):
    import json
    import subprocess as sp

    cli.write("compose.yaml", "services:\n  job:\n    image: composer/busybox\n    command: ['sh', '-c', 'exit 3']\n")
    watcher = cli.popen("events", "--json", stdout=sp.PIPE, text=True)
    try:
        time.sleep(1.0)  # the watcher follows from the moment it starts
        cli("up", "-d")
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "die" not in [e["action"] for e in seen]:
            seen.append(json.loads(watcher.stdout.readline()))
    finally:
        watcher.kill()
        watcher.wait()
    actions = [e["action"] for e in seen]
    assert actions[:3] == ["create", "start", "die"], seen
    assert {e["service"] for e in seen} == {"job"}
    assert seen[2]["attributes"]["exitCode"] == "3"
    past = cli("events", "--since", "1m", "--until", "0s").stdout  # a time window: prints and ends
    assert " container create " in past and " container die " in past
    cli("down")


HEALTHY_STACK = """
services:
  db:
    image: composer/busybox
    command: ["sh", "-c", "sleep 0.5; touch /tmp/ready; sleep 1000"]
    stop_signal: SIGKILL
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/CHECK"]
      interval: 200ms
      timeout: 1s
      retries: RETRIES
  app:
    image: composer/busybox
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    depends_on:
      db: {condition: service_healthy}
"""


def test_service_healthy_waits_for_health_and_fails_on_unhealthy(cli, base_image):
    cli.write("compose.yaml", HEALTHY_STACK.replace("CHECK", "ready").replace("RETRIES", "30"))
    res = cli("up", "-d")
    assert "Healthy" in res.stderr
    states = {c["Service"]: (c["State"], c["Health"]) for c in ps(cli)}
    assert states == {"db": ("running", "healthy"), "app": ("running", "")}
    cli("down", "-t", "0")

    cli.write("compose.yaml", HEALTHY_STACK.replace("CHECK", "never").replace("RETRIES", "2"))
    res = cli("up", "-d", check=False, timeout=60)
    assert res.returncode != 0
    assert f"dependency failed to start: container {cli.project}-db-1 is unhealthy" in res.stderr
    assert {c["Service"]: c["State"] for c in ps(cli, "-a")}["app"] == "created"
    cli("down", "-t", "0")


def test_wait_timeout_names_what_is_not_ready(cli, base_image):
    cli.write("compose.yaml", """
services:
  slow:
    image: composer/busybox
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    healthcheck:
      test: ["CMD", "false"]
      interval: 10s
      start_period: 60s
""")
    res = cli("up", "--wait", "--wait-timeout", "1", check=False)
    assert res.returncode != 0
    assert "timeout waiting for services to be ready: slow" in res.stderr
    cli("down", "-t", "0")


def test_ctrl_c_stops_an_attached_up_and_a_second_one_kills(cli, base_image):
    import signal
    import subprocess as sp

    cli.write("compose.yaml", """
services:
  stubborn:
    image: composer/busybox
    command: ["sh", "-c", "trap '' TERM; echo serving; while true; do sleep 1; done"]
    stop_grace_period: 60s
""")

    p = cli.popen("up", stdout=sp.PIPE, stderr=sp.PIPE, text=True)
    line = p.stdout.readline()
    while "serving" not in line:
        assert line, p.stderr.read()
        line = p.stdout.readline()
    p.send_signal(signal.SIGINT)
    time.sleep(1.0)
    assert p.poll() is None  # still stopping gracefully: the service ignores SIGTERM for 60 s
    started = time.monotonic()
    p.send_signal(signal.SIGINT)
    code = p.wait(timeout=30)
    assert time.monotonic() - started < 20
    assert code == 130
    assert "Gracefully stopping" in p.stderr.read()
    assert [c["State"] for c in ps(cli, "-a")] == ["exited"]
    cli("down", "-t", "0")


def test_down_also_removes_run_containers(cli, base_image):
    cli.write("compose.yaml", f"services:\n  a:\n    image: composer/busybox\n    command: {SLEEPER}\n")
    cli("up", "-d")
    cli("run", "-d", "a", "sleep", "1000")
    cli("down", "-t", "0")
    assert cli("container", "ls", "-a", project=False).stdout.strip().splitlines()[1:] == []
    assert cli("network", "ls", "-q", project=False).stdout.strip() == ""
