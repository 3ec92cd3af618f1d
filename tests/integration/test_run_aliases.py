"""`run` one-off containers answer only to their own name unless `--use-aliases` (as Docker Compose):
the service's name and network aliases keep naming the service's own containers."""
from __future__ import annotations

import re

from tests.support.netstack import LOOP, inspect, sh
from tests.support.netstack import down  # noqa: F401 - the fixture

STACK = f"""
services:
  web:
    image: composer/busybox
    command: ["sh", "-c", "echo real-web > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    stop_signal: SIGKILL
    networks:
      default:
        aliases: [www]
  client:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    stop_signal: SIGKILL
"""
# the one-off serves its own page, then asks for `web` a few times (the resolver round-robins)
ONE_OFF = "echo one-off > /tmp/index.html; httpd -p 80 -h /tmp; sleep 0.3; " \
          "for i in 1 2 3 4 5 6 7 8; do wget -q -O - http://web/; done"


def addresses(cli, service: str, name: str) -> set[str]:
    out = sh(cli, service, f"nslookup {name}", check=False)
    answer = out.split("Name:", 1)[-1] if "Name:" in out else ""  # after the server's own address
    return set(re.findall(r"Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)", answer))


def ip_of(cli, name: str) -> str:
    return next(iter(inspect(cli, name)["networks"].values()))


def test_a_one_off_does_not_take_the_services_name_or_aliases(down):
    cli = down
    cli.write("compose.yaml", STACK)
    cli("up", "-d")
    web_ip = ip_of(cli, f"{cli.project}-web-1")
    # from the one-off itself, `web` is the service, never the one-off
    out = cli("run", "--rm", "-T", "web", "sh", "-c", ONE_OFF, timeout=120).stdout.split()
    assert out == ["real-web"] * 8, out
    # while a one-off runs, the other services' `web` and `www` are still only the service's container
    one_off = cli("run", "-d", "--name", f"{cli.project}-oneoff", "web", "sh", "-c", LOOP).stdout.strip()
    one_off_ip = ip_of(cli, one_off)
    assert addresses(cli, "client", "web") == {web_ip}
    assert addresses(cli, "client", "www") == {web_ip}
    assert addresses(cli, "client", one_off) == {one_off_ip}  # its own name still resolves, as in Compose


def test_use_aliases_makes_the_one_off_join_the_service_name(down):
    cli = down
    cli.write("compose.yaml", STACK)
    cli("up", "-d")
    web_ip = ip_of(cli, f"{cli.project}-web-1")
    one_off = cli("run", "-d", "--use-aliases", "--name", f"{cli.project}-oneoff", "web", "sh", "-c",
                  LOOP).stdout.strip()
    one_off_ip = ip_of(cli, one_off)
    assert addresses(cli, "client", "web") == {web_ip, one_off_ip}
    assert addresses(cli, "client", "www") == {web_ip, one_off_ip}
