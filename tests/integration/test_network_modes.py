"""network_mode none, host, service:NAME and container:NAME, checked from inside the containers."""
from __future__ import annotations

import os
import socket
import urllib.request

from tests.support.netstack import LOOP, inspect, sh, wait_for
from tests.support.netstack import down  # noqa: F401 - the fixture


def test_none_has_only_loopback_and_host_sees_the_host_links(down):
    cli = down
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli.write("compose.yaml", f"""
services:
  alone:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    network_mode: none
  hosted:
    image: composer/busybox
    command: ["sh", "-c", "echo host-mode > /tmp/i.html; exec httpd -f -p 127.0.0.1:{port} -h /tmp"]
    stop_grace_period: 1s
    network_mode: host
""")
    cli("up", "-d")
    links = sh(cli, "alone", "ls /sys/class/net").split()
    assert links == ["lo"]
    assert inspect(cli, f"{cli.project}-alone-1")["networks"] == {}
    host_links = set(os.listdir("/sys/class/net"))
    seen = set(sh(cli, "hosted", "ls /sys/class/net").split())
    # the host's links as the host sees them (others' tests may add or remove a few meanwhile)
    assert len(seen & host_links) >= len(host_links) - 5 and "lo" in seen and len(seen) > 1
    assert sh(cli, "hosted", "hostname").strip() == socket.gethostname()
    # a server in the host-mode container listens on the host itself
    body = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/i.html", timeout=2).read())
    assert body == b"host-mode\n"
    assert "nameserver" in sh(cli, "hosted", "cat /etc/resolv.conf")


def test_service_mode_shares_localhost_and_follows_a_recreated_peer(down):
    cli = down
    stack = """
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "echo on-localhost > /tmp/i.html; exec httpd -f -p 127.0.0.1:8080 -h /tmp"]
    stop_grace_period: 1s
    environment: {{V: "{v}"}}
  sidecar:
    image: composer/busybox
    network_mode: service:web
    command: ["sh", "-c", "%s"]
""" % LOOP
    cli.write("compose.yaml", stack.format(v="1"))
    cli("up", "-d")
    web = inspect(cli, f"{cli.project}-web-1")
    side = inspect(cli, f"{cli.project}-sidecar-1")
    assert side["network_container"] == web["id"]
    page = wait_for(lambda: sh(cli, "sidecar", "wget -q -O - http://127.0.0.1:8080/i.html", check=False))
    assert page == "on-localhost\n"
    web_ip = list(web["networks"].values())[0]
    assert f"inet {web_ip}/" in sh(cli, "sidecar", "ip -o addr show eth0")
    assert sh(cli, "sidecar", "hostname") == sh(cli, "web", "hostname")

    # web recreated: the sidecar is recreated too and joins the new namespace
    cli.write("compose.yaml", stack.format(v="2"))
    cli("up", "-d")
    web2 = inspect(cli, f"{cli.project}-web-1")
    side2 = inspect(cli, f"{cli.project}-sidecar-1")
    assert web2["id"] != web["id"] and side2["id"] != side["id"] and side2["network_container"] == web2["id"]
    assert wait_for(lambda: sh(cli, "sidecar", "wget -q -O - http://127.0.0.1:8080/i.html", check=False))
    # and a plain second up changes nothing
    cli("up", "-d")
    assert inspect(cli, f"{cli.project}-sidecar-1")["id"] == side2["id"]


def test_container_mode_joins_a_named_container_and_needs_it_running(down):
    cli = down
    cli.write("compose.yaml", f"""
services:
  base:
    image: composer/busybox
    container_name: {cli.project}-base
    command: ["sh", "-c", "echo joined > /tmp/i.html; exec httpd -f -p 127.0.0.1:9090 -h /tmp"]
    stop_grace_period: 1s
  guest:
    image: composer/busybox
    network_mode: container:{cli.project}-base
    depends_on: [base]
    command: ["sh", "-c", "{LOOP}"]
""")
    cli("up", "-d")
    assert wait_for(lambda: sh(cli, "guest", "wget -q -O - http://127.0.0.1:9090/i.html", check=False)) == "joined\n"
    cli("stop")
    res = cli("start", "guest", check=False)
    assert res.returncode != 0
    assert f"cannot join the network of {cli.project}-base: it is not running" in res.stderr


def test_bad_network_modes_are_one_line_errors(down):
    cli = down
    cli.write("compose.yaml", f"""
services:
  a:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    network_mode: container:nosuchthing{cli.project}
""")
    res = cli("up", "-d", check=False)
    last = res.stderr.strip().splitlines()[-1]
    assert res.returncode != 0 and last.startswith("error: ") and "no such container" in last
    assert cli("ps", "-a", "-q").stdout.strip() == ""
    cli.write("compose.yaml", f"""
services:
  a:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    network_mode: service:b
    ports: ["8080"]
  b:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
""")
    res = cli("up", "-d", check=False)
    assert res.returncode != 0 and "ports cannot be published with network_mode" in res.stderr
    assert cli("ps", "-a", "-q").stdout.strip() == ""
