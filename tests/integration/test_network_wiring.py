"""Networks on the real kernel: namespaces, bridges, veth pairs, published ports, two roots, cleanup.

Traffic goes only to loopback and to namespaces these tests create. Sockets "inside" a namespace are
made by a thread that joined it (a socket stays in the namespace it was created in).
"""
from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest

from engine.errors import Conflict, EngineError
from engine.network.attach import connect, disconnect, host_ifname
from engine.network.netns import create_netns, destroy_netns, enter_netns
from engine.paths import Paths
from tests.support.host import chain_rules

T = TypeVar("T")


# -- helpers (also used by test_network_dns) ----------------------------------------------------

def in_netns(path: str, fn: Callable[[], T]) -> T:
    """Run *fn* in a thread that joined the namespace at *path*; its result or its exception."""
    box: dict = {}

    def run() -> None:
        try:
            enter_netns(path)
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def wait_until(cond: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def netns_mounts(root: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if root in line.split()[4]]


class Lab:
    """One engine root's networks plus namespaces wired into them; tears everything down."""

    def __init__(self, root: str):
        from engine.network.manager import Networks

        self.paths = Paths.open(root)
        self.nets = Networks(self.paths)
        self.namespaces: list[str] = []
        self.networks: list[str] = []

    def network(self, name: str = "n1", subnet: str = ""):
        from engine.types import NetworkConfig

        info = self.nets.create(name, {"test": "yes"}, NetworkConfig(subnet=subnet) if subnet else None)
        self.networks.append(name)
        return info

    def container(self, cid: str, info, host_octet: int, gateway: bool = True) -> tuple[str, str]:
        """A namespace connected to network *info* at .host_octet; (netns path, ip)."""
        path = os.path.join(self.paths.run, "netns", cid)
        create_netns(path)
        self.namespaces.append(path)
        net = ipaddress.ip_network(info.subnet)
        ip = str(net.network_address + host_octet)
        connect(path, info.bridge, ip, net.prefixlen, info.gateway if gateway else None,
                host_ifname=host_ifname(self.paths.root_id, cid, info.name))
        return path, ip

    def close(self) -> None:
        for path in self.namespaces:
            destroy_netns(path)
        for name in self.networks:
            try:
                self.nets.remove(name)
            except EngineError:
                pass


@contextmanager
def lab(root: str) -> Iterator[Lab]:
    lb = Lab(root)
    try:
        yield lb
    finally:
        lb.close()


def echo_tcp_server(sock: socket.socket) -> None:
    """Serve one connection at a time: echo everything, close after the peer's EOF."""
    def run() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)
    threading.Thread(target=run, daemon=True).start()


def stop_listener(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept()/recv()
    except OSError:
        pass
    sock.close()


# -- namespaces ---------------------------------------------------------------------------------

def test_netns_has_lo_up_and_goes_away(engine_root):
    path = os.path.join(engine_root, "run", "netns", "x1")
    create_netns(path)
    try:
        assert os.stat(path).st_ino != os.stat("/proc/self/ns/net").st_ino
        out = subprocess.run(["nsenter", f"--net={path}", "ip", "-o", "link"], capture_output=True, text=True,
                             check=True).stdout
        assert out.count("\n") == 1 and "lo:" in out and "UP" in out
        with pytest.raises(Conflict):
            create_netns(path)
    finally:
        destroy_netns(path)
    destroy_netns(path)  # idempotent
    assert not os.path.exists(path) and not netns_mounts(engine_root)


def test_netns_creation_from_a_threaded_process_leaves_other_threads_alone(engine_root):
    before = os.stat("/proc/self/ns/net").st_ino
    stop = threading.Event()
    seen: list[int] = []

    def busy() -> None:
        while not stop.is_set():
            seen.append(os.stat("/proc/thread-self/ns/net").st_ino)

    t = threading.Thread(target=busy)
    t.start()
    paths = [os.path.join(engine_root, "run", "netns", f"t{i}") for i in range(20)]
    try:
        for p in paths:
            create_netns(p)
    finally:
        stop.set()
        t.join()
        for p in paths:
            destroy_netns(p)
    assert set(seen) == {before} and os.stat("/proc/thread-self/ns/net").st_ino == before
    assert not netns_mounts(engine_root)


# -- bridge, veth, traffic ----------------------------------------------------------------------

def test_two_namespaces_on_one_bridge_talk(engine_root):
    with lab(engine_root) as lb:
        info = lb.network()
        assert len(info.bridge) <= 15 and info.bridge in links()
        assert info.gateway == str(ipaddress.ip_network(info.subnet).network_address + 1)
        a, ip_a = lb.container("c1", info, 10)
        b, ip_b = lb.container("c2", info, 11)
        # inside: eth0 with the address, default route via the gateway
        out = subprocess.run(["nsenter", f"--net={a}", "ip", "-o", "-4", "addr", "show", "eth0"],
                             capture_output=True, text=True, check=True).stdout
        assert f"{ip_a}/24" in out
        routes = subprocess.run(["nsenter", f"--net={a}", "ip", "route"], capture_output=True, text=True,
                                check=True).stdout
        assert f"default via {info.gateway}" in routes
        # ping (busybox) from one to the other, through the bridge (and past br_netfilter, if loaded)
        ping = subprocess.run(["nsenter", f"--net={a}", "busybox", "ping", "-c", "1", "-W", "2", ip_b], check=False,
                              capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        # TCP from a to b
        server = in_netns(b, lambda: socket.create_server((ip_b, 7000)))
        echo_tcp_server(server)
        try:
            def talk() -> bytes:
                with socket.create_connection((ip_b, 7000), timeout=3) as c:
                    c.sendall(b"hello over the bridge")
                    c.shutdown(socket.SHUT_WR)
                    return b"".join(iter(lambda: c.recv(4096), b""))
            assert in_netns(a, talk) == b"hello over the bridge"
            # the host reaches a container through the bridge's connected route
            with socket.create_connection((ip_b, 7000), timeout=3) as c:
                c.sendall(b"from the host")
                c.shutdown(socket.SHUT_WR)
                assert c.recv(100) == b"from the host"
        finally:
            stop_listener(server)
    assert not netns_mounts(engine_root)
    assert wait_until(lambda: not [n for n in links() if n.startswith(("cb", "cv")) and lb.paths.root_id[:5] in n])


def test_connect_failures_leave_no_veth(engine_root):
    with lab(engine_root) as lb:
        info = lb.network()
        path, _ = lb.container("c1", info, 10)
        # missing bridge
        with pytest.raises(EngineError, match="bridge cbnothere is missing"):
            connect(path, "cbnothere", "10.0.0.5", 24, None, host_ifname="cvfail1")
        # the name eth0 is taken inside already
        with pytest.raises(EngineError, match="eth0"):
            connect(path, info.bridge, str(ipaddress.ip_network(info.subnet).network_address + 20), 24, None,
                    host_ifname="cvfail2")
        # a bad address: the in-namespace part fails, the pair is rolled back
        with pytest.raises(EngineError):
            connect(path, info.bridge, "not-an-ip", 24, None, ifname="eth1", host_ifname="cvfail3")
        assert not {"cvfail1", "cvfail2", "cvfail3"} & links()
        disconnect("cvfail3")  # idempotent


def test_reconnect_replaces_a_stale_host_end(engine_root):
    with lab(engine_root) as lb:
        info = lb.network()
        path, ip = lb.container("c1", info, 10)
        name = host_ifname(lb.paths.root_id, "c1", info.name)
        # what a crash leaves: the namespace gone, but wire it again with the same names
        destroy_netns(path)
        assert wait_until(lambda: name not in links())
        create_netns(path)
        connect(path, info.bridge, ip, 24, info.gateway, host_ifname=name)
        assert name in links()


def test_two_roots_get_distinct_bridges_and_subnets(engine_root, tmp_path):
    from tests.support.host import leftovers

    other = str(tmp_path / "composer-test-second-root")
    with lab(engine_root) as one, lab(other) as two:
        a, b = one.network("same"), two.network("same")
        assert a.bridge != b.bridge and one.paths.root_id != two.paths.root_id
        assert not ipaddress.ip_network(a.subnet).overlaps(ipaddress.ip_network(b.subnet))
        a2 = one.network("second")
        assert not ipaddress.ip_network(a2.subnet).overlaps(ipaddress.ip_network(a.subnet))
        # removing one root's network leaves the other root's alone
        one.nets.remove("same")
        one.networks.remove("same")
        assert b.bridge in links() and a.bridge not in links()
        assert two.nets.get("same") == b
    assert not leftovers(other)


def test_network_records_and_idempotence(engine_root):
    from engine.errors import InvalidArgument, NotFound

    with lab(engine_root) as lb:
        info = lb.network("web_default")
        assert lb.nets.get("web_default") == info
        assert lb.nets.create("web_default", {}) == info  # already there: the same network
        assert [n.name for n in lb.nets.list()] == ["web_default"]
        assert info.labels == {"test": "yes"}
        with pytest.raises(InvalidArgument):
            lb.nets.create("bad/name", {})
        lb.nets.remove("web_default")
        with pytest.raises(NotFound):
            lb.nets.get("web_default")
        with pytest.raises(NotFound):
            lb.nets.remove("web_default")
        assert info.bridge not in links() and lb.nets.list() == []


def test_remove_leaves_nothing(engine_root):
    with lab(engine_root) as lb:
        info = lb.network()
        lb.container("c1", info, 10)
        lb.container("c2", info, 11)
        pid = lb.nets._dns_pid(info.name)
        assert pid
    assert not os.path.exists(f"/proc/{pid}")
    assert wait_until(lambda: not [n for n in links() if lb.paths.root_id[:5] in n])
    assert not netns_mounts(engine_root)
    chain = subprocess.run(["iptables", "-w", "-n", "-L", f"COMPOSER-{lb.paths.root_id}"],
                           capture_output=True, check=False)
    assert chain.returncode != 0  # our firewall chain (if one was needed) went with the last bridge
    assert not os.listdir(lb.paths.networks)


def test_ensure_running_restarts_a_dead_resolver_and_a_lost_bridge(engine_root):
    from engine.network.bridge import delete_bridge

    with lab(engine_root) as lb:
        info = lb.network()
        pid = lb.nets._dns_pid(info.name)
        os.kill(pid, 9)
        assert wait_until(lambda: not lb.nets._dns_pid(info.name))
        delete_bridge(info.bridge)
        lb.nets.ensure_running(info.name)
        assert info.bridge in links()
        new = lb.nets._dns_pid(info.name)
        assert new and new != pid
        lb.nets.ensure_running(info.name)  # a no-op now
        assert lb.nets._dns_pid(info.name) == new
    try:
        os.waitpid(pid, os.WNOHANG)  # the killed one was our child
    except ChildProcessError:
        pass



def test_a_resolver_whose_starter_died_goes_with_the_network(engine_root):
    """A CLI killed while the resolver starts leaves it unwaited for; a remove that looks for its pidfile
    before it is written cannot stop it, so it must see the network gone and exit by itself."""
    with lab(engine_root) as lb:
        info = lb.network()
        lb.nets._stop_dns(info.name)
        starting = lb.nets._spawn_dns(info.name, info.gateway, info.subnet)  # never waited for, as if its starter died
        starting.close()
        lb.nets.remove(info.name)  # at once: most likely before the resolver has written its pidfile
        lb.networks.remove(info.name)
        try:
            assert starting.proc.wait(timeout=5) == 0
        finally:
            starting.abandon()


def test_resolver_starts_while_the_network_is_made_and_stops_at_once(engine_root):
    import time

    with lab(engine_root) as lb:
        info = lb.network()
        pid = lb.nets._dns_pid(info.name)
        with open(f"/proc/{pid}/net/udp") as f:  # bound to the gateway address (IP_FREEBIND before it existed)
            gw = "%08X:0035" % int.from_bytes(socket.inet_aton(info.gateway), "little")
            assert gw in f.read()
        started = time.monotonic()
        lb.nets._stop_dns(info.name)
        assert time.monotonic() - started < 0.5 and not lb.nets._dns_pid(info.name)
        lb.nets.ensure_running(info.name)
        assert lb.nets._dns_pid(info.name)



def test_the_bridge_keeps_its_mac_address_as_ports_come_and_go(engine_root):
    """A bridge left to itself takes its lowest port's MAC address: containers that learnt the gateway's
    address before a port came or went would send to one nobody has (the resolver seems gone)."""
    def mac(bridge: str) -> str:
        with open(f"/sys/class/net/{bridge}/address") as f:
            return f.read().strip()

    with lab(engine_root) as lb:
        info = lb.network()
        before = mac(info.bridge)
        assert before.startswith("02:")
        lb.container("c1", info, 10)
        lb.container("c2", info, 11)
        assert mac(info.bridge) == before
        disconnect(host_ifname(lb.paths.root_id, "c1", info.name))
        assert mac(info.bridge) == before
        # made again (after a reboot, say) it gets the same address
        lb.nets._stop_dns(info.name)
        from engine.network.bridge import delete_bridge

        delete_bridge(info.bridge)
        lb.nets.ensure_running(info.name)
        assert mac(info.bridge) == before



def test_a_create_that_fails_at_the_end_leaves_nothing(engine_root, monkeypatch):
    from engine.network import firewall
    from engine.network.ipam import RESERVED

    def refuse(*args, **kwargs):
        raise EngineError("iptables-restore: refused")

    monkeypatch.setattr(firewall, "setup_bridge", refuse)
    with lab(engine_root) as lb:
        with pytest.raises(EngineError, match="refused"):
            lb.network()
        assert not os.listdir(lb.paths.networks)
        assert not [n for n in links() if n.startswith("cb" + lb.paths.root_id[:5])]
        mine = [e for e in (os.listdir(RESERVED) if os.path.isdir(RESERVED) else [])
                if engine_root in open(os.path.join(RESERVED, e)).read()]
        assert not mine


# -- published ports ----------------------------------------------------------------------------

def test_published_tcp_port_reaches_a_server_in_a_namespace(engine_root):
    from engine.network.ports import bind_published, serve
    from engine.types import PortBinding

    with lab(engine_root) as lb:
        info = lb.network()
        path, ip = lb.container("c1", info, 10)
        server = in_netns(path, lambda: socket.create_server((ip, 8000)))
        echo_tcp_server(server)
        bindings = [PortBinding(container_port=8000, host_port=0, host_ip="127.0.0.1")]
        socks = bind_published(bindings)
        try:
            port = bindings[0].host_port
            assert port and socks[0].getsockname() == ("127.0.0.1", port)
            serve([(socks[0], ip, 8000, "tcp")])
            for i in range(3):  # several connections, each half-closed by the client
                with socket.create_connection(("127.0.0.1", port), timeout=3) as c:
                    payload = b"x" * 200_000 + str(i).encode()
                    c.sendall(payload)
                    c.shutdown(socket.SHUT_WR)
                    got = b"".join(iter(lambda: c.recv(65536), b""))
                assert got == payload
            # the port is taken now
            with pytest.raises(Conflict, match=f"port 127.0.0.1:{port}/tcp is already in use"):
                bind_published([PortBinding(8000, port, "127.0.0.1")])
        finally:
            for s in socks:
                stop_listener(s)
            stop_listener(server)


def test_published_udp_port_relays_both_ways(engine_root):
    from engine.network.ports import bind_published, serve
    from engine.types import PortBinding

    with lab(engine_root) as lb:
        info = lb.network()
        path, ip = lb.container("c1", info, 10)
        server = in_netns(path, lambda: _udp_bound(ip, 5300))

        def echo() -> None:
            while True:
                try:
                    data, peer = server.recvfrom(2048)
                    if peer is None:  # shut down
                        return
                    server.sendto(data.upper(), peer)
                except OSError:
                    return
        threading.Thread(target=echo, daemon=True).start()
        bindings = [PortBinding(5300, 0, "127.0.0.1", "udp")]
        socks = bind_published(bindings)
        try:
            serve([(socks[0], ip, 5300, "udp")])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
                c.settimeout(3)
                c.sendto(b"ping", ("127.0.0.1", bindings[0].host_port))
                assert c.recv(2048) == b"PING"
            with pytest.raises(Conflict):
                bind_published([PortBinding(5300, bindings[0].host_port, "127.0.0.1", "udp")])
        finally:
            for s in socks:
                stop_listener(s)
            stop_listener(server)


def _udp_bound(ip: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    return s


def test_bind_failure_closes_what_was_opened():
    from engine.errors import InvalidArgument
    from engine.network.ports import bind_published
    from engine.types import PortBinding

    holder = socket.create_server(("127.0.0.1", 0))
    taken = holder.getsockname()[1]
    try:
        fds_before = set(os.listdir("/proc/self/fd"))
        with pytest.raises(Conflict) as err:
            bind_published([PortBinding(1, 0, "127.0.0.1"), PortBinding(2, 0, "127.0.0.1", "udp"),
                            PortBinding(3, taken, "127.0.0.1")])
        assert "\n" not in str(err.value)
        assert set(os.listdir("/proc/self/fd")) == fds_before
        with pytest.raises(InvalidArgument):
            bind_published([PortBinding(1, 0, "203.0.113.7")])  # not an address of this host
    finally:
        holder.close()


def test_ensure_running_refuses_a_subnet_taken_while_the_bridge_was_gone(engine_root, tmp_path):
    from engine.network.bridge import delete_bridge

    other = str(tmp_path / "composer-test-other-root")
    with lab(engine_root) as lb, lab(other) as thief:
        info = lb.network()
        # a bridge deleted by hand keeps its subnet reserved
        delete_bridge(info.bridge)
        assert thief.network("other").subnet != info.subnet
        lb.nets.ensure_running(info.name)
        assert info.bridge in links()
        # after a reboot: no resolver, no bridge, no reservations (/run is emptied)
        from engine.network.ipam import _reservation

        lb.nets._stop_dns(info.name)
        delete_bridge(info.bridge)
        os.unlink(_reservation(info.subnet))
        thief.network(subnet=info.subnet)  # the subnet looks free now, and another root takes it
        with pytest.raises(Conflict, match=f"subnet {info.subnet} now overlaps"):
            lb.nets.ensure_running(info.name)
        assert info.bridge not in links()


def test_firewall_rules_go_per_network_and_the_chain_with_the_last(engine_root):
    from engine.api import Engine
    from engine.network import firewall
    from engine.types import NetworkConfig
    from tests.support.netstack import host_state

    def ours(table: str) -> list[str]:
        out = subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True, check=True)
        return [line for line in out.stdout.splitlines() if chain in line.split()]

    others_before = host_state()["iptables"]
    eng = Engine(engine_root)
    chain = firewall.chain_name(eng.paths.root_id)
    out = eng.create_network("fw_out")
    sealed = eng.create_network("fw_sealed", config=NetworkConfig(internal=True))
    try:
        filt, nat = ours("filter"), ours("nat")
        assert filt.count(f"-A FORWARD -j {chain}") == 1 and nat.count(f"-A POSTROUTING -j {chain}") == 1
        assert f"-A {chain} -s {out.subnet} ! -o {out.bridge} -j MASQUERADE" in nat
        assert f"-A {chain} -i {out.bridge} ! -o {out.bridge} -j ACCEPT" in filt
        assert f"-A {chain} -i {sealed.bridge} ! -o {sealed.bridge} -j DROP" in filt
        assert f"-A {chain} ! -i {sealed.bridge} -o {sealed.bridge} -j DROP" in filt
        assert not [line for line in nat if sealed.bridge in line]
        # idempotent: setting a bridge up again adds nothing
        firewall.setup_bridge(eng.paths.root_id, out.bridge, out.subnet)
        firewall.setup_bridge(eng.paths.root_id, sealed.bridge, sealed.subnet, internal=True)
        assert (ours("filter"), ours("nat")) == (filt, nat)

        # a bridge gone without its rules (removed by a version without the shared chain): cleaned up too
        subprocess.run(["iptables", "-w", "-A", firewall.ISOLATION, "-o", "ctgone000000", "-j", "DROP"], check=True)
        eng.remove_network("fw_out")
        # the other network's rules are left as they were; the nat chain had only fw_out's rule
        assert ours("filter") == [line for line in filt if out.bridge not in line.split()]
        assert ours("nat") == []
        firewall.forget_bridge(eng.paths.root_id, out.bridge)  # again: nothing to do, nothing fails
    finally:
        for name in ("fw_out", "fw_sealed"):
            if name in [n.name for n in eng.networks.list()]:
                eng.remove_network(name)
    assert ours("filter") == [] and ours("nat") == []
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert chain not in saved and "ctgone000000" not in saved
    assert host_state()["iptables"] == others_before  # nobody else's rules were touched


def test_a_network_of_an_older_layout_gets_its_rules_and_resolver_again(engine_root):
    """A network made by a version without isolation (the way out first, no drop of what comes from other
    bridges, a resolver answering any source) is brought to the current layout by its next start."""
    from engine.network import firewall
    from engine.store.records import read_json, write_json

    with lab(engine_root) as lb:
        info = lb.network()
        root_id = lb.paths.root_id
        chain = firewall.chain_name(root_id)
        current = chain_rules(root_id, "filter")
        br = info.bridge
        for rule in (f"! -i {br} -o {br} -j DROP", f"-i {br} ! -o {br} -j {firewall.ISOLATION}"):
            subprocess.run(["iptables", "-w", "-D", chain, *rule.split()], check=True)
        record = os.path.join(lb.paths.networks, info.name + ".json")
        rec = read_json(record)
        del rec["layout"]
        write_json(record, rec)
        old_pid = lb.nets._dns_pid(info.name)
        assert chain_rules(root_id, "filter") != current

        lb.nets.ensure_running(info.name)
        assert chain_rules(root_id, "filter") == current  # all of them, in their order
        pid = lb.nets._dns_pid(info.name)
        assert pid and pid != old_pid
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert f"\0--subnet\0{info.subnet}\0".encode() in f.read()
        from engine.network.manager import LAYOUT

        assert read_json(record)["layout"] == LAYOUT
        lb.nets.ensure_running(info.name)  # current now: nothing to do
        assert lb.nets._dns_pid(info.name) == pid
