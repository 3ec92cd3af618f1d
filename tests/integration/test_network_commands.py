"""`composer network` ls/create/inspect/rm/prune/connect/disconnect."""
from __future__ import annotations

import json
import os

from engine.paths import Paths
from tests.support.netstack import LOOP, bridge_name, free_subnet, inspect, names_on_host, sh, wait_for
from tests.support.netstack import down  # noqa: F401 - the fixture
from tests.support.kernel import needs_ipv6


def net(cli, *args, check=True):
    return cli("network", *args, project=False, check=check)


@needs_ipv6
def test_create_with_options_inspect_ls_rm(cli, base_image):
    subnet = free_subnet()
    br = bridge_name()
    name = "opts" + cli.project
    rng = f"{subnet.network_address + 64}/26"
    net(cli, "create", name, "--subnet", str(subnet), "--gateway", str(subnet.network_address + 1), "--ip-range", rng,
        "--internal", "--ipv6", "--subnet", "fd63:7465:7374:9::/64", "-o", f"com.docker.network.bridge.name={br}",
        "-o", "com.docker.network.driver.mtu=1450", "--label", "team=net")
    try:
        info = json.loads(net(cli, "inspect", name).stdout)[0]
        assert (info["subnet"], info["gateway"], info["ip_range"], info["internal"]) == (
            str(subnet), str(subnet.network_address + 1), rng, True)
        assert (info["subnet6"], info["gateway6"], info["bridge"], info["mtu"]) == (
            "fd63:7465:7374:9::/64", "fd63:7465:7374:9::1", br, 1450)
        assert info["labels"] == {"team": "net"}
        addrs = os.popen(f"ip -o addr show dev {br}").read()
        assert f"{subnet.network_address + 1}/24" in addrs and "fd63:7465:7374:9::1/64" in addrs
        line = [ln for ln in net(cli, "ls").stdout.splitlines() if name in ln][0]
        assert str(subnet) in line and "bridge" in line
        again = net(cli, "create", name, check=False)
        assert again.returncode != 0 and again.stderr.strip() == f"error: network with name {name} already exists"
    finally:
        net(cli, "rm", name)
    assert not names_on_host(br, str(subnet))


def test_bad_create_options_are_one_line_errors_that_leave_nothing(cli, base_image):
    subnet = free_subnet()
    cases = [
        (["--subnet", "10.300.0.0/24"], "invalid subnet"),
        (["--subnet", str(subnet), "--gateway", "192.0.2.1"], "is not a usable address of subnet"),
        (["--subnet", str(subnet), "--ip-range", "192.0.2.0/28"], "is not inside subnet"),
        (["--gateway", "10.1.1.1"], "needs a --subnet"),
        (["-o", "com.docker.network.driver.mtu=12"], "from 68 to 65535"),
        (["-o", "com.docker.network.bridge.name=waytoolongbridgename"], "1 to 15"),
        (["-d", "overlay"], "not available"),
    ]
    for args, message in cases:
        res = net(cli, "create", "bad" + cli.project, *args, check=False)
        assert res.returncode != 0, args
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, lines)
    assert "bad" + cli.project not in net(cli, "ls").stdout
    root_id = Paths.open(cli.root).root_id
    assert not [n for n in os.listdir("/sys/class/net") if n.startswith("cb" + root_id[:5])]


def test_connect_and_disconnect_a_running_container_and_prune(down):
    cli = down
    extra = "extra" + cli.project
    unused = "unused" + cli.project
    subnet = free_subnet()
    net(cli, "create", extra, "--subnet", str(subnet))
    net(cli, "create", unused)
    cli.write("compose.yaml", f"""
services:
  app:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
  peer:
    image: composer/busybox
    command: ["sh", "-c", "{LOOP}"]
    networks: [default, extra]
networks:
  extra:
    external: true
    name: {extra}
""")
    try:
        cli("up", "-d")
        app = f"{cli.project}-app-1"
        fixed = str(subnet.network_address + 77)
        net(cli, "connect", extra, app, "--alias", "joiner", "--ip", fixed)
        assert inspect(cli, app)["networks"][extra] == fixed
        assert f"inet {fixed}/24" in sh(cli, "app", "ip -o addr")
        gateway = subnet.network_address + 1
        assert f"Address: {fixed}" in sh(cli, "peer", f"nslookup joiner {gateway}")
        wait_for(lambda: "1 packets received" in sh(cli, "peer", f"ping -c 1 -W 2 {fixed}", check=False))
        res = net(cli, "connect", extra, app, check=False)
        assert res.returncode != 0 and "already connected" in res.stderr

        net(cli, "disconnect", extra, app)
        assert extra not in inspect(cli, app)["networks"]
        assert fixed not in sh(cli, "app", "ip -o addr")
        assert "Address: " + fixed not in sh(cli, "peer", f"nslookup joiner {gateway}", check=False)

        out = net(cli, "prune", "-f").stdout
        assert unused in out and extra not in out  # peer still uses it
        assert unused not in net(cli, "ls").stdout
        cli("down")
    finally:
        cli("down", check=False)
        net(cli, "rm", extra, check=False)
        net(cli, "rm", unused, check=False)
