"""Networks of an engine root: record, bridge, firewall allowance and resolver, made and removed together."""
from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

from engine.errors import EngineError, InvalidArgument, NotFound
from engine.paths import Paths
from engine.procs import alive, wait_gone
from engine.store.locks import file_lock
from engine.store.records import read_json, write_json
from engine.types import NetworkInfo

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


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
        return NetworkInfo(rec["name"], rec["id"], rec["subnet"], rec["gateway"], rec["bridge"], rec.get("labels", {}))

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
    def create(self, name: str, labels: dict[str, str]) -> NetworkInfo:
        if not _NAME.match(name):
            raise InvalidArgument(f"invalid network name {name!r}: use letters, digits, '_', '.' and '-'")
        from engine.network import firewall
        from engine.network.bridge import create_bridge, delete_bridge
        from engine.network.ipam import (
            HOST_LOCK,
            host_networks,
            pick_subnet,
            release,
            reserve,
            reserved,
        )

        os.makedirs(self.paths.networks, exist_ok=True)
        with file_lock(self.paths.lock("net-" + name)):
            rec = read_json(self._record_path(name))
            if rec is not None:
                return self._info(rec)
            net_id = hashlib.sha256(os.urandom(32)).hexdigest()
            bridge = f"cb{self.paths.root_id[:5]}{net_id[:8]}"
            record = self._record_path(name)
            with file_lock(HOST_LOCK):
                subnet = pick_subnet(host_networks() + reserved())
                gateway = str(next(subnet.hosts()))
                try:
                    reserve(str(subnet), record)
                    create_bridge(bridge, gateway, subnet.prefixlen)
                    firewall.allow_bridge(self.paths.root_id, bridge)
                    rec = {"name": name, "id": net_id, "subnet": str(subnet), "gateway": gateway, "bridge": bridge,
                           "labels": labels, "created": datetime.now(UTC).isoformat()}
                    write_json(self._record_path(name), rec)
                    self._start_dns(name, gateway)
                except BaseException:
                    self._stop_dns(name)
                    _quiet(lambda: os.unlink(self._record_path(name)))
                    _quiet(lambda: firewall.forget_bridge(self.paths.root_id, bridge))
                    _quiet(lambda: delete_bridge(bridge))
                    _quiet(lambda: release(str(subnet), record))
                    raise
            return self._info(rec)

    def remove(self, name: str) -> None:
        from engine.network import firewall
        from engine.network.bridge import delete_bridge

        with file_lock(self.paths.lock("net-" + name)):
            rec = read_json(self._record_path(name))
            if rec is None:
                raise NotFound(f"no such network: {name}")
            self._stop_dns(name)
            delete_bridge(rec["bridge"])
            firewall.forget_bridge(self.paths.root_id, rec["bridge"])
            from engine.network.ipam import HOST_LOCK, release

            with file_lock(HOST_LOCK):
                release(rec["subnet"], self._record_path(name))
            for path in (self.records_file(name), self.records_file(name) + ".lock", self._record_path(name)):
                _quiet(lambda path=path: os.unlink(path))
        _quiet(lambda: os.unlink(self.paths.lock("net-" + name)))

    # -- the resolver process ----------------------------------------------------------
    def _dns_pid(self, name: str) -> int:
        try:
            with open(self._pidfile(name)) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0
        return pid if alive(pid, b"engine.network.dns") else 0

    def _start_dns(self, name: str, gateway: str) -> None:
        pidfile = self._pidfile(name)
        os.makedirs(os.path.dirname(pidfile), exist_ok=True)
        _quiet(lambda: os.unlink(pidfile))
        records = self.records_file(name)
        if not os.path.exists(records):
            write_json(records, {"containers": {}})
        log_path = os.path.join(os.path.dirname(pidfile), name + ".log")
        pkg = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-S", "-m", "engine.network.dns", "--records", records, "--listen", gateway,
                 "--pidfile", pidfile],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, cwd="/",
                env={"PYTHONPATH": pkg, "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        deadline = time.monotonic() + 5
        while not os.path.exists(pidfile):
            if proc.poll() is not None:
                raise EngineError(f"the resolver of network {name} failed to start (see {log_path})")
            if time.monotonic() > deadline:
                proc.kill()
                raise EngineError(f"the resolver of network {name} did not start in time")
            time.sleep(0.005)
        proc.returncode = 0  # it lives on after us; no warning from Popen's finalizer

    def _stop_dns(self, name: str) -> None:
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
        _quiet(lambda: os.unlink(self._pidfile(name)))

    def ensure_running(self, name: str) -> None:
        """Restart the network's bridge and resolver if they are gone (after a reboot, or a kill)."""
        info = self.get(name)
        if self._dns_pid(name) and os.path.exists(f"/sys/class/net/{info.bridge}"):
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
                             if n.overlaps(subnet)]
                    if clash:
                        from engine.errors import Conflict

                        raise Conflict(f"network {name} cannot come back: its subnet {info.subnet} now overlaps "
                                       f"{clash[0]} on this host; remove the network and create it again")
                    reserve(info.subnet, record)
                    create_bridge(info.bridge, info.gateway, subnet.prefixlen)
                firewall.allow_bridge(self.paths.root_id, info.bridge)
            if not self._dns_pid(name):
                self._start_dns(name, info.gateway)


def _quiet(fn) -> None:
    try:
        fn()
    except (OSError, EngineError):
        pass
