"""A restarted container keeps its address, and its peers reach it again at once.

With a new random MAC address at each start, a peer's ARP cache went on pointing at the old one: the
app timed out for 15-45 s after `restart db` (Docker: 0.15 s). The MAC is now made from the IPv4
address (02:42 + its four bytes, as Docker made it) and the interface announces itself as it comes up.
"""
from __future__ import annotations

import re
import socket
import time

from tests.support.netstack import LOOP, free_subnet, inspect, sh, wait_for
from tests.support.netstack import down  # noqa: F401 - the fixture


def _replied(log: str) -> set[int]:
    return {int(n) for n in re.findall(r"seq=(\d+)", log)}


def test_a_restarted_service_keeps_its_mac_and_its_peers_reach_it_at_once(down):
    cli = down
    net = free_subnet()
    db_ip, app_ip = str(net.network_address + 10), str(net.network_address + 20)
    cli.write("compose.yaml", f"""
services:
  db:
    image: composer/busybox
    command: ["sh", "-c", "echo db-answers > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    stop_grace_period: 1s
    networks:
      back:
        ipv4_address: {db_ip}
  app:
    image: composer/busybox
    # pings db all along, as an app talks to its database
    command: ["sh", "-c", "trap 'exit 0' TERM; ping -i 0.2 {db_ip} > /tmp/ping.log 2>&1 & wait"]
    networks:
      back:
        ipv4_address: {app_ip}
  fixed:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    mac_address: "02:42:0a:00:00:77"
    networks: [back]
networks:
  back:
    ipam:
      config: [{{subnet: "{net}"}}]
""")
    cli("up", "-d")
    derived = "02:42:" + ":".join(f"{b:02x}" for b in socket.inet_aton(db_ip))
    assert sh(cli, "db", "cat /sys/class/net/eth0/address").strip() == derived
    assert sh(cli, "fixed", "cat /sys/class/net/eth0/address").strip() == "02:42:0a:00:00:77"  # as set
    wait_for(lambda: _replied(sh(cli, "app", "cat /tmp/ping.log")), timeout=20)
    assert f"{db_ip} dev eth0 lladdr {derived}" in sh(cli, "app", "ip neigh show")  # the app knows db's MAC

    cli("restart", "db")
    restarted = time.monotonic()
    assert inspect(cli, f"{cli.project}-db-1")["networks"][f"{cli.project}_back"] == db_ip
    assert sh(cli, "db", "cat /sys/class/net/eth0/address").strip() == derived  # the same MAC again
    before = max(_replied(sh(cli, "app", "cat /tmp/ping.log")))
    # right after the restart: a fresh ping from the app is answered within its one second
    out = sh(cli, "app", f"ping -c 5 -i 0.2 -w 1 {db_ip} 2>&1", check=False)
    assert re.search(r"[1-5] packets received", out), out
    assert "db-answers" in sh(cli, "app", f"timeout -s KILL 1 wget -q -O - http://{db_ip}/ 2>&1", check=False)
    # and the app's own ping, which ran across the restart, gets answers again
    time.sleep(max(0.0, 1.0 - (time.monotonic() - restarted)))
    assert max(_replied(sh(cli, "app", "cat /tmp/ping.log"))) > before
