"""Networks of an engine root: record, bridge, firewall allowance and resolver, made and removed together."""
from __future__ import annotations

import hashlib
import os
import re
import select
import sys
import threading
from datetime import UTC, datetime

from engine.errors import EngineError, InvalidArgument, NotFound, quietly
from engine.network.bridge import bridge_mac_set, set_bridge_mac
from engine.paths import Paths
from engine.procs import alive, wait_gone
from engine.store.locks import file_lock
from engine.store.records import open_log, read_json, write_json
from engine.types import NetworkConfig, NetworkInfo

TYPE_CHECKING = False  # subprocess, ipaddress and signal are imported where used: `ps` and a no-op `up` need none
if TYPE_CHECKING:
    import subprocess

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# where a network's resolver reads the upstream servers for names it does not know (a resolv.conf)
UPSTREAMS_ENV = "COMPOSER_RESOLV_CONF"
# the version of a network's firewall rules (firewall.py) and resolver (dns.py) its record says it has: a
# network made by a version with another gets both again at its next container start (ensure_running)
LAYOUT = 2


class Networks:
    def __init__(self, paths: Paths):
        self.paths = paths

    # -- records -----------------------------------------------------------------------
    def _record_path(self, name: str) -> str:
        return os.path.join(self.paths.networks, name + ".json")

    def records_file(self, name: str) -> str:
        return os.path.join(self.paths.networks, name + ".dns.json")

    def _pidfile(self, name: str) -> str:
        return os.path.join(self.paths.run, "dns", name + ".pid")

    @staticmethod
    def _info(rec: dict) -> NetworkInfo:
        return NetworkInfo(rec["name"], rec["id"], rec["subnet"], rec["gateway"], rec["bridge"], rec.get("labels", {}),
                           internal=bool(rec.get("internal")), subnet6=rec.get("subnet6", ""),
                           gateway6=rec.get("gateway6", ""), ip_range=rec.get("ip_range", ""),
                           mtu=int(rec.get("mtu") or 0), options=dict(rec.get("options") or {}),
                           created=rec.get("created", ""))

    def get(self, name: str) -> NetworkInfo:
        rec = read_json(self._record_path(name))
        if rec is None:
            raise NotFound(f"no such network: {name}")
        return self._info(rec)

    def list(self) -> list[NetworkInfo]:
        out = []
        if os.path.isdir(self.paths.networks):
            for entry in sorted(os.listdir(self.paths.networks)):
                if entry.endswith(".json") and not entry.endswith(".dns.json"):
                    rec = read_json(os.path.join(self.paths.networks, entry))
                    if rec:
                        out.append(self._info(rec))
        return out

    # -- create / remove ---------------------------------------------------------------
    def create(self, name: str, labels: dict[str, str], config: NetworkConfig | None = None) -> NetworkInfo:
        """Make the network (idempotent by name: an existing one is returned as it is)."""
        if not _NAME.match(name):
            raise InvalidArgument(f"invalid network name {name!r}: use letters, digits, '_', '.' and '-'")
        config = config or NetworkConfig()
        from engine.network import firewall
        from engine.network.bridge import bridge_exists, create_bridge, delete_bridge
        from engine.network.ipam import HOST_LOCK, host_networks, release, reserve, reserved

        os.makedirs(self.paths.networks, exist_ok=True)
        with file_lock(self.paths.lock("net-" + name)):
            rec = read_json(self._record_path(name))
            if rec is not None:
                return self._info(rec)
            net_id = hashlib.sha256(os.urandom(32)).hexdigest()
            bridge, mtu = _bridge_options(config.options, f"cb{self.paths.root_id[:5]}{net_id[:8]}")
            record = self._record_path(name)
            with file_lock(HOST_LOCK):
                if bridge_exists(bridge):
                    from engine.errors import Conflict

                    raise Conflict(f"network {name}: an interface named {bridge} already exists on this host: "
                                   "choose another com.docker.network.bridge.name")
                taken = host_networks() + reserved()
                subnet, gateway, ip_range = _ipv4_plan(name, config, taken)
                subnet6 = gateway6 = ""
                if config.enable_ipv6 or config.subnet6:
                    subnet6, gateway6 = _ipv6_plan(name, config, host_networks(10) + reserved())
                made: list[str] = []
                starting: _Starting | None = None

                def undo() -> None:  # (with HOST_LOCK held)
                    quietly(lambda: os.unlink(self.records_file(name)))  # first: see _stop_dns
                    if starting is not None:
                        starting.abandon()
                    self._stop_dns(name)
                    quietly(lambda: os.unlink(self._record_path(name)))
                    quietly(lambda: firewall.forget_bridge(self.paths.root_id, bridge, bool(subnet6)))
                    quietly(lambda: delete_bridge(bridge))
                    for sub in made:
                        quietly(lambda sub=sub: release(sub, record))

                try:
                    reserve(subnet, record)
                    made.append(subnet)
                    if subnet6:
                        reserve(subnet6, record)
                        made.append(subnet6)
                    # the record first: a CLI killed from here on leaves a network that `down` finds and
                    # removes whole (and a container start re-makes a missing bridge), never a lost bridge
                    rec = {"name": name, "id": net_id, "subnet": subnet, "gateway": gateway, "bridge": bridge,
                           "labels": labels, "created": datetime.now(UTC).isoformat(), "internal": config.internal,
                           "subnet6": subnet6, "gateway6": gateway6, "ip_range": ip_range, "mtu": mtu,
                           "options": dict(config.options), "layout": LAYOUT}
                    write_json(self._record_path(name), rec)
                    # the resolver starts first (it binds the gateway address before the bridge has it) and
                    # is waited for last: its interpreter's start overlaps with the bridge and the firewall
                    starting = self._spawn_dns(name, gateway, subnet)
                    create_bridge(bridge, gateway, int(subnet.split("/")[1]), mtu, gateway6,
                                  int(subnet6.split("/")[1]) if subnet6 else 64, bridge_mac(net_id))
                except BaseException:
                    undo()
                    raise
            # the subnet is reserved and on the bridge: other networks may be made (on this host's other
            # roots, or this project's other networks) while this one's rules and resolver are finished
            try:
                firewall.setup_bridge(self.paths.root_id, bridge, subnet, config.internal, bool(subnet6))
                self._await_dns(name, starting)
            except BaseException:
                with file_lock(HOST_LOCK):
                    undo()
                raise
            return self._info(rec)

    def remove(self, name: str) -> None:
        from engine.network import firewall
        from engine.network.bridge import delete_bridge

        with file_lock(self.paths.lock("net-" + name)):
            rec = read_json(self._record_path(name))
            if rec is None:
                raise NotFound(f"no such network: {name}")
            quietly(lambda: os.unlink(self.records_file(name)))  # first: see _stop_dns
            self._stop_dns(name)
            # both wait on the kernel (a link's unregistering, an nf_tables commit that deletes rules):
            # the rules go in a thread meanwhile
            _together(lambda: delete_bridge(rec["bridge"]),
                      lambda: firewall.forget_bridge(self.paths.root_id, rec["bridge"], bool(rec.get("subnet6"))))
            from engine.network.ipam import HOST_LOCK, release

            with file_lock(HOST_LOCK):
                release(rec["subnet"], self._record_path(name))
                if rec.get("subnet6"):
                    release(rec["subnet6"], self._record_path(name))
            for path in (self.records_file(name), self.records_file(name) + ".lock", self._record_path(name)):
                quietly(lambda path=path: os.unlink(path))
        quietly(lambda: os.unlink(self.paths.lock("net-" + name)))

    # -- the resolver process ----------------------------------------------------------
    def _dns_pid(self, name: str) -> int:
        try:
            with open(self._pidfile(name)) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0
        return pid if alive(pid, b"engine.network.dns") else 0

    def _spawn_dns(self, name: str, gateway: str, subnet: str) -> _Starting:
        """Start the network's resolver without waiting for it (see _await_dns)."""
        import subprocess

        pidfile = self._pidfile(name)
        os.makedirs(os.path.dirname(pidfile), exist_ok=True)
        quietly(lambda: os.unlink(pidfile))
        records = self.records_file(name)
        if not os.path.exists(records):
            write_json(records, {"containers": {}})
        log_path = os.path.join(os.path.dirname(pidfile), name + ".log")
        pkg = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        try:
            with open_log(log_path) as log:
                proc = subprocess.Popen(
                    [sys.executable, "-S", "-m", "engine.network.dns", "--records", records, "--listen", gateway,
                     "--subnet", subnet, "--pidfile", pidfile,
                     "--resolv-conf", os.environ.get(UPSTREAMS_ENV) or "/etc/resolv.conf", "--ready-fd", str(ready_w)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, cwd="/",
                    pass_fds=(ready_w,), env={"PYTHONPATH": pkg, "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        except BaseException:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)
        return _Starting(proc, ready_r, log_path)

    def _await_dns(self, name: str, starting: _Starting, timeout: float = 5) -> None:
        """Wait until the resolver serves: it writes a byte to the pipe then; it closes it by dying."""
        try:
            ready, _, _ = select.select([starting.ready], [], [], timeout)
            got = os.read(starting.ready, 1) if ready else None
        finally:
            starting.close()
        if got is None:
            starting.abandon()
            raise EngineError(f"the resolver of network {name} did not start in time (see {starting.log})")
        if not got:
            starting.abandon()
            raise EngineError(f"the resolver of network {name} failed to start (see {starting.log})")
        starting.proc.returncode = 0  # it lives on after us; no warning from Popen's finalizer

    def _start_dns(self, name: str, gateway: str, subnet: str) -> None:
        self._await_dns(name, self._spawn_dns(name, gateway, subnet))

    def _stop_dns(self, name: str) -> None:
        """Stop the resolver. Its records file is deleted before (by remove, and by a failed create): a
        resolver still starting (its starter killed) that writes its pidfile after we looked for it finds
        the file gone and exits by itself."""
        import signal

        pid = self._dns_pid(name)
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if not wait_gone(pid, 2):
                os.kill(pid, signal.SIGKILL)
            try:
                os.waitpid(pid, os.WNOHANG)  # our own child when this process started it
            except ChildProcessError:
                pass
        quietly(lambda: os.unlink(self._pidfile(name)))

    def ensure_running(self, name: str) -> None:
        """Restart the network's bridge and resolver if they are gone (after a reboot, or a kill)."""
        import ipaddress

        rec = read_json(self._record_path(name))
        if rec is None:
            raise NotFound(f"no such network: {name}")
        info = self._info(rec)
        current = rec.get("layout") == LAYOUT
        if current and self._dns_pid(name) and bridge_mac_set(info.bridge):  # (false too for a missing bridge)
            return
        from engine.network import firewall
        from engine.network.bridge import create_bridge
        from engine.network.ipam import HOST_LOCK, host_networks, reserve, reserved

        with file_lock(self.paths.lock("net-" + name)):
            if not os.path.exists(f"/sys/class/net/{info.bridge}"):
                subnet = ipaddress.ip_network(info.subnet)
                record = self._record_path(name)
                with file_lock(HOST_LOCK):
                    # after a reboot the reservations are gone too: someone may have taken the subnet since
                    clash = [str(n) for n in host_networks() + reserved(exclude_record=record)
                             if n.version == 4 and n.overlaps(subnet)]
                    if clash:
                        from engine.errors import Conflict

                        raise Conflict(f"network {name} cannot come back: its subnet {info.subnet} now overlaps "
                                       f"{clash[0]} on this host; remove the network and create it again")
                    reserve(info.subnet, record)
                    if info.subnet6:
                        reserve(info.subnet6, record)
                    create_bridge(info.bridge, info.gateway, subnet.prefixlen, info.mtu, info.gateway6,
                                  int(info.subnet6.split("/")[1]) if info.subnet6 else 64, bridge_mac(info.id))
                firewall.setup_bridge(self.paths.root_id, info.bridge, info.subnet, info.internal,
                                      bool(info.subnet6))
            else:
                if not current:  # rules of an older layout
                    firewall.setup_bridge(self.paths.root_id, info.bridge, info.subnet, info.internal,
                                          bool(info.subnet6))
                if not bridge_mac_set(info.bridge):  # made by an older version, or by a create killed just then
                    try:
                        set_bridge_mac(info.bridge)  # the one it has now: its containers know it
                    except OSError as e:
                        raise EngineError(f"bridge {info.bridge}: cannot set its MAC address: "
                                          f"{e.strerror or e}") from None
            if not current:
                self._stop_dns(name)  # an older resolver answers any source
            if not self._dns_pid(name):
                self._start_dns(name, info.gateway, info.subnet)
            if not current:
                rec = read_json(self._record_path(name)) or rec
                write_json(self._record_path(name), {**rec, "layout": LAYOUT})


class _Starting:
    """A resolver started and not yet waited for: its process and the read end of its readiness pipe."""

    def __init__(self, proc: subprocess.Popen, ready: int, log: str):
        self.proc, self.ready, self.log = proc, ready, log

    def close(self) -> None:
        if self.ready >= 0:
            os.close(self.ready)
            self.ready = -1

    def abandon(self) -> None:
        """Kill it (a failed create or start); a no-op for one that was found serving."""
        self.close()
        if self.proc.returncode is None:
            self.proc.kill()
            self.proc.wait()


def bridge_mac(net_id: str) -> bytes:
    """The MAC address of a network's bridge: made from the network's id, so a bridge made again has
    the same one (locally administered, unicast)."""
    return bytes([0x02]) + bytes.fromhex(net_id[:10])


BRIDGE_NAME_OPT = "com.docker.network.bridge.name"
MTU_OPTS = ("com.docker.network.driver.mtu", "mtu")


def _bridge_options(options: dict[str, str], default_name: str) -> tuple[str, int]:
    """(bridge name, mtu) from driver_opts; other options are kept in the record only."""
    bridge = str(options.get(BRIDGE_NAME_OPT) or default_name)
    if len(bridge) > 15 or not re.match(r"^[A-Za-z0-9_.-]+$", bridge):
        raise InvalidArgument(f"invalid {BRIDGE_NAME_OPT} {bridge!r}: 1 to 15 letters, digits, '_', '.' or '-'")
    mtu = 0
    for key in MTU_OPTS:
        if options.get(key) not in (None, ""):
            try:
                mtu = int(str(options[key]))
            except ValueError:
                mtu = -1
            if not 68 <= mtu <= 65535:
                raise InvalidArgument(f"invalid {key} {options[key]!r}: a number from 68 to 65535")
    return bridge, mtu


def _parse_net(text: str, what: str, version: int):
    import ipaddress

    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid {what} {text!r}: expected an IPv{version} network like "
                              f"{'10.5.0.0/24' if version == 4 else 'fd00:5::/64'}") from None
    if net.version != version:
        raise InvalidArgument(f"invalid {what} {text!r}: not an IPv{version} network")
    return net


def _gateway_in(net, given: str, name: str) -> str:
    import ipaddress

    if not given:
        return str(next(net.hosts()))
    try:
        gw = ipaddress.ip_address(given)
    except ValueError:
        raise InvalidArgument(f"network {name}: invalid gateway {given!r}") from None
    if gw not in net or gw in (net.network_address, net.broadcast_address):
        raise InvalidArgument(f"network {name}: gateway {given} is not a usable address of subnet {net}")
    return str(gw)


def _subnet(name: str, given: str, gateway: str, version: int, taken: list):
    """(subnet, gateway) of one family for a new network: given ones validated (free on this host, at least
    4 addresses), else a free one from the pool (hold HOST_LOCK)."""
    from engine.network.ipam import check_free, pick_subnet, pick_subnet6

    label = "subnet" if version == 4 else "IPv6 subnet"
    if given:
        subnet = _parse_net(given, f"{label} of network {name}", version)
        if subnet.num_addresses < 4:
            raise InvalidArgument(f"network {name}: {label} {subnet} is too small (at least 4 addresses)")
        check_free(subnet, taken)
    else:
        subnet = (pick_subnet if version == 4 else pick_subnet6)(taken)
    return subnet, _gateway_in(subnet, gateway, name)


def _ipv4_plan(name: str, config: NetworkConfig, taken: list) -> tuple[str, str, str]:
    """(subnet, gateway, ip_range) for a new network."""
    if not config.subnet and (config.gateway or config.ip_range):
        raise InvalidArgument(f"network {name}: a gateway or ip_range needs a subnet too")
    subnet, gateway = _subnet(name, config.subnet, config.gateway, 4, taken)
    ip_range = ""
    if config.ip_range:
        rng = _parse_net(config.ip_range, f"ip_range of network {name}", 4)
        if not rng.subnet_of(subnet):
            raise InvalidArgument(f"network {name}: ip_range {rng} is not inside subnet {subnet}")
        ip_range = str(rng)
    return str(subnet), gateway, ip_range


def _ipv6_plan(name: str, config: NetworkConfig, taken: list) -> tuple[str, str]:
    subnet, gateway = _subnet(name, config.subnet6, config.gateway6, 6, taken)
    return str(subnet), gateway


def _together(first, second) -> None:
    """Run *first* here and *second* in a thread at the same time; the first error of the two is raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            second()
        except BaseException as e:  # noqa: BLE001 - raised again in the caller's thread
            errors.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        first()
    finally:
        thread.join()
    if errors:
        raise errors[0]
