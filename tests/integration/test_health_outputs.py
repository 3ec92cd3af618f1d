"""A container that closes or replaces its stdout/stderr keeps its healthchecks and its logs.

Debian's nginx moves its stderr onto its error log; the monitor used to die of it (`KeyError: 6`,
`exited (255)`, empty logs) as soon as a healthcheck ran. Docker says healthy.
"""
from __future__ import annotations

import json
import time

import pytest

COMMANDS = {
    "stderr-to-null": "echo started; echo warming up >&2; exec 2>/dev/null; exec sleep 300",
    "both-closed": "echo started; echo warming up >&2; exec >&- 2>&-; exec sleep 300",
}


def ps(cli) -> dict:
    return json.loads(cli("ps", "-a", "--format", "json").stdout.splitlines()[0])


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_healthy_and_logs_kept_after_the_process_drops_its_outputs(cli, base_image, name):
    cli.write("compose.yaml", f"""
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "{COMMANDS[name]}"]
    stop_grace_period: 0s
    healthcheck:
      test: ["CMD-SHELL", "echo checked"]
      interval: 0.3s
      timeout: 5s
""")
    try:
        cli("up", "-d", "--wait", "--wait-timeout", "60")
        time.sleep(3)  # ten checks and more after the outputs are gone
        row = ps(cli)
        assert row["State"] == "running" and row["Health"] == "healthy", row
        (inspect,) = json.loads(cli("container", "inspect", row["Name"], project=False).stdout)
        results = inspect["health_log"]
        assert len(results) == 5 and all(r["ExitCode"] == 0 and r["Output"] == "checked\n" for r in results)
        logs = cli("logs", "--no-log-prefix", "web")
        assert "started" in logs.stdout and "warming up" in logs.stdout
    finally:
        cli("down", "-t", "0", check=False)
