"""The engine API: the one interface between the front end (composer/) and the engine.

Everything here is synchronous and safe to call from worker threads; every mutation holds a
file lock, and every multi-step operation rolls back what it made when a later step fails.
Subsystems are imported lazily so a command pays only for what it touches.
"""
from __future__ import annotations

# -- what the front end may use ------------------------------------------------------------------
# composer/ imports only engine.api (and engine.types for the typed records). Besides Engine, these
# are the names it needs: the errors, image references and filters, and pull progress. Those whose
# modules cost something to import (compiled patterns) load on first use.
from engine.errors import Conflict, EngineError, InvalidArgument, NotFound  # noqa: F401

_FRONT_END_LAZY = {
    "parse_reference": ("engine.images.reference", "parse"),  # "name[:tag][@digest]" -> Reference
    "parse_image_filters": ("engine.images.filters", "parse"),  # `images --filter` -> a predicate
    "ProgressEvent": ("engine.images.progress", "ProgressEvent"),  # what pull_image reports
    "quiet_progress": ("engine.images.progress", "quiet"),  # a progress callback that drops events
}


def __getattr__(name: str):
    if name in _FRONT_END_LAZY:
        import importlib

        module, attr = _FRONT_END_LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
# -- end of what the front end may use -----------------------------------------------------------

import contextlib
import dataclasses
import os
import shutil
from typing import IO, Iterator

from engine.containers import Records, new_id, now, spec_from_dict, spec_to_dict
from engine.errors import Conflict, EngineError, InvalidArgument, NotFound
from engine.paths import Paths
from engine.store.locks import file_lock
from engine.types import (ContainerInfo, ContainerSpec, ImageInfo, Mount, NetworkAttachment, NetworkConfig,
                          NetworkInfo, PortBinding, VolumeInfo)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Engine:
    def __init__(self, root: str | None = None):
        self.paths = Paths.open(root)
        self.records = Records(self.paths)
        self._images = None
        self._networks = None
        self._volumes = None

    def lock_project(self, project: str):
        """Serialises commands on one project: held for the whole of an up, down, stop..."""
        return file_lock(self.paths.lock("project-" + project))

    # -- subsystems --------------------------------------------------------------
    @property
    def images(self):
        if self._images is None:
            from engine.images.store import ImageStore

            self._images = ImageStore(self.paths)
        return self._images

    @property
    def networks(self):
        if self._networks is None:
            from engine.network.manager import Networks

            self._networks = Networks(self.paths)
        return self._networks

    @property
    def volumes(self):
        if self._volumes is None:
            from engine.volumes.local import Volumes

            self._volumes = Volumes(self.paths)
        return self._volumes

    # -- images ------------------------------------------------------------------
    def import_image(self, src: str, ref: str | None, changes: list[str] | None = None) -> ImageInfo:
        return self.images.import_tarball(src, ref, changes or [])

    def load_images(self, path: str) -> list[str]:
        return self.images.load_archive(path)

    def build_image(self, context: str, dockerfile: str | None = None, tags: list[str] | None = None,
                    build_args: dict[str, str] | None = None, target: str | None = None, no_cache: bool = False,
                    labels: dict[str, str] | None = None, progress=None, dockerfile_inline: str | None = None,
                    network: str | None = None, secrets: dict[str, bytes] | None = None) -> ImageInfo:
        """`docker build`: the Dockerfile *dockerfile* (default CONTEXT/Dockerfile; relative paths are
        relative to *context*) or the text *dockerfile_inline*, built in the directory *context*.
        *progress* (a callable) receives the output lines; RUN steps join the engine network
        *network* if given (else they have loopback only); *secrets* ({id: value}) are what
        RUN --mount=type=secret mounts. Raises BuildError with Dockerfile:line."""
        from engine.images.build import BuildError
        from engine.images.build.executor import Builder

        context = os.path.abspath(context)
        path = None
        if dockerfile_inline is not None:
            text, name = dockerfile_inline, "Dockerfile"
        else:
            path = os.path.join(context, dockerfile or "Dockerfile")
            name = dockerfile or "Dockerfile"
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise BuildError(f"cannot read the Dockerfile {path}: {e.strerror}") from None
        return Builder(self, context, text, name, path, tags, build_args, target, no_cache, labels, progress,
                       network, secrets).run()

    def prune_build_cache(self) -> tuple[int, int]:
        """Forget the build cache, RUN's cache mounts included, and collect the layers only it kept:
        (entries, bytes freed)."""
        from engine.images.build.cache import prune
        from engine.images.build.runmounts import prune_caches

        before = {d: self.images.blobs.size(d) for d in self.images.blobs.list()}
        entries = prune(self.paths)
        mounts, mount_bytes = prune_caches(self.paths.root)
        self.images.gc()
        after = set(self.images.blobs.list())
        return entries + mounts, mount_bytes + sum(size for d, size in before.items() if d not in after)

    def list_images(self, filters: dict[str, list[str]] | None = None) -> list[ImageInfo]:
        """Every image, newest first; *filters* as `image ls --filter` (engine.images.filters.parse)."""
        images = self.images.list()
        if filters:
            from engine.images.filters import apply

            images = apply(images, filters, self.images.get)
        return images

    def pull_image(self, ref: str, progress=None, platform: str | None = None):
        """Pull *ref* from its registry; *progress* gets engine.images.progress.ProgressEvent's.
        Returns an engine.images.registry.pull.PullResult (image, digest, reference, new)."""
        from engine.images.progress import quiet
        from engine.images.registry.pull import pull

        return pull(self.images, ref, progress or quiet, platform)

    def push_image(self, ref: str, progress=None):
        """Push the image tagged *ref* to its registry; returns a PushResult (reference, digest, size)."""
        from engine.images.progress import quiet
        from engine.images.registry.push import push

        return push(self.images, ref, progress or quiet)

    def login(self, registry: str, username: str, password: str) -> None:
        """Check the credentials with the registry, then store them in the Docker client config."""
        from engine.images.registry.client import Session
        from engine.images.registry.credentials import Credentials, store

        creds = Credentials(username, password)
        session = Session(registry, "", creds=creds)
        try:
            session.ping()
        finally:
            session.close()
        store(registry, creds)

    def logout(self, registry: str) -> bool:
        from engine.images.registry.credentials import erase

        return erase(registry)

    def save_images(self, refs: list[str], dest: str) -> None:
        """`docker save`: the images to the tar *dest* ("-" for standard output)."""
        from engine.images.save import save

        save(self.images, refs, dest)

    def image_history(self, ref: str) -> list[dict]:
        """Rows of `docker history`, newest first: id, created, created_by, size, comment, tags."""
        from engine.images.history import history

        return history(self.images, ref)

    def prune_images(self, all: bool = False) -> tuple[list[str], int]:
        """Remove dangling images (with *all*, every image) that no container uses.
        Returns (`untagged: ...`/`deleted: ...` lines, bytes reclaimed)."""
        used = {r["image_id"] for r in self.records.all()}
        lines: list[str] = []
        reclaimed = 0
        images = self.images.list()
        for image in images:
            if image.id in used or (image.repo_tags and not all):
                continue
            others = {d for i in images if i.id != image.id for d in i.layers}
            freed = sum(self.images.blobs.size(d) for d in set(image.layers) - others if self.images.blobs.has(d))
            try:
                out = self.images.remove(image.id, force=True)
            except NotFound:
                continue  # removed meanwhile
            images = [i for i in images if i.id != image.id]
            reclaimed += freed
            lines += [line[0].lower() + line[1:] for line in out]
        return lines, reclaimed

    def disk_usage(self):
        """`system df` rows (engine.usage.UsageRow): images, containers, local volumes, build cache."""
        from engine.usage import disk_usage

        return disk_usage(self)

    def export_container(self, ref: str, dest: str) -> None:
        """`docker export`: the container's filesystem as a tar at *dest* ("-" for standard output)."""
        from engine.images.export import export

        rec = self.records.find(ref)
        upper = os.path.join(self.paths.container_dir(rec["id"]), "upper")
        export([upper, *self.images.lowerdirs(rec["image_id"])], dest, os.path.join(self.paths.run, "export"))

    def inspect_image(self, ref: str) -> ImageInfo:
        return self.images.get(ref)

    def tag_image(self, src: str, ref: str) -> None:
        self.images.tag(src, ref)

    def remove_image(self, ref: str, force: bool = False) -> list[str]:
        image = self.images.get(ref)
        users = [r["name"] for r in self.records.all() if r["image_id"] == image.id]
        by_id = image.id.startswith(ref) or image.id[7:].startswith(ref)
        untag_only = not by_id and len(image.repo_tags) > 1
        if users and not untag_only:
            # even -f: deleting the layers would pull the root filesystem from under those containers
            raise Conflict(f"unable to remove image {ref}: it is used by container(s) {', '.join(users)}: "
                           "remove them first")
        return self.images.remove(ref, force=force)

    # -- volumes -------------------------------------------------------------------
    def check_volume_driver(self, driver: str) -> None:
        self.volumes.check_driver(driver)

    def create_volume(self, name: str, driver: str = "local", labels: dict[str, str] | None = None,
                      options: dict[str, str] | None = None) -> VolumeInfo:
        info = self.volumes.create(name, driver, labels, options)
        self._event("volume", "create", info.name, {"driver": driver, **(labels or {})})
        return info

    def inspect_volume(self, name: str) -> VolumeInfo:
        return self.volumes.get(name)

    def list_volumes(self) -> list[VolumeInfo]:
        return self.volumes.list()

    def volume_users(self) -> dict[str, list[str]]:
        """Volume name -> names of the containers (any state) that mount it."""
        users: dict[str, list[str]] = {}
        for r in self.records.all():
            for m in r["spec"]["mounts"]:
                if m["type"] == "volume" and m["source"]:
                    users.setdefault(m["source"], []).append(r["name"])
        return users

    def remove_volume(self, name: str) -> None:
        self.volumes.remove(name, in_use_by=self.volume_users().get(name))
        self._event("volume", "destroy", name)

    def snapshot_volume(self, name: str) -> str:
        """Save the volume's current contents; returns the snapshot's id (see engine/volumes/snapshots.py)."""
        from engine.volumes import snapshots

        vol = self.volumes.get(name)
        with file_lock(self.paths.lock("vol-" + name)):
            return snapshots.take(os.path.dirname(vol.mountpoint))

    def restore_volume(self, name: str, snapshot: str) -> None:
        """Put the volume's contents back as they were at *snapshot* (stop its users first)."""
        from engine.volumes import snapshots

        vol = self.volumes.get(name)
        with file_lock(self.paths.lock("vol-" + name)):
            snapshots.restore(os.path.dirname(vol.mountpoint), snapshot)

    def remove_volume_snapshot(self, name: str, snapshot: str) -> None:
        from engine.volumes import snapshots

        snapshots.remove(os.path.dirname(self.volumes.get(name).mountpoint), snapshot)

    def prune_volumes(self, all_volumes: bool = False,
                      labels: dict[str, str | None] | None = None) -> list[tuple[str, int]]:
        """Remove the volumes no container uses: anonymous ones only, or all with *all_volumes*
        (Docker 23+). *labels*: only volumes with these labels (a None value: any value).
        Returns each removed volume's name and the bytes its data took."""
        removed = []
        for vol in self.volumes.list():
            if not (all_volumes or vol.anonymous):
                continue
            if labels and any(k not in vol.labels or (v is not None and vol.labels[k] != v)
                              for k, v in labels.items()):
                continue
            size = self.volumes.disk_usage(vol.name)
            try:
                self.remove_volume(vol.name)  # re-checks under the volume's lock
            except (Conflict, NotFound):
                continue
            removed.append((vol.name, size))
        return removed

    # -- networks ------------------------------------------------------------------
    def create_network(self, name: str, labels: dict[str, str] | None = None,
                       config: NetworkConfig | None = None) -> NetworkInfo:
        info = self.networks.create(name, labels or {}, config)
        self._event("network", "create", info.id, {"name": name, **(labels or {})})
        return info

    def inspect_network(self, name: str) -> NetworkInfo:
        return self.networks.get(name)

    def list_networks(self) -> list[NetworkInfo]:
        return self.networks.list()

    def remove_network(self, name: str) -> None:
        self.networks.get(name)
        users = [r["name"] for r in self.records.all() if name in r.get("addresses", {})]
        if users:
            raise Conflict(f"network {name} has active endpoints ({', '.join(users)}): remove them first")
        net = self.networks.get(name)
        self.networks.remove(name)
        self._event("network", "destroy", net.id, {"name": name, **net.labels})

    # -- events ------------------------------------------------------------------------
    def _event(self, kind: str, action: str, ident: str, attributes: dict | None = None) -> None:
        from engine import events

        events.record(self.paths.root, kind, action, ident, attributes)

    def _container_event(self, action: str, rec: dict, **extra: str) -> None:
        spec = rec["spec"]
        self._event("container", action, rec["id"], {"name": rec["name"], "image": spec.get("image", ""),
                                                      **spec.get("labels", {}), **extra})

    def events(self, since: float | None = None, until: float | None = None, follow: bool = False):
        """The engine's events (engine/events.py), oldest first; with *follow*, as they happen."""
        from engine import events

        return events.read(self.paths.root, since, until, follow)

    # -- containers: records --------------------------------------------------------
    def _info(self, rec: dict) -> ContainerInfo:
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

    def inspect_container(self, ref: str) -> ContainerInfo:
        return self._info(self.records.find(ref))

    def list_containers(self, labels: dict[str, str] | None = None) -> list[ContainerInfo]:
        out = []
        for rec in self.records.all():
            have = rec["spec"].get("labels", {})
            if labels and any(have.get(k) != v for k, v in labels.items()):
                continue
            out.append(self._info(rec))
        out.sort(key=lambda c: c.created)
        return out

    # -- containers: lifecycle --------------------------------------------------------
    def create_container(self, spec: ContainerSpec, layers: list[str] | None = None) -> ContainerInfo:
        """*layers* (diff ids, bottom first, already unpacked): the root filesystem is these layers, not
        an image's, and spec.image is only a name (the builder's RUN steps)."""
        from engine.runtime.options import check
        from engine.runtime.sysinfo import fit

        check(spec)
        resources, warnings = fit(spec.resources or {})
        if warnings:
            spec = dataclasses.replace(spec, resources=resources)
        from engine.volumes.resolve import make_host_paths, name_anonymous, resolve_mounts

        image = self.images.get(spec.image) if layers is None else None
        mounts = resolve_mounts(spec, self.volumes, self.records)
        from engine.network.endpoints import network_mode, ordered

        mode = network_mode(spec)
        nets = [self.networks.get(att.network) for att in ordered(spec.networks)]
        cid = new_id()
        cdir = self.paths.container_dir(cid)
        anonymous: list[str] = []
        with file_lock(self.paths.lock("containers")), _undo_volumes(self.volumes, anonymous):
            recs = self.records.all()
            if any(r["name"] == spec.name for r in recs):
                raise Conflict(f'container name "{spec.name}" is already in use: remove it or choose another name')
            make_host_paths(mounts)
            anonymous += name_anonymous(mounts, self.volumes)
            spec = dataclasses.replace(spec, mounts=mounts)
            from engine.network.endpoints import plan_addresses

            addresses, addresses6 = plan_addresses(spec, nets, recs)
            hostname = spec.hostname or cid[:12]
            peer = ""
            if mode == "container":  # the container it joins (resolved again at start): its hostname too
                target = self._peer_record(spec)
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
        self._container_event("create", rec)
        return dataclasses.replace(self._info(rec), warnings=warnings)

    def _runtime_config(self, rec: dict, image: ImageInfo | None, netns: str | None, dns: list[dict],
                        ports: list[dict]) -> dict:
        spec = spec_from_dict(rec["spec"])
        cfg = (image.config or {}) if image else {}
        if image:
            lower = self.images.lowerdirs(image.id)
        else:
            lower = self.images.snapshots.lowerdirs(rec["layers"])
            if not lower:
                raise InvalidArgument(f"container {rec['name']}: its root filesystem has no layers")
        args = process_args(spec, cfg)
        if not args:
            raise InvalidArgument(f"container {rec['name']}: no command specified (the image has none; "
                                  "set command: or entrypoint:)")
        env: dict[str, str] = {}
        for item in cfg.get("Env") or []:
            k, _, v = item.partition("=")
            env[k] = v
        env.setdefault("PATH", DEFAULT_PATH)
        env["HOSTNAME"] = rec["hostname"]
        env.update(spec.env)
        if spec.tty:
            env.setdefault("TERM", "xterm")  # as Docker: the image's or the user's TERM wins
        cdir = self.paths.container_dir(rec["id"])
        mounts = [self._runtime_mount(m, cdir) for m in spec.mounts]
        from engine.runtime.options import runtime_config

        process_opts, container_opts = runtime_config(spec, self._join_target,
                                                      os.path.join(self.paths.container_dir(rec["id"]), "shm"))
        return {
            **container_opts,
            "id": rec["id"], "name": rec["name"],
            "rootfs": {"lower": lower, "upper": os.path.join(cdir, "upper"),
                       "work": os.path.join(cdir, "work"), "mountpoint": os.path.join(cdir, "rootfs")},
            "process": {"args": args, "env": [f"{k}={v}" for k, v in env.items()],
                        "cwd": spec.working_dir or cfg.get("WorkingDir") or "/",
                        "user": spec.user if spec.user is not None else (cfg.get("User") or ""),
                        **process_opts},
            "hostname": rec["hostname"], "domainname": spec.domainname or "", "mounts": mounts,
            "files": {f"/etc/{n}": os.path.join(cdir, n) for n in ("hosts", "resolv.conf", "hostname")},
            "netns": netns, "dns": dns, "ports": ports, "cgroup_parent": self.paths.cgroup_parent,
            "stop_signal": spec.stop_signal, "restart": spec.restart,
            "restart_delay": spec.restart_delay, "restart_max_attempts": spec.restart_max_attempts,
            "healthcheck": _healthcheck(spec, cfg), "log_max_size": spec.log_max_size,
            "log_max_file": spec.log_max_file, "tty": spec.tty, "stdin_open": spec.stdin_open,
            "log": os.path.join(cdir, "container.log"), "state": os.path.join(cdir, "state.json"),
        }

    def _join_target(self, ref: str, what: str) -> tuple[int, str | None]:
        """Running container *ref*, whose *what* namespace another container joins: its host pid and,
        for ipc, its shared /dev/shm on the host (it must be `shareable`, as in Docker)."""
        from engine.runtime.state import read_state

        try:
            other = self.records.find(ref)
        except NotFound:
            raise InvalidArgument(f"{what}: container:{ref}: no such container") from None
        state = read_state(self.paths.container_dir(other["id"]))
        if state.get("status") != "running" or not state.get("pid"):
            raise Conflict(f"cannot join the {what} namespace of {other['name']}: it is not running")
        if what != "ipc":
            return int(state["pid"]), None
        if (other["spec"].get("ipc") or "") not in ("shareable", "host"):
            raise Conflict(f"cannot join the IPC namespace of {other['name']}: it is not shareable "
                           "(set ipc: shareable on it)")
        if other["spec"].get("ipc") == "host":
            return int(state["pid"]), None
        return int(state["pid"]), os.path.join(self.paths.container_dir(other["id"]), "shm")

    def _runtime_mount(self, m: Mount, cdir: str) -> dict:
        """A mount as the container's first process makes it (engine/runtime/mounts.py)."""
        out = {"type": m.type, "target": m.target, "read_only": m.read_only}
        if m.type == "file":  # the file kept in the container's directory, bound read-only
            from engine.volumes.files import host_path

            return {"type": "bind", "target": m.target, "read_only": True, "source": host_path(m, cdir),
                    "propagation": "rprivate"}
        if m.type == "volume":
            vol = self.volumes.get(m.source)
            out.update(source=vol.mountpoint, volume_dir=self.volumes.directory(m.source), subpath=m.subpath,
                       copy=not m.nocopy, name=vol.name, device=dict(vol.options))
        elif m.type == "bind":
            out.update(source=m.source, propagation=m.propagation or "rprivate")
            if m.source_root:
                out["source_root"] = m.source_root
        else:
            options = [f"mode={m.tmpfs_mode if m.tmpfs_mode is not None else 0o1777:o}"]
            if m.tmpfs_size:
                options.append(f"size={m.tmpfs_size}")
            out["options"] = ",".join(options)
        return out

    def _write_etc_files(self, rec: dict, spec: ContainerSpec, nets: list[NetworkInfo], mode: str) -> None:
        from engine.network import etcfiles
        from engine.network.endpoints import host_gateway

        cdir = self.paths.container_dir(rec["id"])
        files = {"hostname": rec["hostname"] + "\n"}
        if mode == "container":  # the joined container's files, as Docker shares them
            peer = self.paths.container_dir(rec["network_container"])
            for name in ("hosts", "resolv.conf"):
                with open(os.path.join(peer, name)) as f:
                    files[name] = f.read()
        else:
            extra = []
            for entry in spec.extra_hosts:
                name, ip = etcfiles.parse_extra_host(entry)
                ip = host_gateway(nets, mode) if ip == "host-gateway" else ip
                if ip:
                    extra.append((name, ip))
            extra += self._link_entries(spec, rec)
            own = [rec["addresses"][nets[0].name]] + ([rec["addresses6"][nets[0].name]]
                                                      if rec.get("addresses6", {}).get(nets[0].name) else []) \
                if nets else []
            files["hosts"] = etcfiles.render_hosts(mode, rec["hostname"], spec.domainname, own, extra)
            files["resolv.conf"] = etcfiles.render_resolv_conf(mode, nets[0].gateway if nets else "", spec.dns,
                                                               spec.dns_search, spec.dns_opt)
        for name, text in files.items():
            with open(os.path.join(cdir, name), "w") as f:
                f.write(text)

    def _link_entries(self, spec: ContainerSpec, rec: dict) -> list[tuple[str, str]]:
        """links: "NAME[:ALIAS]" -> (names, address of NAME on a network both share)."""
        out = []
        mine = rec.get("addresses", {})
        for link in spec.links:
            name, _, alias = link.partition(":")
            try:
                other = self.records.find(name)
            except NotFound:
                raise InvalidArgument(f"container {spec.name}: cannot link to {name}: no such container") from None
            shared = [net for net in mine if net in other.get("addresses", {})]
            if not shared:
                raise InvalidArgument(f"container {spec.name}: cannot link to {name}: they share no network")
            names = " ".join(dict.fromkeys(n for n in (alias, other["name"], name) if n))
            out.append((names, other["addresses"][shared[0]]))
        return out

    def prepare_starts(self) -> None:
        """Get ready to start containers soon (the monitors' fork server begins its own start meanwhile)."""
        from engine.runtime import launch

        launch.prepare()

    def start_container(self, ref: str, stdio: tuple[int, int, int] | None = None) -> ContainerInfo:
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
        from engine.runtime import launch
        from engine.runtime.state import ACTIVE

        rec = self.records.find(ref)
        cid = rec["id"]
        cdir = self.paths.container_dir(cid)
        with file_lock(self.paths.lock("ctr-" + cid)):
            if launch.read_state(cdir).get("status") in ACTIVE:
                return self._info(rec)
            launch.reap_dead_monitor(cdir)
            for stale in ("health.json",):
                _quietly(lambda stale=stale: os.unlink(os.path.join(cdir, stale)))
            spec = spec_from_dict(rec["spec"])
            image = self.images.get(rec["image_id"]) if "layers" not in rec else None
            from engine.network.endpoints import network_mode, ordered

            mode = network_mode(spec)
            nets = [self.networks.get(att.network) for att in ordered(spec.networks)]
            undo: list = []
            socks: list = []
            try:
                netns, dns = self._wire_network(rec, spec, nets, undo, mode)
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
                self._write_etc_files(rec, spec, nets, mode)
                config = self._runtime_config(rec, image, netns, dns, ports)
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
                    _quietly(step)
                raise
            finally:
                for s in socks:
                    s.close()
        self._container_event("start", rec)
        return self._info(self.records.find(cid))

    def _wire_network(self, rec: dict, spec: ContainerSpec, nets: list[NetworkInfo], undo: list, mode: str):
        from engine.network import endpoints
        from engine.network.netns import create_netns, destroy_netns

        cid = rec["id"]
        if mode == "host":
            return endpoints.HOST_NETNS, []
        if mode == "container":
            return self._peer_netns(rec, spec), []
        netns = os.path.join(self.paths.run, "netns", cid)
        os.makedirs(os.path.dirname(netns), exist_ok=True)
        destroy_netns(netns)  # a leftover of a crash
        create_netns(netns)
        undo.append(lambda: destroy_netns(netns))
        dns = []
        if not nets:
            return netns, dns
        from engine.network.registry import unregister

        route_net = endpoints.default_route_network(nets)
        v6 = rec.get("addresses6") or {}
        rec["ifnames"] = {}
        for i, (att, net) in enumerate(zip(endpoints.ordered(spec.networks), nets)):
            records = self._attach(rec, spec, att, net, f"eth{i}", rec["addresses"][net.name], v6.get(net.name, ""),
                                   net is route_net, att.mac_address or (spec.mac_address if i == 0 else ""))
            rec["ifnames"][net.name] = f"eth{i}"
            undo.append(lambda records=records: unregister(records, cid))
            dns.append({"records": records})
        return netns, dns

    def _attach(self, rec: dict, spec: ContainerSpec, att: NetworkAttachment, net: NetworkInfo, ifname: str,
                ip: str, ip6: str, default_route: bool, mac: str = "") -> str:
        """Wire the container's namespace into *net* as *ifname* and register its names; the records file."""
        from engine.network import endpoints
        from engine.network.attach import connect, disconnect, host_ifname
        from engine.network.registry import register

        cid = rec["id"]
        netns = os.path.join(self.paths.run, "netns", cid)
        self.networks.ensure_running(net.name)
        host_if = host_ifname(self.paths.root_id, cid, net.name)
        connect(netns, net.bridge, ip, endpoints.prefixlen(net.subnet), net.gateway if default_route else None,
                ifname=ifname, host_ifname=host_if, mac=mac or att.mac_address, mtu=net.mtu, ip6=ip6,
                prefixlen6=endpoints.prefixlen(net.subnet6) if ip6 else 64,
                gateway6=net.gateway6 if default_route else None)
        records = self.networks.records_file(net.name)
        try:
            register(records, cid, [rec["name"], *att.aliases, cid[:12]], ip, ip6=ip6, dns=spec.dns,
                     search=spec.dns_search)
        except BaseException:
            disconnect(host_if)
            raise
        return records

    def _peer_netns(self, rec: dict, spec: ContainerSpec) -> str:
        """The pinned namespace of the running container this one joins (network_mode container:NAME-OR-ID);
        the record notes which container that is, and takes its hostname unless the spec sets one."""
        from engine.runtime import launch

        target = spec.network_mode.partition(":")[2]
        peer = self._peer_record(spec)
        if peer is None:
            raise InvalidArgument(f"container {rec['name']}: network_mode container:{target}: no such container")
        peer_id = peer["id"]
        if rec.get("network_container") != peer_id:
            rec.update(network_container=peer_id, hostname=spec.hostname or peer["hostname"])
            self.records.write(rec)
        netns = os.path.join(self.paths.run, "netns", peer_id)
        if launch.read_state(self.paths.container_dir(peer_id)).get("status") != "running" \
                or not os.path.exists(netns):
            raise Conflict(f"container {rec['name']}: cannot join the network of {peer['name']}: it is not running "
                           "(start it first)")
        return netns

    def _peer_record(self, spec: ContainerSpec) -> dict | None:
        try:
            return self.records.find(spec.network_mode.partition(":")[2])
        except NotFound:
            return None

    # -- networks of an existing container (network connect / disconnect) ------------------
    def connect_network(self, ref: str, attachment: NetworkAttachment) -> ContainerInfo:
        """Attach a container to one more network; a running one gets its interface at once."""
        from engine.network.endpoints import network_mode, plan_addresses
        from engine.runtime import launch

        rec = self.records.find(ref)
        cid = rec["id"]
        net = self.networks.get(attachment.network)
        with file_lock(self.paths.lock("ctr-" + cid)), file_lock(self.paths.lock("containers")):
            rec = self.records.find(cid)
            spec = spec_from_dict(rec["spec"])
            if network_mode(spec) != "bridge" and spec.network_mode:
                raise InvalidArgument(f"container {rec['name']} uses network_mode {spec.network_mode}: "
                                      "it cannot be connected to networks")
            if net.name in rec.get("addresses", {}):
                raise Conflict(f"container {rec['name']} is already connected to network {net.name}")
            one = ContainerSpec(name=spec.name, image=spec.image, networks=[attachment])
            v4, v6 = plan_addresses(one, [net], self.records.all())
            running = launch.read_state(self.paths.container_dir(cid)).get("status") == "running"
            ifnames = rec.setdefault("ifnames", {})
            if running:
                taken = set(ifnames.values()) | {f"eth{i}" for i in range(len(rec.get("addresses", {})))}
                ifname = next(f"eth{i}" for i in range(64) if f"eth{i}" not in taken)
                self._attach(rec, spec, attachment, net, ifname, v4[net.name], v6.get(net.name, ""), False)
                ifnames[net.name] = ifname
            spec.networks.append(attachment)
            rec["spec"] = spec_to_dict(spec)
            rec.setdefault("addresses", {})[net.name] = v4[net.name]
            if v6:
                rec.setdefault("addresses6", {})[net.name] = v6[net.name]
            self.records.write(rec)
        return self._info(rec)

    def disconnect_network(self, ref: str, network: str) -> ContainerInfo:
        from engine.network.attach import disconnect, host_ifname
        from engine.network.registry import unregister

        rec = self.records.find(ref)
        cid = rec["id"]
        with file_lock(self.paths.lock("ctr-" + cid)):
            rec = self.records.find(cid)
            if network not in rec.get("addresses", {}):
                raise NotFound(f"container {rec['name']} is not connected to network {network}")
            disconnect(host_ifname(self.paths.root_id, cid, network))
            _quietly(lambda: unregister(self.networks.records_file(network), cid))
            spec = spec_from_dict(rec["spec"])
            spec.networks = [a for a in spec.networks if a.network != network]
            rec["spec"] = spec_to_dict(spec)
            for key in ("addresses", "addresses6", "ifnames"):
                (rec.get(key) or {}).pop(network, None)
            self.records.write(rec)
        return self._info(rec)

    def stop_container(self, ref: str, timeout: float | None = None, signal: str | None = None) -> None:
        from engine.runtime import launch

        rec = self.records.find(ref)
        spec = spec_from_dict(rec["spec"])
        launch.stop(self.paths.container_dir(rec["id"]), spec.stop_timeout if timeout is None else timeout,
                    signal or spec.stop_signal)
        self._container_event("stop", rec)

    def kill_container(self, ref: str, signal: str = "SIGKILL") -> None:
        from engine.runtime import launch

        rec = self.records.find(ref)
        launch.kill(self.paths.container_dir(rec["id"]), signal, spec_from_dict(rec["spec"]).stop_signal)
        self._container_event("kill", rec, signal=signal)

    def pause_container(self, ref: str, paused: bool = True) -> None:
        """Freeze (or with paused=False, thaw) every process of a running container."""
        from engine.runtime import launch

        rec = self.records.find(ref)
        try:
            launch.set_paused(self.paths.container_dir(rec["id"]), paused)
        except EngineError as e:
            raise Conflict(f"container {rec['name']}: {e}") from None
        self._container_event("pause" if paused else "unpause", rec)

    def _running_cgroup(self, ref: str):
        from engine.runtime.cgroups import Cgroup
        from engine.runtime.state import read_state

        rec = self.records.find(ref)
        state = read_state(self.paths.container_dir(rec["id"]))
        if state.get("status") != "running" or not state.get("pid"):
            raise Conflict(f"container {rec['name']} is not running")
        return Cgroup(self.paths.cgroup_parent, rec["id"]), int(state["pid"])

    def container_stats(self, ref: str) -> dict:
        """One sample of a running container's resource use (see engine/runtime/stats.py)."""
        from engine.runtime.stats import sample

        cgroup, pid = self._running_cgroup(ref)
        return sample(cgroup, pid)

    def container_top(self, ref: str) -> tuple[list[str], list[list[str]]]:
        """The processes of a running container: column titles and rows, like `ps -ef`."""
        from engine.runtime.top import TITLES, processes

        cgroup, _ = self._running_cgroup(ref)
        return list(TITLES), processes(cgroup.pids())

    def remove_container(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """With *volumes*, also the container's anonymous volumes that no other container uses."""
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
            from engine.network.netns import destroy_netns

            destroy_netns(os.path.join(self.paths.run, "netns", cid))
            from engine.network.registry import unregister

            for net in rec.get("addresses", {}):  # names of networks connected while it ran, if any
                _quietly(lambda net=net: unregister(self.networks.records_file(net), cid))
            trash = cdir + ".removing"
            os.rename(cdir, trash)  # the record disappears atomically
            _rmtree(trash)
        self._container_event("destroy", rec)
        _quietly(lambda: os.unlink(self.paths.lock("ctr-" + cid)))
        if volumes:
            self._remove_anonymous(rec)

    def _remove_anonymous(self, rec: dict) -> None:
        users = self.volume_users()
        for m in rec["spec"]["mounts"]:
            if m["type"] != "volume" or not m["source"] or users.get(m["source"]):
                continue
            try:
                if self.volumes.get(m["source"]).anonymous:
                    self.volumes.remove(m["source"])
            except NotFound:
                pass  # gone already (another container's removal took it)

    def wait_container(self, ref: str) -> int:
        from engine.runtime import launch

        rec = self.records.find(ref)
        return launch.wait(self.paths.container_dir(rec["id"]))

    def exec_container(self, ref: str, args: list[str], env: dict[str, str] | None = None, user: str | None = None,
                       workdir: str | None = None, stdin: int | None = None, stdout: int | None = None,
                       stderr: int | None = None, tty: bool = False, privileged: bool = False) -> int:
        """Run *args* in the running container to completion; its exit code."""
        return self.exec_process(ref, args, env, user, workdir, stdin, stdout, stderr, tty, privileged).wait()

    def exec_process(self, ref: str, args: list[str], env: dict[str, str] | None = None, user: str | None = None,
                     workdir: str | None = None, stdin: int | None = None, stdout: int | None = None,
                     stderr: int | None = None, tty: bool = False, privileged: bool = False,
                     size: tuple[int, int] | None = None):
        """Start *args* in the running container and return its handle (pid, poll, wait, send_signal,
        kill). With *tty*, the process gets a pseudo-terminal of the container's own devpts (*size*:
        rows, columns) as its stdio and controlling terminal, TERM=xterm unless *env* sets TERM (as
        Docker), and the handle's `terminal` is its master (the caller closes it; stdin, stdout and
        stderr are not used). The caller may close its copies of the descriptors afterwards."""
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

    def copy_from_container(self, ref: str, src: str, dest: str) -> None:
        """`docker cp CONTAINER:SRC DEST`: a file or directory of the container (running or not) to the host."""
        self._copy(ref, "from", src, dest)

    def copy_to_container(self, ref: str, src: str, dest: str) -> None:
        """`docker cp SRC CONTAINER:DEST`: a host file or directory into the container (running or not)."""
        self._copy(ref, "to", src, dest)

    def _copy(self, ref: str, direction: str, src: str, dest: str) -> None:
        from engine.runtime import copy, launch
        from engine.store.records import read_json

        rec = self.records.find(ref)
        cdir = self.paths.container_dir(rec["id"])
        with file_lock(self.paths.lock("ctr-" + rec["id"])):  # a stopped container stays stopped meanwhile
            state = launch.read_state(cdir)
            pid = int(state.get("pid") or 0) if state.get("status") == "running" else 0
            cfg = read_json(os.path.join(cdir, "config.json"))
            if cfg is None:  # never started: the root as its start would make it, without network
                image = self.images.get(rec["image_id"])
                cfg = self._runtime_config(rec, image, None, [], [])
                cfg["files"] = {}
            (copy.copy_from if direction == "from" else copy.copy_to)(cdir, cfg, pid, src, dest)

    def sync_to_container(self, ref: str, files: list[tuple[str, str]], removals: list[str] = ()) -> None:
        """Copy host files into the running container, each (host path, container path), keeping
        their modes, and remove *removals* there, in one pass (`composer watch`'s sync)."""
        from engine.runtime import launch
        from engine.runtime.sync import sync_into
        from engine.store.records import read_json

        rec = self.records.find(ref)
        cdir = self.paths.container_dir(rec["id"])
        state = launch.read_state(cdir)
        if state.get("status") != "running" or not state.get("pid"):
            raise Conflict(f"container {rec['name']} is not running")
        sync_into(cdir, read_json(os.path.join(cdir, "config.json")), int(state["pid"]), files, list(removals))

    def logs(self, ref: str, follow: bool = False, tail: int | None = None, since: float | None = None,
             until: float | None = None) -> Iterator[dict]:
        """Log entries {"log", "stream", "time"} within [since, until] (epoch seconds); with *follow*,
        new ones until the container stops for good (restarts by its policy do not end it)."""
        from engine.runtime.logs import read_log

        rec = self.records.find(ref)
        return read_log(self.paths.container_dir(rec["id"]), follow=follow, tail=tail, since=since, until=until)

    def run_container(self, spec: ContainerSpec, stdout: IO[bytes], stderr: IO[bytes]) -> int:
        """Create, start, stream the output until exit, and (with auto_remove) remove: `docker run`."""
        info = self.create_container(spec)
        for w in info.warnings:  # as `docker run` shows the daemon's warnings
            stderr.write(f"WARNING: {w}\n".encode())
        try:
            self.start_container(info.id)
            for entry in self.logs(info.id, follow=True):
                out = stdout if entry.get("stream") != "stderr" else stderr
                out.write(entry["log"].encode())
                out.flush()
            code = self.wait_container(info.id)
        finally:
            if spec.auto_remove:
                self.remove_container(info.id, force=True, volumes=True)
        return code


def process_args(spec: ContainerSpec, image_config: dict) -> list[str]:
    """The container's argv: its entrypoint and command, each the image's where the spec has none
    (a spec's entrypoint drops the image's Cmd), as Docker resolves them."""
    if spec.entrypoint is not None:
        return list(spec.entrypoint) + list(spec.command or [])
    return list(image_config.get("Entrypoint") or []) + list(
        spec.command if spec.command is not None else (image_config.get("Cmd") or []))


def _healthcheck(spec: ContainerSpec, image_config: dict) -> dict | None:
    from engine.runtime.health import effective_healthcheck

    if spec.healthcheck is None and not image_config.get("Healthcheck"):
        return None
    return effective_healthcheck(spec.healthcheck, image_config.get("Healthcheck"))


def _bindings(bound, declared):
    """The ports a container has bound, or (not running) the ones it declares; a declared binding on all
    addresses shows as 0.0.0.0."""
    from engine.types import PortBinding

    if bound:
        return [PortBinding(**b) for b in bound]
    return [PortBinding(**{**vars(p), "host_ip": p.host_ip or "0.0.0.0"}) for p in declared]


@contextlib.contextmanager
def _undo_volumes(volumes, names: list[str]):
    """Removes the volumes named in *names* (filled in by the block) if the block fails."""
    try:
        yield
    except BaseException:
        for name in names:
            _quietly(lambda name=name: volumes.remove(name))
        raise


def _quietly(fn) -> None:
    try:
        fn()
    except (OSError, EngineError):
        pass


def _rmtree(path: str) -> None:
    try:
        shutil.rmtree(path)
    except OSError:
        # a read-only or busy leftover: make it writable and try once more
        for dirpath, dirnames, _ in os.walk(path):
            for d in dirnames:
                _quietly(lambda d=d: os.chmod(os.path.join(dirpath, d), 0o700))
        shutil.rmtree(path, ignore_errors=True)


__all__ = ["Engine", "EngineError", "NotFound", "Conflict", "InvalidArgument", "ContainerInfo", "ContainerSpec",
           "ImageInfo", "Mount", "NetworkAttachment", "NetworkConfig", "NetworkInfo", "PortBinding", "VolumeInfo"]


def path_patterns(lines: list[str]):
    """A `.dockerignore`-style matcher over *lines*: `.excluded(relative_path)` is true when the last
    matching pattern (or one matching a parent directory) is not a `!` exception."""
    from engine.images.build.context import Ignore

    return Ignore(lines)


def dockerignore(context_dir: str, dockerfile: str | None = None):
    """The build context's `.dockerignore` as builds apply it (a `path_patterns` matcher)."""
    from engine.images.build.context import Ignore

    return Ignore.read(context_dir, dockerfile)
