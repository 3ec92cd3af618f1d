"""Helpers for the network tests driven through the `composer` command."""
from __future__ import annotations

import ipaddress
import json
import random
import re
import subprocess
import uuid

import pytest

from tests.integration.test_stack import ps, wait_for  # noqa: F401 - shared with the network tests

LOOP = "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"  # a service that idles until stopped


@pytest.fixture
def down(cli, base_image):
    """The test's CLI; its project is taken down afterwards whatever happened."""
    yield cli
    cli("down", check=False)


def inspect(cli, name: str) -> dict:
    return json.loads(cli("container", "inspect", name, project=False).stdout)[0]


def sh(cli, service: str, script: str, check: bool = True) -> str:
    return cli("exec", "-T", service, "sh", "-c", script, check=check).stdout


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 outside the engine's pool that nothing on this host uses (tests run in parallel)."""
    used = subprocess.run(["ip", "-o", "-4", "route", "show", "table", "all"], capture_output=True, text=True,
                          check=True).stdout
    used += subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    for _ in range(200):
        net = ipaddress.ip_network(f"10.{random.randint(150, 185)}.{random.randint(0, 255)}.0/24")
        if str(net.network_address)[:-1] not in used:
            return net
    raise AssertionError("no free test subnet")


def bridge_name() -> str:
    return "ct" + uuid.uuid4().hex[:10]


def _run(*cmd: str) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return res.stdout if res.returncode == 0 else ""


_OURS = re.compile(r"\b(cb[0-9a-f]{13}|cv[0-9a-f]{13}|ct[0-9a-f]{10}|COMPOSER-[0-9a-f]{6}|COMPOSER-ISOLATION)\b")
_COUNTERS = re.compile(r"\[\d+:\d+\]")


def host_state() -> dict[str, set[str]]:
    """The host's links, routes and firewall rules, minus what composer roots (any test's) hold: the
    before/after comparison of a test proves its own objects are gone and nothing else changed."""
    state = {
        "links": _run("ip", "-o", "link"),
        "routes": _run("ip", "route"),
        "routes6": _run("ip", "-6", "route"),
        "iptables": _run("iptables-save"),
        "ip6tables": _run("ip6tables-save"),
    }
    out = {}
    for key, text in state.items():
        lines = set()
        for line in text.splitlines():
            if line.startswith("#") or _OURS.search(line):
                continue
            if key == "links":  # "12: name@if13: <...>": indexes change as others' links come and go
                line = re.sub(r"^\d+: ", "", re.sub(r"@if\d+", "", line))
            lines.add(_COUNTERS.sub("", line))
        out[key] = lines
    return out


def names_on_host(*names: str) -> list[str]:
    """Which of *names* (links, chains, subnets) still appear in the host's links, routes or rules."""
    text = "\n".join([_run("ip", "-o", "link"), _run("ip", "route"), _run("ip", "-6", "route"),
                      _run("iptables-save"), _run("ip6tables-save")])
    return [n for n in names if n and n in text]
