"""The container service: create, start, stop, kill, pause, remove, enter (exec, attach, copy, sync)
and read (inspect, list, logs, stats, top) the containers of one engine root.

A container is its record (records.py) and its directory; its process runs under a monitor
(engine/runtime/launch.py, monitor.py). Every mutation of a container holds its lock
(``ctr-<id>``; creation and network changes also ``containers``), and every multi-step operation
takes back what it made when a later step fails. What makes, starts and wires containers
(runtimeconfig.py, wiring.py, cleanup.py, engine/runtime/, engine/network/) is imported by the
methods that do it: `ps` and a no-op `up` only read records and states.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
from typing import IO, Iterator

from engine.containers.records import new_id, spec_from_dict, spec_to_dict
from engine.errors import Conflict, EngineError, InvalidArgument, quietly
from engine.store.locks import file_lock
from engine.store.records import now
from engine.stores import Stores
from engine.types import ContainerInfo, ContainerSpec, NetworkAttachment, PortBinding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.runtime.cgroups import Cgroup
    from engine.runtime.exec import ExecProcess


class Containers:
    def __init__(self, stores: Stores):
        self.stores = stores
        self.paths = stores.paths
        self.records = stores.records

    # -- reading ----------------------------------------------------------------------
    def info(self, rec: dict) -> ContainerInfo:
        from engine.runtime.state import ACTIVE, read_state

        cdir = self.paths.container_dir(rec["id"])
        state = read_state(cdir)
        spec = spec_from_dict(rec["spec"])
        health: dict = {}
        if os.path.exists(os.path.join(cdir, "health.json")):
            from engine.runtime.health import read_health

            health = read_health(cdir) or {}
            if state.get("status") not in ACTIVE and health.get("Status") in ("starting", "healthy"):
                health = {**health, "Status": "unhealthy"}  # its monitor died mid-check
        return ContainerInfo(
            id=rec["id"], name=rec["name"], image=spec.image, image_id=rec["image_id"], labels=spec.labels,
            status=state.get("status", "created"), pid=int(state.get("pid") or 0),
            exit_code=int(state.get("exit_code") or 0), created=rec["created"],
            started_at=state.get("started_at", ""), finished_at=state.get("finished_at", ""),
            ports=_bindings(rec.get("ports_bound"), spec.ports),
            networks=dict(rec.get("addresses", {})), spec=spec,
            oom_killed=bool(state.get("oom_killed")), paused=bool(state.get("paused")),
            restart_count=int(state.get("restart_count") or 0), health=health.get("Status", ""),
            health_log=list(health.get("Log") or []), failing_streak=int(health.get("FailingStreak") or 0),
            networks_v6=dict(rec.get("addresses6") or {}), network_container=rec.get("network_container", ""))

    def inspect(self, ref: str) -> ContainerInfo:
        return self.info(self.records.find(ref))

    def list(self, labels: dict[str, str] | None = None) -> list[ContainerInfo]:
        out = []
        for rec in self.records.all():
            have = rec["spec"].get("labels", {})
            if labels and any(have.get(k) != v for k, v in labels.items()):
                continue
            out.append(self.info(rec))
        out.sort(key=lambda c: c.created)
        return out

    # -- lifecycle ----------------------------------------------------------------------
    def create(self, spec: ContainerSpec, layers: list[str] | None = None) -> ContainerInfo:
        """*layers* (diff ids, bottom first, already unpacked): the root filesystem is these layers, not
        an image's, and spec.image is only a name (the builder's RUN steps)."""
        from engine.containers import wiring
        from engine.containers.cleanup import undo_volumes
        from engine.runtime.options import check
        from engine.runtime.sysinfo import fit

        check(spec)
        resources, warnings = fit(spec.resources or {})
        if warnings:
            spec = dataclasses.replace(spec, resources=resources)
        from engine.volumes.resolve import make_host_paths, name_anonymous, resolve_mounts

        volumes = self.stores.volumes
        image = self.stores.images.get(spec.image) if layers is None else None
        mounts = resolve_mounts(spec, volumes, self.records)
        from engine.network.endpoints import network_mode, ordered

        mode = network_mode(spec)
        nets = [self.stores.networks.get(att.network) for att in ordered(spec.networks)]
        cid = new_id()
        cdir = self.paths.container_dir(cid)
        anonymous: list[str] = []
        with file_lock(self.paths.lock("containers")), undo_volumes(volumes, anonymous):
            recs = self.records.all()
            if any(r["name"] == spec.name for r in recs):
                raise Conflict(f'container name "{spec.name}" is already in use: remove it or choose another name')
            make_host_paths(mounts)
            anonymous += name_anonymous(mounts, volumes)
            spec = dataclasses.replace(spec, mounts=mounts)
            from engine.network.endpoints import plan_addresses

            addresses, addresses6 = plan_addresses(spec, nets, recs)
            hostname = spec.hostname or cid[:12]
            peer = ""
            if mode == "container":  # the container it joins (resolved again at start): its hostname too
                target = wiring.peer_record(self.stores, spec)
                if target is not None:
                    peer, hostname = target["id"], spec.hostname or target["hostname"]
            elif mode == "host" and not spec.hostname:
                import socket

                hostname = socket.gethostname()
            os.makedirs(self.paths.containers, exist_ok=True)
            for left in os.listdir(self.paths.containers):  # a create that crashed (under this lock)
                if left.endswith(".creating"):
                    shutil.rmtree(os.path.join(self.paths.containers, left), ignore_errors=True)
            tmp = cdir + ".creating"
            try:
                os.makedirs(tmp, 0o700)  # root's alone: its record and config hold the environment
                for sub in ("upper", "work", "rootfs"):
                    os.makedirs(os.path.join(tmp, sub))
                from engine.volumes.files import write_files

                write_files(mounts, tmp)  # secrets and configs: kept here, never in the record
                rec = {"id": cid, "name": spec.name, "image_id": image.id if image else "", "created": now(),
                       "spec": spec_to_dict(spec), "addresses": addresses, "addresses6": addresses6,
                       "hostname": hostname, "network_container": peer}
                if layers is not None:
                    rec["layers"] = list(layers)
                from engine.store.records import write_json

                write_json(os.path.join(tmp, "record.json"), rec)
                os.rename(tmp, cdir)  # the container appears whole or not at all
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        self.stores.events.container("create", rec)
        return dataclasses.replace(self.info(rec), warnings=warnings)

    def prepare_starts(self) -> None:
        """Get ready to start containers soon (the monitors' fork server begins its own start meanwhile)."""
        from engine.runtime import launch

        launch.prepare()

    def start(self, ref: str, stdio: tuple[int, int, int] | None = None) -> ContainerInfo:
        """Start the container's process under its monitor. With *stdio*, the process uses these
        descriptors (a foreground `run`) instead of writing to the log."""
        return self._start(ref, {"fds": list(stdio)} if stdio else None)

    def start_with_terminal(self, ref: str, size: tuple[int, int] | None = None) -> int:
        """Start the container's process with a pseudo-terminal of the container's own devpts as its
        stdio and controlling terminal (a foreground `run -t`; *size*: rows, columns), instead of the
        log. Returns the pty's master (the caller closes it)."""
        from engine.runtime import console

        ours, theirs = console.socket_pair()
        try:
            try:
                self._start(ref, {"fds": [theirs], "console": True, "size": list(size) if size else None})
            finally:
                os.close(theirs)
            try:
                return console.receive_master(ours)
            except console.ConsoleError as e:
                raise EngineError(f"container {ref}: {e}") from None
        finally:
            os.close(ours)

    def _start(self, ref: str, stdio: dict | None) -> ContainerInfo:
        from engine.containers import wiring
        from engine.containers.runtimeconfig import runtime_config
        from engine.runtime import launch
        from engine.runtime.state import ACTIVE

        rec = self.records.find(ref)
        cid = rec["id"]
        cdir = self.paths.container_dir(cid)
        with file_lock(self.paths.lock("ctr-" + cid)):
            if launch.read_state(cdir).get("status") in ACTIVE:
                return self.info(rec)
            launch.reap_dead_monitor(cdir)
            quietly(lambda: os.unlink(os.path.join(cdir, "health.json")))  # the last run's
            spec = spec_from_dict(rec["spec"])
            image = self.stores.images.get(rec["image_id"]) if "layers" not in rec else None
            from engine.network.endpoints import network_mode, ordered

            mode = network_mode(spec)
            nets = [self.stores.networks.get(att.network) for att in ordered(spec.networks)]
            undo: list = []
            socks: list = []
            try:
                netns, dns = wiring.wire_network(self.stores, rec, spec, nets, undo, mode)
                self.records.write(rec)  # interface names, the joined container
                ports = []
                if spec.ports and mode != "host":  # host mode: the process's own ports are the host's
                    from engine.network.ports import bind_published

                    if not nets:
                        raise InvalidArgument(f"container {rec['name']}: published ports need a network")
                    bindings = [type(p)(**vars(p)) for p in spec.ports]
                    socks = bind_published(bindings)
                    target = rec["addresses"][nets[0].name]
                    ports = [{"fd": s.fileno(), "proto": b.protocol, "target_ip": target,
                              "target_port": b.container_port} for s, b in zip(socks, bindings)]
                    rec["ports_bound"] = [vars(b) for b in bindings]
                    self.records.write(rec)
                wiring.write_etc_files(self.stores, rec, spec, nets, mode)
                config = runtime_config(self.stores, rec, image, netns, dns, ports)
                from engine.store.records import write_json

                write_json(os.path.join(cdir, "config.json"), config, durable=False)  # made again at each start
                fds = [os.dup(fd) for fd in stdio["fds"]] if stdio else []  # above 2: the monitor's stdio differs
                try:
                    launch.start(cdir, pass_fds=[s.fileno() for s in socks],
                                 stdio={**stdio, "fds": fds} if stdio else None)
                finally:
                    for fd in fds:
                        os.close(fd)
            except BaseException:
                for step in reversed(undo):
                    quietly(step)
                raise
            finally:
                for s in socks:
                    s.close()
        self.stores.events.container("start", rec)
        return self.info(self.records.find(cid))

    def stop(self, ref: str, timeout: float | None = None, signal: str | None = None) -> None:
        from engine.runtime import launch

        rec = self.records.find(ref)
        spec = spec_from_dict(rec["spec"])
        launch.stop(self.paths.container_dir(rec["id"]), spec.stop_timeout if timeout is None else timeout,
                    signal or spec.stop_signal)
        self.stores.events.container("stop", rec)

    def kill(self, ref: str, signal: str = "SIGKILL") -> None:
        from engine.runtime import launch

        rec = self.records.find(ref)
        launch.kill(self.paths.container_dir(rec["id"]), signal, spec_from_dict(rec["spec"]).stop_signal)
        self.stores.events.container("kill", rec, signal=signal)

    def pause(self, ref: str, paused: bool = True) -> None:
        """Freeze (or with paused=False, thaw) every process of a running container."""
        from engine.runtime import launch

        rec = self.records.find(ref)
        try:
            launch.set_paused(self.paths.container_dir(rec["id"]), paused)
        except EngineError as e:
            raise Conflict(f"container {rec['name']}: {e}") from None
        self.stores.events.container("pause" if paused else "unpause", rec)

    def wait(self, ref: str) -> int:
        from engine.runtime import launch

        rec = self.records.find(ref)
        return launch.wait(self.paths.container_dir(rec["id"]))

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """With *volumes*, also the container's anonymous volumes that no other container uses."""
        from engine.containers import wiring
        from engine.containers.cleanup import rmtree
        from engine.network.netns import destroy_netns
        from engine.runtime import launch

        rec = self.records.find(ref)
        cid = rec["id"]
        cdir = self.paths.container_dir(cid)
        with file_lock(self.paths.lock("ctr-" + cid)):
            if launch.read_state(cdir).get("status") in ("running", "restarting"):
                if not force:
                    raise Conflict(f"container {rec['name']} is running: stop it first or use -f")
                launch.stop(cdir, 0, "SIGKILL")
            launch.wait_monitor_gone(cdir)
            # what a dead monitor or a crashed start left, if anything
            launch.clean_after_monitor(cdir)
            destroy_netns(os.path.join(self.paths.run, "netns", cid))
            wiring.forget_names(self.stores, cid, rec.get("addresses", {}))  # networks connected while it ran
            trash = cdir + ".removing"
            os.rename(cdir, trash)  # the record disappears atomically
            rmtree(trash)
        self.stores.events.container("destroy", rec)
        quietly(lambda: os.unlink(self.paths.lock("ctr-" + cid)))
        if volumes:
            self._remove_anonymous(rec)

    def _remove_anonymous(self, rec: dict) -> None:
        from engine.errors import NotFound

        users = self.records.volume_users()
        for m in rec["spec"]["mounts"]:
            if m["type"] != "volume" or not m["source"] or users.get(m["source"]):
                continue
            try:
                if self.stores.volumes.get(m["source"]).anonymous:
                    self.stores.volumes.remove(m["source"])
            except NotFound:
                pass  # gone already (another container's removal took it)

    def run(self, spec: ContainerSpec, stdout: IO[bytes], stderr: IO[bytes]) -> int:
        """Create, start, stream the output until exit, and (with auto_remove) remove: `docker run`."""
        info = self.create(spec)
        for w in info.warnings:  # as `docker run` shows the daemon's warnings
            stderr.write(f"WARNING: {w}\n".encode())
        try:
            self.start(info.id)
            for entry in self.logs(info.id, follow=True):
                out = stdout if entry.get("stream") != "stderr" else stderr
                out.write(entry["log"].encode())
                out.flush()
            code = self.wait(info.id)
        finally:
            if spec.auto_remove:
                self.remove(info.id, force=True, volumes=True)
        return code

    # -- networks of an existing container ------------------------------------------------
    def connect_network(self, ref: str, attachment: NetworkAttachment) -> ContainerInfo:
        """Attach a container to one more network; a running one gets its interface at once."""
        from engine.containers import wiring

        return self.info(wiring.connect_network(self.stores, ref, attachment))

    def disconnect_network(self, ref: str, network: str) -> ContainerInfo:
        from engine.containers import wiring

        return self.info(wiring.disconnect_network(self.stores, ref, network))

    # -- a running container's processes ---------------------------------------------------
    def _running(self, ref: str) -> tuple[dict, str, int]:
        """A running container's record, directory and host pid; Conflict if it is not running."""
        from engine.runtime.state import read_state

        rec = self.records.find(ref)
        cdir = self.paths.container_dir(rec["id"])
        state = read_state(cdir)
        if state.get("status") != "running" or not state.get("pid"):
            raise Conflict(f"container {rec['name']} is not running")
        return rec, cdir, int(state["pid"])

    def _running_cgroup(self, ref: str) -> tuple[Cgroup, int]:
        from engine.runtime.cgroups import Cgroup

        rec, _, pid = self._running(ref)
        return Cgroup(self.paths.cgroup_parent, rec["id"]), pid

    def stats(self, ref: str) -> dict:
        """One sample of a running container's resource use (see engine/runtime/stats.py)."""
        from engine.runtime.stats import sample

        cgroup, pid = self._running_cgroup(ref)
        return sample(cgroup, pid)

    def top(self, ref: str) -> tuple[list[str], list[list[str]]]:
        """The processes of a running container: column titles and rows, like `ps -ef`."""
        from engine.runtime.top import TITLES, processes

        cgroup, _ = self._running_cgroup(ref)
        return list(TITLES), processes(cgroup.pids())

    def exec(self, ref: str, args: list[str], env: dict[str, str] | None = None, user: str | None = None,
             workdir: str | None = None, stdin: int | None = None, stdout: int | None = None,
             stderr: int | None = None, tty: bool = False, privileged: bool = False,
             size: tuple[int, int] | None = None) -> ExecProcess:
        """Start *args* in the running container and return its handle (see Engine.exec_process)."""
        from engine.runtime import launch
        from engine.runtime.exec import exec_start
        from engine.store.records import read_json

        rec = self.records.find(ref)
        cdir = self.paths.container_dir(rec["id"])
        if launch.read_state(cdir).get("status") != "running":
            raise Conflict(f"container {rec['name']} is not running")
        config = read_json(os.path.join(cdir, "config.json"))
        proc = config["process"]
        base = dict(item.split("=", 1) for item in proc["env"])
        if tty:
            base["TERM"] = "xterm"
        base.update(env or {})
        return exec_start(cdir, args, [f"{k}={v}" for k, v in base.items()],
                          proc["user"] if user is None else user, workdir or proc["cwd"], stdin, stdout, stderr,
                          tty=tty, privileged=privileged, size=size)

    def attach_stdin(self, ref: str) -> int:
        """A descriptor writing into the stdin of a running container made with stdin_open (the
        caller closes it); a tty container's input goes through its terminal (^C included)."""
        from engine.runtime.state import ACTIVE, read_state

        rec = self.records.find(ref)
        spec = spec_from_dict(rec["spec"])
        cdir = self.paths.container_dir(rec["id"])
        if not spec.stdin_open:
            raise Conflict(f"container {rec['name']} was not created with stdin_open: its stdin is closed")
        if read_state(cdir).get("status") not in ACTIVE:
            raise Conflict(f"container {rec['name']} is not running")
        try:  # non-blocking only to open: no reader means no monitor (ENXIO), not a hang
            fd = os.open(os.path.join(cdir, "stdin"), os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise Conflict(f"container {rec['name']} is not running ({e.strerror})") from None
        os.set_blocking(fd, True)
        return fd

    # -- files ------------------------------------------------------------------------------
    def copy(self, ref: str, direction: str, src: str, dest: str) -> None:
        """`docker cp`: *direction* "from" (the container's *src* to the host's *dest*) or "to"; the
        container may be running or not."""
        from engine.containers.runtimeconfig import runtime_config
        from engine.runtime import copy, launch
        from engine.store.records import read_json

        rec = self.records.find(ref)
        cdir = self.paths.container_dir(rec["id"])
        with file_lock(self.paths.lock("ctr-" + rec["id"])):  # a stopped container stays stopped meanwhile
            state = launch.read_state(cdir)
            pid = int(state.get("pid") or 0) if state.get("status") == "running" else 0
            cfg = read_json(os.path.join(cdir, "config.json"))
            if cfg is None:  # never started: the root as its start would make it, without network
                image = self.stores.images.get(rec["image_id"])
                cfg = runtime_config(self.stores, rec, image, None, [], [])
                cfg["files"] = {}
            (copy.copy_from if direction == "from" else copy.copy_to)(cdir, cfg, pid, src, dest)

    def sync(self, ref: str, files: list[tuple[str, str]], removals: list[str]) -> None:
        """Copy host files into the running container (host path, container path), keeping their
        modes, and remove *removals* there, in one pass."""
        from engine.runtime.sync import sync_into
        from engine.store.records import read_json

        _, cdir, pid = self._running(ref)
        sync_into(cdir, read_json(os.path.join(cdir, "config.json")), pid, files, removals)

    def logs(self, ref: str, follow: bool = False, tail: int | None = None, since: float | None = None,
             until: float | None = None) -> Iterator[dict]:
        """Log entries {"log", "stream", "time"} (see Engine.logs)."""
        from engine.runtime.logs import read_log

        rec = self.records.find(ref)
        return read_log(self.paths.container_dir(rec["id"]), follow=follow, tail=tail, since=since, until=until)


def _bindings(bound: list[dict] | None, declared: list[PortBinding]) -> list[PortBinding]:
    """The ports a container has bound, or (not running) the ones it declares; a declared binding on all
    addresses shows as 0.0.0.0."""
    if bound:
        return [PortBinding(**b) for b in bound]
    return [PortBinding(**{**vars(p), "host_ip": p.host_ip or "0.0.0.0"}) for p in declared]
