"""Converging a project: compare what the engine has with the model, then act with anyio.

Services start in dependency order, independent ones in parallel. Everything `up` checks that can
fail on bad input is checked before anything is created, and what one `up` created is removed again
when a later step of it fails, so a failed `up` leaves nothing half-made.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Callable

import anyio
import anyio.to_thread

from composer import desired
from composer.errors import ComposerError
from composer.graph import Graph
from composer.model import Project, Service
from engine.api import ContainerInfo, Engine, EngineError, NotFound

Reporter = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Created:
    """What this run made, to be undone if it fails."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)


class Reconciler:
    def __init__(self, engine: Engine, project: Project, report: Reporter = _stderr, limit: int = 8):
        self.engine = engine
        self.project = project
        self.report = report
        self.limiter = anyio.CapacityLimiter(limit)

    async def _call(self, fn, *args, **kwargs):
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self.limiter)

    def lock(self):
        return self.engine.lock_project(self.project.name)

    # -- observed state ---------------------------------------------------------------
    def containers(self, service: str | None = None) -> list[ContainerInfo]:
        labels = {desired.LABEL_PROJECT: self.project.name, desired.LABEL_ONEOFF: "False"}
        if service:
            labels[desired.LABEL_SERVICE] = service
        return self.engine.list_containers(labels)

    # -- checks before any change -------------------------------------------------------
    def preflight(self, services: list[str], observed: list[ContainerInfo]) -> None:
        for name in services:
            svc = self.project.services[name]
            if svc.image is None:
                raise ComposerError(f"service {name}: building images (build:) is not supported yet; "
                                    "set image: to an image you imported or loaded")
            try:
                self.engine.inspect_image(svc.image)
            except NotFound:
                raise ComposerError(f"service {name}: image {svc.image} not found (import or load it first: "
                                    "composer image import / composer image load)") from None
        self._check_ports(services, observed)
        for vol in self.project.volumes.values():
            if vol.external:
                self.engine.inspect_volume(vol.name)
            else:
                try:
                    self.engine.check_volume_driver(vol.driver)
                except EngineError as e:
                    raise ComposerError(f"volume {vol.key}: {e}") from None
        for net in self.project.networks.values():
            if net.external:
                try:
                    self.engine.inspect_network(net.name)
                except NotFound:
                    raise ComposerError(f"network {net.key} declared as external, but could not be found "
                                        f"(create it: composer network create {net.name})") from None
            elif net.driver not in ("bridge", "default"):
                raise ComposerError(f"network {net.key}: driver {net.driver!r} is not available (this engine has: bridge)")

    def _check_ports(self, services: list[str], observed: list[ContainerInfo]) -> None:
        """Published host ports must be free, unless our own running containers hold them."""
        import socket

        held = {(p.host_ip, p.host_port, p.protocol) for c in observed if c.status == "running"
                for p in c.ports}
        for name in services:
            for p in self.project.services[name].ports:
                host_ip = p.host_ip or "0.0.0.0"
                if not p.published or (host_ip, p.published, p.protocol) in held:
                    continue
                family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
                kind = socket.SOCK_DGRAM if p.protocol == "udp" else socket.SOCK_STREAM
                with socket.socket(family, kind) as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        s.bind((host_ip, p.published))
                    except OSError as e:
                        raise ComposerError(f"service {name}: cannot publish port {host_ip}:{p.published}/"
                                            f"{p.protocol}: it is already in use ({e.strerror})") from None

    # -- up ------------------------------------------------------------------------
    async def up(self, services: list[str] | None = None) -> None:
        graph = Graph(self.project)
        wanted = sorted(graph.with_dependencies(services) if services else self.project.services)
        for name in services or []:
            self.project.service(name)
        observed = self.containers()  # read once: the plan below works from this picture
        self.preflight(wanted, observed)
        created = Created()
        try:
            await self._ensure_networks(created)
            self._ensure_volumes(created)
            done = {name: anyio.Event() for name in wanted}
            failed: dict[str, BaseException] = {}

            async def converge(name: str) -> None:
                svc = self.project.services[name]
                for dep in svc.depends_on:
                    if dep in done:
                        await done[dep].wait()
                        if dep in failed:
                            failed[name] = failed[dep]
                            done[name].set()
                            return
                try:
                    await self._converge_service(svc, observed, created)
                except BaseException as e:
                    failed[name] = e
                    raise
                finally:
                    done[name].set()

            async with anyio.create_task_group() as tg:
                for name in wanted:
                    tg.start_soon(converge, name)
            self._warn_orphans(observed)
        except BaseException as e:
            with anyio.CancelScope(shield=True):
                await self._undo(created)
            error = _unwrap(e)
            if error is not e:
                raise error from None
            raise

    def _warn_orphans(self, observed: list[ContainerInfo]) -> None:
        orphans = sorted({c.labels.get(desired.LABEL_SERVICE, "") for c in observed}
                         - set(self.project.services))
        if orphans:
            self.report(f"WARN Found orphan containers for services {', '.join(orphans)} of project "
                        f"{self.project.name}. If you removed or renamed them, run down --remove-orphans.")

    def _missing(self, specs, existing: set[str], key_label: str):
        """The declared, non-external objects the engine lacks, each with the labels to create it with."""
        for spec in specs:
            if not spec.external and spec.name not in existing:
                yield spec, {**spec.labels, desired.LABEL_PROJECT: self.project.name, key_label: spec.key}

    async def _ensure_networks(self, created: Created) -> None:
        existing = {n.name for n in self.engine.list_networks()}
        for net, labels in self._missing(self.project.networks.values(), existing, desired.LABEL_NETWORK):
            await self._call(self.engine.create_network, net.name, labels)
            created.networks.append(net.name)
            self.report(f" Network {net.name}  Created")

    def _ensure_volumes(self, created: Created) -> None:
        existing = {v.name for v in self.engine.list_volumes()}
        for vol, labels in self._missing(self.project.volumes.values(), existing, desired.LABEL_VOLUME):
            self.engine.create_volume(vol.name, vol.driver, labels)
            created.volumes.append(vol.name)
            self.report(f" Volume {vol.name}  Created")

    async def _converge_service(self, svc: Service, observed: list[ContainerInfo], created: Created) -> None:
        spec = desired.container_spec(self.project, svc)
        want_hash = spec.labels[desired.LABEL_HASH]
        existing = [c for c in observed if c.labels.get(desired.LABEL_SERVICE) == svc.name]
        current = [c for c in existing if c.labels.get(desired.LABEL_HASH) == want_hash
                   and c.name == spec.name]
        stale = [c for c in existing if c not in current]
        for c in stale:
            await self._call(self.engine.stop_container, c.id)
            await self._call(self.engine.remove_container, c.id, True)
            self.report(f" Container {c.name}  Removed")
        if current:
            c = current[0]
            if c.status != "running":
                await self._call(self.engine.start_container, c.id)
                self.report(f" Container {c.name}  Started")
            else:
                self.report(f" Container {c.name}  Running")
            return
        for m in svc.volumes:
            if m.type == "bind" and m.create_host_path and not os.path.exists(m.source):
                os.makedirs(m.source, exist_ok=True)
        info = await self._call(self.engine.create_container, spec)
        created.containers.append(info.id)
        self.report(f" Container {info.name}  Created")
        try:
            await self._call(self.engine.start_container, info.id)
        except EngineError as e:
            raise ComposerError(f"service {svc.name}: cannot start container {info.name}: {e}") from None
        self.report(f" Container {info.name}  Started")

    async def _undo(self, created: Created) -> None:
        for cid in reversed(created.containers):
            await self._quiet(self.engine.remove_container, cid, True)
        for name in created.networks:
            await self._quiet(self.engine.remove_network, name)
        for name in created.volumes:
            await self._quiet(self.engine.remove_volume, name)

    async def _quiet(self, fn, *args) -> None:
        try:
            await self._call(fn, *args)
        except (EngineError, OSError) as e:
            self.report(f"WARN cleanup after failure: {e}")

    # -- down / stop / start ---------------------------------------------------------
    async def _in_reverse_order(self, containers: list[ContainerInfo], action) -> None:
        """Run *action* on containers, dependents before their dependencies."""
        by_service: dict[str, list[ContainerInfo]] = {}
        for c in containers:
            by_service.setdefault(c.labels.get(desired.LABEL_SERVICE, ""), []).append(c)
        deps = {s: set(self.project.services[s].depends_on) if s in self.project.services else set()
                for s in by_service}
        dependents: dict[str, set[str]] = {s: set() for s in by_service}
        for s, ds in deps.items():
            for d in ds:
                if d in dependents:
                    dependents[d].add(s)
        done = {s: anyio.Event() for s in by_service}

        async def run(service: str) -> None:
            for d in dependents[service]:
                await done[d].wait()
            try:
                async with anyio.create_task_group() as tg:
                    for c in by_service[service]:
                        tg.start_soon(action, c)
            finally:
                done[service].set()

        async with anyio.create_task_group() as tg:
            for s in by_service:
                tg.start_soon(run, s)

    async def down(self, volumes: bool = False, remove_orphans: bool = False, timeout: float | None = None) -> None:
        containers = self.containers()
        if not remove_orphans and self.project.files:  # without a stack file, all the project's containers go
            orphans = [c for c in containers if c.labels.get(desired.LABEL_SERVICE) not in self.project.services]
            if orphans:
                self._warn_orphans(orphans)
            containers = [c for c in containers if c not in orphans]

        async def stop_and_remove(c: ContainerInfo) -> None:
            if c.status == "running":
                await self._call(self.engine.stop_container, c.id, timeout)
                self.report(f" Container {c.name}  Stopped")
            await self._call(self.engine.remove_container, c.id, True)
            self.report(f" Container {c.name}  Removed")

        await self._in_reverse_order(containers, stop_and_remove)
        for net in self._project_networks():
            await self._call(self.engine.remove_network, net)
            self.report(f" Network {net}  Removed")
        if volumes:
            for vol in self._project_volumes():
                await self._call(self.engine.remove_volume, vol)
                self.report(f" Volume {vol}  Removed")

    def _owned(self, specs, listing) -> list[str]:
        """Names of the existing objects this project owns: declared (not external) or labelled with it."""
        declared = {s.name for s in specs if not s.external}
        return sorted(o.name for o in listing
                      if o.name in declared or o.labels.get(desired.LABEL_PROJECT) == self.project.name)

    def _project_networks(self) -> list[str]:
        return self._owned(self.project.networks.values(), self.engine.list_networks())

    def _project_volumes(self) -> list[str]:
        return self._owned(self.project.volumes.values(), self.engine.list_volumes())

    async def stop(self, services: list[str] | None = None, timeout: float | None = None) -> None:
        targets = [c for c in self.containers() if c.status == "running"
                   and (not services or c.labels.get(desired.LABEL_SERVICE) in services)]

        async def stop_one(c: ContainerInfo) -> None:
            await self._call(self.engine.stop_container, c.id, timeout)
            self.report(f" Container {c.name}  Stopped")

        await self._in_reverse_order(targets, stop_one)

    async def start(self, services: list[str] | None = None) -> None:
        graph = Graph(self.project)
        order = graph.order()
        containers = self.containers()
        if not containers:
            raise ComposerError(f"service(s) not created in project {self.project.name}: run up first")
        for name in order:
            if services and name not in services:
                continue
            for c in containers:
                if c.labels.get(desired.LABEL_SERVICE) == name and c.status != "running":
                    await self._call(self.engine.start_container, c.id)
                    self.report(f" Container {c.name}  Started")


def _unwrap(e: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups from task groups."""
    while isinstance(e, BaseExceptionGroup):
        inner = [x for x in e.exceptions if not isinstance(x, anyio.get_cancelled_exc_class())]
        e = (inner or list(e.exceptions))[0]
    return e


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)

