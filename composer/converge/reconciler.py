"""Converging a project: observe the engine once, plan (converge/plan.py), execute (converge/executor.py).

This module says what each planned action does with the engine and reports it. Everything `up`
checks that can fail on bad input is checked before anything is created, and when an operation of
an `up` fails, what that `up` created is removed again, so a failed `up` leaves nothing half-made.
A dependency that is merely unhealthy or failed (a condition, not an error of ours) stays, so its
logs can be read, as Docker Compose does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from composer import labels
from composer.converge import containerspec
from composer.converge.mounts import volume_options
from composer.converge.plan import (Action, Kind, Observed, Operation, Plan, UpOptions, plan_down, plan_start,
                                    plan_up, stop_order)
from composer.errors import ComposerError
from composer.model import Project
from composer.progress import DONE, FAILED, WARNED, Progress
from engine.api import Conflict, ContainerInfo, Engine, EngineError, NotFound

POLL = 0.1


class ConditionFailed(ComposerError):
    """A dependency did not reach the state its dependents asked for (unhealthy, failed, ...)."""


@dataclass
class Created:
    """What this run made, to be undone if it fails."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)


WORDS = {  # action -> (while, after), as Docker Compose words them
    Action.CREATE: ("Creating", "Created"), Action.START: ("Starting", "Started"),
    Action.RECREATE: ("Recreate", "Recreated"), Action.REMOVE: ("Removing", "Removed"),
    Action.STOP: ("Stopping", "Stopped"), Action.KILL: ("Killing", "Killed"),
    Action.WAIT_HEALTHY: ("Waiting", "Healthy"), Action.WAIT_COMPLETED: ("Waiting", "Exited"),
}


class Reconciler:
    def __init__(self, engine: Engine, project: Project, progress: Progress | None = None, limit: int = 8):
        self.engine = engine
        self.project = project
        self.progress = progress or Progress("quiet")
        self.limit = limit
        self.dry_run = False  # plans are printed instead of carried out
        self.no_build = False  # up --no-build: a missing image with build: is an error
        self.created = Created()
        self.ids: dict[str, str] = {}  # container name -> id, for containers made by this run
        self._inspected: dict | None = None  # image name -> ImageInfo (None: missing), from prepare_images

    async def _call(self, fn, *args, **kwargs):
        import anyio.to_thread

        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    def lock(self):
        return self.engine.lock_project(self.project.name)

    # -- observed state ---------------------------------------------------------------
    def containers(self, service: str | None = None, one_off: bool = False) -> list[ContainerInfo]:
        """The project's containers (of *service*); with *one_off*, `run` containers too."""
        wanted = {labels.LABEL_PROJECT: self.project.name}
        if not one_off:
            wanted[labels.LABEL_ONEOFF] = "False"
        if service:
            wanted[labels.LABEL_SERVICE] = service
        return self.engine.list_containers(wanted)

    def observe(self, with_images: bool = True) -> Observed:
        image_ids = {}
        if with_images:
            from composer.converge.pull import inspector  # not for ps and the other readers (~1 ms)

            image_of = inspector(self.engine, self._inspected)  # what prepare_images just looked at
            self._inspected = None
            for svc in self.project.services.values():
                ref = labels.image_name(self.project, svc)
                if (image := image_of(ref)) is not None:
                    image_ids[ref] = image.id
        return Observed(self.containers(), {n.name for n in self.engine.list_networks()},
                        {v.name for v in self.engine.list_volumes()}, image_ids)

    # -- checks before any change -------------------------------------------------------
    def preflight(self, plan: Plan, observed: Observed) -> None:
        services = sorted({op.params["service"] for op in plan.ops.values()
                           if op.kind == "Container" and op.action in ("create", "recreate")})
        to_build = [name for name in services if self.project.services[name].build is not None
                    and labels.image_name(self.project, self.project.services[name]) not in observed.image_ids]
        if to_build and self.no_build:
            raise ComposerError(f"service {to_build[0]}: image {labels.image_name(self.project, self.project.services[to_build[0]])} "
                                "is missing and --no-build was given")
        if to_build and not self.dry_run:
            from composer.converge.build import ensure_built

            observed.image_ids.update(ensure_built(self.project, self.engine, to_build, False, self.progress))
        for name in services:
            svc = self.project.services[name]
            ref = labels.image_name(self.project, svc)
            if ref not in observed.image_ids and name not in to_build:
                raise ComposerError(f"service {name}: image {svc.image} not found (import or load it first: "
                                    "composer image import / composer image load)")
        self._check_ports(services, observed.containers)
        for vol in self.project.volumes.values():
            if vol.external:
                try:
                    self.engine.inspect_volume(vol.name)
                except NotFound:
                    raise ComposerError(f"volume {vol.key} declared as external, but could not be found "
                                        f"(create it: composer volume create {vol.name})") from None
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
            for b in containerspec.port_bindings(self.project.services[name].ports):
                host_ip, published = b.host_ip or "0.0.0.0", b.host_port
                if not published or b.host_port_end or (host_ip, published, b.protocol) in held:
                    continue  # random ports and ranges: the engine picks a free one when it starts
                family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
                kind = socket.SOCK_DGRAM if b.protocol == "udp" else socket.SOCK_STREAM
                with socket.socket(family, kind) as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        s.bind((host_ip, published))
                    except OSError as e:
                        raise ComposerError(f"service {name}: cannot publish port {host_ip}:{published}/"
                                            f"{b.protocol}: it is already in use ({e.strerror})") from None

    def prepare_images(self, services: list[str], pull: str | None = None, build: bool = False) -> None:
        """Pull what *services* need under their pull_policy (*pull*, as `up --pull`, overrides it), and
        with *build* rebuild the images of those with `build:`. Changed images are recreated by the plan."""
        if self.dry_run:
            return
        from composer.converge.pull import inspector, pull_images, wanted

        inspected: dict = {}
        need = {ref: names for ref, names in wanted(self.project, self.engine, pull,
                                                   inspector(self.engine, inspected)).items()
                if set(names) & set(services)}
        self._inspected = inspected
        if need:
            self._inspected = None
            pull_images(self.engine, need, self.progress)
        if build:
            self._inspected = None
            from composer.converge.build import ensure_built

            ensure_built(self.project, self.engine, services, True, self.progress)

    # -- planning --------------------------------------------------------------------
    def plan_up(self, opts: UpOptions, observed: Observed | None = None) -> tuple[Plan, Observed]:
        observed = observed or self.observe()
        return plan_up(self.project, observed, opts), observed

    def plan_down(self, volumes: bool = False, remove_orphans: bool = False, rmi: str | None = None,
                  services: list[str] | None = None) -> Plan:
        if services:  # `down SERVICE...`: only those containers; networks and volumes stay
            chosen = [c for c in self.containers() if c.labels.get(labels.LABEL_SERVICE) in services]
            plan = Plan()
            stop_order(self.project, chosen, "remove", lambda c: "asked to take it down", plan)
            return plan
        observed = Observed(self.containers(one_off=True), set(), set(), {})  # `run` containers go too
        images = []
        if rmi in ("local", "all"):
            for svc in self.project.services.values():
                if rmi == "all" or svc.image is None:
                    ref = labels.image_name(self.project, svc)
                    if ref not in images:
                        images.append(ref)
        images = [ref for ref in images if self._has_image(ref)]
        return plan_down(self.project, observed, remove_orphans, volumes, self._project_networks(),
                         self._project_volumes(), images)

    def _has_image(self, ref: str) -> bool:
        try:
            self.engine.inspect_image(ref)
            return True
        except NotFound:
            return False

    # -- up / create -------------------------------------------------------------------
    def up(self, opts: UpOptions | None = None) -> Plan:
        """Plan, check and carry out an up. A stack that is up to date costs no event loop."""
        opts = opts or UpOptions()
        plan, observed = self.plan_up(opts)
        for w in plan.warnings:
            self.progress.warn(w)
        self.preflight(plan, observed)
        if not self.dry_run:
            touched = {op.target for op in plan.ops.values() if op.kind == "Container"}
            wanted = set(opts.services or self.project.services)
            for c in observed.containers:
                if c.status == "running" and c.name not in touched and c.labels.get(labels.LABEL_SERVICE) in wanted:
                    self.progress.update("Container", c.name, "Running", DONE)
        self.apply(plan, undo_on_failure=True)
        return plan

    def apply(self, plan: Plan, undo_on_failure: bool = False) -> None:
        """Carry out *plan* (or print it, in a dry run)."""
        if self.dry_run:
            print(plan.render(), flush=True)
            return
        if plan.ops:
            if any(op.kind == "Container" and op.action in ("start", "create", "recreate") for op in plan.ops.values()):
                self.engine.prepare_starts()  # its start overlaps with the event loop's and the first operations
            import anyio

            anyio.run(self._execute, plan, undo_on_failure)
        self.progress.close()

    async def _execute(self, plan: Plan, undo_on_failure: bool) -> None:
        import anyio

        from composer.converge.executor import DependencyFailed, PlanFailed, execute

        try:
            await execute(plan, self._perform, self.limit)
        except PlanFailed as e:
            real = [(op, err) for op, err in e.errors if not isinstance(err, (DependencyFailed, ConditionFailed))]
            if undo_on_failure and real:
                with anyio.CancelScope(shield=True):
                    await self._undo()
            op, err = (real or e.errors)[0]
            if isinstance(err, (ComposerError, EngineError)):
                raise err from None
            raise ComposerError(f"{op.kind.lower()} {op.target}: {err}") from None

    async def _perform(self, op: Operation) -> None:
        while_, after = WORDS[op.action]
        handler = HANDLERS.get((op.kind, op.action))
        if handler is None:
            raise ComposerError(f"{op.kind.lower()} {op.target}: cannot {op.action} it (no handler)")
        self.progress.update(op.kind, op.target, while_)
        try:
            warning = await handler(self, op)
        except ConditionFailed as e:
            if op.params.get("required", True):
                self.progress.update(op.kind, op.target, "Error", FAILED)
                raise
            self.progress.update(op.kind, op.target, "Skipped", DONE)
            self.progress.warn(f"optional dependency {op.target} is not ready ({e}); going on without it")
            return
        except BaseException:
            self.progress.update(op.kind, op.target, "Error", FAILED)
            raise
        if warning:  # done, but not as asked (a network still in use stays)
            self.progress.update(op.kind, op.target, warning, WARNED)
            return
        self.progress.update(op.kind, op.target, after, DONE)

    async def _network_create(self, op: Operation) -> None:
        net = self.project.networks[op.params["network"]]
        tags = {**net.labels, labels.LABEL_PROJECT: self.project.name, labels.LABEL_NETWORK: net.key}
        await self._call(self.engine.create_network, net.name, tags, containerspec.network_config(self.project, net.key))
        self.created.networks.append(net.name)

    async def _volume_create(self, op: Operation) -> None:
        vol = self.project.volumes[op.params["volume"]]
        tags = {**vol.labels, labels.LABEL_PROJECT: self.project.name, labels.LABEL_VOLUME: vol.key}
        await self._call(self.engine.create_volume, vol.name, vol.driver, tags,
                         volume_options(self.project, vol.key))
        self.created.volumes.append(vol.name)

    async def _container_create(self, op: Operation, previous: ContainerInfo | None = None) -> None:
        svc = self.project.services[op.params["service"]]
        spec = containerspec.container_spec(self.project, svc, op.params["number"], previous)
        info = await self._call(self.engine.create_container, spec)
        for w in info.warnings:
            self.progress.warn(f"service {svc.name}: {w}")
        self.created.containers.append(info.id)
        self.ids[info.name] = info.id

    async def _container_recreate(self, op: Operation) -> None:
        # the new container keeps the old one's anonymous volumes (unless up -V)
        previous = None if op.params.get("renew_anon_volumes") else \
            await self._call(self.engine.inspect_container, op.params["id"])
        await self._call(self.engine.stop_container, op.params["id"], self._timeout(op.params["service"]))
        await self._call(self.engine.remove_container, op.params["id"], True)
        await self._container_create(op, previous)

    async def _container_start(self, op: Operation) -> None:
        cid = op.params.get("id") or self.ids[op.target]
        try:
            await self._call(self.engine.start_container, cid)
        except EngineError as e:
            service = op.params.get("service") or "?"
            raise ComposerError(f"service {service}: cannot start container {op.target}: {e}") from None

    async def _container_stop(self, op: Operation) -> None:
        await self._call(self.engine.stop_container, op.params["id"], op.params.get("timeout"))

    async def _container_kill(self, op: Operation) -> None:
        await self._call(self.engine.kill_container, op.params["id"], op.params.get("signal", "SIGKILL"))

    async def _container_remove(self, op: Operation) -> None:
        await self._call(self.engine.stop_container, op.params["id"], op.params.get("timeout"))
        await self._call(self.engine.remove_container, op.params["id"], True, bool(op.params.get("volumes")))

    async def _network_remove(self, op: Operation) -> str | None:
        try:
            await self._call(self.engine.remove_network, op.target)
        except Conflict:  # containers down left (orphans): kept, as Docker Compose keeps it
            return "Resource is still in use"
        except NotFound:
            return "No resource found to remove"
        return None

    async def _volume_remove(self, op: Operation) -> None:
        await self._call(self.engine.remove_volume, op.target)

    async def _image_remove(self, op: Operation) -> None:
        await self._call(self.engine.remove_image, op.target)

    async def _service_wait_healthy(self, op: Operation) -> None:
        await self._wait_for(op.target, healthy=True)

    async def _service_wait_completed(self, op: Operation) -> None:
        await self._wait_for(op.target, healthy=False)

    async def _wait_for(self, service: str, healthy: bool, deadline: float | None = None) -> None:
        while True:
            states = [readiness(c, healthy) for c in self.containers(service)]
            if not states:
                raise ConditionFailed(f"service {service} has no container")
            failures = [s for s in states if s not in ("ready", "waiting")]
            if failures:
                raise ConditionFailed(f"dependency failed to start: {failures[0]}")
            if all(s == "ready" for s in states):
                return
            if deadline is not None and time.monotonic() > deadline:
                raise ConditionFailed(f"service {service} is not ready yet")
            await _sleep(POLL)

    def _timeout(self, service: str) -> float | None:
        svc = self.project.services.get(service)
        return svc.stop_grace_period if svc else None

    async def _undo(self) -> None:
        for cid in reversed(self.created.containers):
            await self._quiet(self.engine.remove_container, cid, True)
        for name in self.created.networks:
            await self._quiet(self.engine.remove_network, name)
        for name in self.created.volumes:
            await self._quiet(self.engine.remove_volume, name)

    async def _quiet(self, fn, *args) -> None:
        try:
            await self._call(fn, *args)
        except (EngineError, OSError) as e:
            self.progress.warn(f"cleanup after failure: {e}")

    # -- waiting for the stack (up --wait) -----------------------------------------------
    def wait_ready(self, services: list[str], timeout: float | None) -> None:
        """Until every container of *services* runs (and is healthy where it has a healthcheck); one
        that others wait for with `service_completed_successfully` may instead have exited 0. A
        container that exits (or stops) fails the wait with Docker Compose's `container X exited (N)`;
        one without a healthcheck counts as up once it has stayed up SETTLE seconds, so a process
        that crashes at start-up is not taken for a running service."""
        deadline = time.monotonic() + timeout if timeout else None
        completed_ok = {d for s in self.project.services.values() for d, dep in s.depends_on.items()
                        if dep.condition == "service_completed_successfully"}
        pending = set(services)
        try:
            while pending:
                for name in sorted(pending):
                    found = self.containers(name)
                    states = [running_state(c, name in completed_ok) for c in found]
                    bad = [(c, s) for c, s in zip(found, states) if s not in ("ready", "waiting")]
                    if bad:
                        self.progress.update("Container", bad[0][0].name, "Error", FAILED)
                        raise ComposerError(bad[0][1])
                    if states and all(s == "ready" for s in states):
                        pending.discard(name)
                        for c in found:
                            text = "Exited" if c.status == "exited" else "Healthy" if c_health(c) else "Running"
                            self.progress.update("Container", c.name, text, DONE)
                if not pending:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise ComposerError(f"timeout waiting for services to be ready: {', '.join(sorted(pending))}")
                time.sleep(POLL)
        finally:
            self.progress.close()

    # -- down / stop / start / rm --------------------------------------------------------
    def down(self, volumes: bool = False, remove_orphans: bool = False, timeout: float | None = None,
             rmi: str | None = None, services: list[str] | None = None) -> None:
        plan = self.plan_down(volumes, remove_orphans, rmi, services)
        for w in plan.warnings:
            self.progress.warn(w)
        for op in plan.ops.values():
            op.params["timeout"] = timeout
        self.apply(plan)

    def _owned(self, specs, listing) -> list[str]:
        """Names of the existing objects this project owns: declared (not external) or labelled with it."""
        declared = {s.name for s in specs if not s.external}
        return sorted(o.name for o in listing
                      if o.name in declared or o.labels.get(labels.LABEL_PROJECT) == self.project.name)

    def _project_networks(self) -> list[str]:
        return self._owned(self.project.networks.values(), self.engine.list_networks())

    def _project_volumes(self) -> list[str]:
        return self._owned(self.project.volumes.values(), self.engine.list_volumes())

    def _selected(self, services: list[str] | None, where) -> list[ContainerInfo]:
        return [c for c in self.containers() if where(c)
                and (not services or c.labels.get(labels.LABEL_SERVICE) in services)]

    def stop(self, services: list[str] | None = None, timeout: float | None = None) -> None:
        plan = Plan()
        stop_order(self.project, self._selected(services, lambda c: c.status == "running"), "stop",
                   lambda c: "asked to stop", plan)
        for op in plan.ops.values():
            op.params["timeout"] = timeout
        self.apply(plan)

    def kill(self, services: list[str] | None = None, signal: str = "SIGKILL") -> None:
        plan = Plan()
        for c in self._selected(services, lambda c: c.status == "running"):
            plan.add(Operation(f"kill:{c.id}", Action.KILL, Kind.CONTAINER, c.name, f"asked to send {signal}",
                               params={"id": c.id, "signal": signal}))
        self.apply(plan)

    def start(self, services: list[str] | None = None) -> None:
        containers = self.containers()
        if not containers:
            raise ComposerError(f"service(s) not created in project {self.project.name}: run up first")
        self.apply(plan_start(self.project, containers, services))

    def remove(self, services: list[str] | None = None, stop_first: bool = False,
               timeout: float | None = None, volumes: bool = False) -> list[str]:
        """`rm`: remove stopped containers (running ones too, stopped first, with *stop_first*);
        with *volumes*, their anonymous volumes too."""
        plan = Plan()
        for c in self._selected(services, lambda c: stop_first or c.status != "running"):
            plan.add(Operation(f"remove:{c.id}", Action.REMOVE, Kind.CONTAINER, c.name, "asked to remove",
                               params={"id": c.id, "timeout": timeout, "volumes": volumes}))
        self.apply(plan)
        return [op.target for op in plan.ops.values()]


# what the executor's operations do: one handler per (kind, action) a plan may hold
HANDLERS = {
    (Kind.NETWORK, Action.CREATE): Reconciler._network_create,
    (Kind.NETWORK, Action.REMOVE): Reconciler._network_remove,
    (Kind.VOLUME, Action.CREATE): Reconciler._volume_create,
    (Kind.VOLUME, Action.REMOVE): Reconciler._volume_remove,
    (Kind.CONTAINER, Action.CREATE): Reconciler._container_create,
    (Kind.CONTAINER, Action.RECREATE): Reconciler._container_recreate,
    (Kind.CONTAINER, Action.START): Reconciler._container_start,
    (Kind.CONTAINER, Action.STOP): Reconciler._container_stop,
    (Kind.CONTAINER, Action.KILL): Reconciler._container_kill,
    (Kind.CONTAINER, Action.REMOVE): Reconciler._container_remove,
    (Kind.IMAGE, Action.REMOVE): Reconciler._image_remove,
    (Kind.SERVICE, Action.WAIT_HEALTHY): Reconciler._service_wait_healthy,
    (Kind.SERVICE, Action.WAIT_COMPLETED): Reconciler._service_wait_completed,
}


def c_health(c: ContainerInfo) -> str:
    """The container's health status ('' when it has no healthcheck)."""
    health = getattr(c, "health", None)
    status = getattr(health, "status", health)
    return status if isinstance(status, str) else ""


def readiness(c: ContainerInfo, healthy: bool) -> str:
    """'ready', 'waiting' or why the container will never be ready (for depends_on conditions)."""
    if healthy:
        status = c_health(c)
        if c.status == "exited":
            return f"container {c.name} exited ({c.exit_code})"
        if not status:
            return f"container {c.name} has no healthcheck configured"
        if status == "unhealthy":
            return f"container {c.name} is unhealthy"
        return "ready" if status == "healthy" else "waiting"
    if c.status == "exited":
        if c.exit_code == 0:
            return "ready"
        return f"service {c.labels.get(labels.LABEL_SERVICE)} didn't complete successfully: exit {c.exit_code}"
    return "waiting"


SETTLE = 0.5  # seconds a container without a healthcheck must stay up before `up --wait` counts it as up


def running_state(c: ContainerInfo, may_complete: bool, now: float | None = None) -> str:
    """'ready', 'waiting' or why not, for `up --wait`."""
    if c.status == "exited":
        if may_complete and c.exit_code == 0:
            return "ready"
        return f"container {c.name} exited ({c.exit_code})"
    if c.status != "running":
        return "waiting"
    status = c_health(c)
    if status == "unhealthy":
        return f"container {c.name} is unhealthy"
    if status == "starting":
        return "waiting"
    if not status and _up_for(c, now) < SETTLE:
        return "waiting"
    return "ready"


def _up_for(c: ContainerInfo, now: float | None = None) -> float:
    """Seconds since the container's process started (a large number if the time is unknown)."""
    try:
        started = datetime.fromisoformat(c.started_at.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        return float("inf")
    return (time.time() if now is None else now) - started


async def _sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)
