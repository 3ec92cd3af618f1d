"""Observed state → plan: the atomic operations that make the engine match the model, each with its reason.

A plan is a DAG: an operation runs once every operation it depends on has finished. Building a
plan changes nothing, so `up --dry-run` prints it and tests can check the reconciler's decisions
without a kernel. converge/executor.py runs a plan; converge/reconciler.py says what each action does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from composer import labels
from composer.converge import containerspec
from composer.errors import ComposerError
from composer.graph import Graph
from composer.model import Project, Service
from composer.converge.mounts import services_mounted_from
from engine.api import ContainerInfo


class Kind(StrEnum):
    """What an operation acts on (as the progress display names it)."""

    NETWORK = "Network"
    VOLUME = "Volume"
    CONTAINER = "Container"
    IMAGE = "Image"
    SERVICE = "Service"  # waiting for a service's containers


class Action(StrEnum):
    CREATE = "create"
    RECREATE = "recreate"
    START = "start"
    STOP = "stop"
    KILL = "kill"
    REMOVE = "remove"
    WAIT_HEALTHY = "wait_healthy"
    WAIT_COMPLETED = "wait_completed"


@dataclass
class Operation:
    """One atomic step of a plan, with the reason it is needed and the steps it waits for. The
    reconciler carries out each (kind, action) pair with the handler its HANDLERS table names."""

    key: str  # unique in its plan
    action: Action
    kind: Kind
    target: str  # what the user sees (a container, network or volume name)
    reason: str
    deps: set[str] = field(default_factory=set)
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.action, self.kind = Action(self.action), Kind(self.kind)  # an unknown one fails here


@dataclass
class Plan:
    """The operations of a command, a DAG in the order they were planned, and warnings to show."""

    ops: dict[str, Operation] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(self, op: Operation) -> Operation:
        self.ops[op.key] = op
        return op

    def order(self) -> list[Operation]:
        """Every operation after its dependencies; otherwise in the order they were added."""
        out: list[Operation] = []
        seen: set[str] = set()

        def visit(op: Operation) -> None:
            if op.key in seen:
                return
            seen.add(op.key)
            for d in sorted(op.deps):
                if d in self.ops:
                    visit(self.ops[d])
            out.append(op)

        for op in list(self.ops.values()):
            visit(op)
        return out

    def render(self) -> str:
        lines = [f"{i:>3}. {op.action:<15} {op.kind} {op.target}: {op.reason}"
                 for i, op in enumerate(self.order(), 1)]
        return "\n".join(lines) if lines else "nothing to do: the stack is up to date"

    def __bool__(self) -> bool:
        return bool(self.ops)


@dataclass
class Observed:
    """What the engine has for one project, read once before planning."""

    containers: list[ContainerInfo]
    networks: set[str]
    volumes: set[str]
    image_ids: dict[str, str]  # image reference -> id, for references the engine has

    def of_service(self, name: str) -> list[ContainerInfo]:
        found = [c for c in self.containers if c.labels.get(labels.LABEL_SERVICE) == name]
        return sorted(found, key=number_of)


def number_of(c: ContainerInfo) -> int:
    try:
        return int(c.labels.get(labels.LABEL_NUMBER, "1"))
    except ValueError:
        return 1


@dataclass
class UpOptions:
    """The flags of `up` (and `create`) that change what is planned."""

    services: list[str] = field(default_factory=list)
    force_recreate: bool = False
    no_recreate: bool = False
    always_recreate_deps: bool = False
    renew_anon_volumes: bool = False
    no_start: bool = False
    no_deps: bool = False
    remove_orphans: bool = False
    scale: dict[str, int] = field(default_factory=dict)
    timeout: float | None = None


def replicas(svc: Service, override: dict[str, int]) -> int:
    if svc.name in override:
        return override[svc.name]
    return 1 if svc.replicas is None else svc.replicas


def targets(project: Project, services: list[str], no_deps: bool) -> list[str]:
    """The services an up touches, dependencies first."""
    graph = Graph(project)
    for name in services:
        project.service(name)
    if not services:
        chosen = set(project.services)
    elif no_deps:
        chosen = set(services)
    else:
        chosen = {n for n in graph.with_dependencies(services) if n in project.services}
    return [n for n in graph.order() if n in chosen]


def _recreate_reason(c: ContainerInfo, want_hash: str, image_id: str | None, forced: bool,
                     changed_deps: list[str]) -> str | None:
    if forced:
        return "forced (--force-recreate)"
    if c.labels.get(labels.LABEL_HASH) != want_hash:
        return "its configuration changed"
    if image_id and c.image_id and c.image_id != image_id:
        return "its image changed"
    if changed_deps:
        return f"dependency {', '.join(changed_deps)} was recreated (restart: true)"
    return None


def plan_up(project: Project, observed: Observed, opts: UpOptions) -> Plan:
    plan = Plan()
    order = targets(project, opts.services, opts.no_deps)
    explicit = set(opts.services or order)
    for svc_name in order:
        svc = project.services[svc_name]
        n = replicas(svc, opts.scale)
        if n < 0:
            raise ComposerError(f"service {svc_name}: cannot scale to {n}")
        if n > 1 and svc.container_name:
            raise ComposerError(f"service {svc_name}: container_name {svc.container_name!r} cannot be used with "
                                f"{n} replicas (names must be unique)")

    infra: set[str] = set()
    for net in project.networks.values():
        if not net.external and net.name not in observed.networks:
            infra.add(plan.add(Operation(f"network:{net.name}", Action.CREATE, Kind.NETWORK, net.name,
                                         "declared and missing", params={"network": net.key})).key)
    for vol in project.volumes.values():
        if not vol.external and vol.name not in observed.volumes:
            infra.add(plan.add(Operation(f"volume:{vol.name}", Action.CREATE, Kind.VOLUME, vol.name,
                                         "declared and missing", params={"volume": vol.key})).key)

    recreated: set[str] = set()
    started: dict[str, list[str]] = {}  # service -> keys of its start/recreate operations
    for svc_name in order:
        svc = project.services[svc_name]
        n = replicas(svc, opts.scale)
        existing = observed.of_service(svc_name)
        forced = opts.force_recreate and (svc_name in explicit or opts.always_recreate_deps)
        changed_deps = sorted(d for d, dep in svc.depends_on.items() if dep.restart and d in recreated)
        gate = _gate(plan, svc, order, started)

        # volumes_from: the other service's container must exist before this one is created
        made_first = {k for d in services_mounted_from(svc) for k in started.get(d, [])}
        keys: list[str] = []
        by_number = {}
        for c in existing:
            by_number.setdefault(number_of(c), []).append(c)
        image_id = observed.image_ids.get(labels.image_name(project, svc))
        for number in range(1, n + 1):
            spec = containerspec.container_spec(project, svc, number)
            want_hash = spec.labels[labels.LABEL_HASH]
            have = by_number.pop(number, [])
            for extra in have[1:]:  # duplicates of one number (a crash between create and remove)
                plan.add(Operation(f"remove:{extra.id}", Action.REMOVE, Kind.CONTAINER, extra.name,
                                   f"a second container numbered {number}", params={"id": extra.id}))
            c = have[0] if have else None
            if c is None:
                key = plan.add(Operation(f"create:{spec.name}", Action.CREATE, Kind.CONTAINER, spec.name,
                                         f"service {svc_name} wants {n} container(s), #{number} is missing",
                                         deps=infra | made_first, params={"service": svc_name, "number": number})).key
                if not opts.no_start:
                    keys.append(plan.add(Operation(f"start:{spec.name}", Action.START, Kind.CONTAINER, spec.name,
                                                   "newly created", deps={key} | gate(),
                                                   params={"service": svc_name, "number": number})).key)
                recreated.add(svc_name)
                continue
            reason = None if opts.no_recreate else _recreate_reason(c, want_hash, image_id, forced, changed_deps)
            if not reason and not opts.no_recreate:
                reason = containerspec.network_peer_changed(svc, c, recreated, observed.containers)
            if reason:
                key = plan.add(Operation(f"recreate:{spec.name}", Action.RECREATE, Kind.CONTAINER, spec.name, reason,
                                         deps=infra | made_first, params={"service": svc_name, "number": number,
                                                                          "id": c.id, "old_name": c.name,
                                                                          "renew_anon_volumes": opts.renew_anon_volumes})).key
                recreated.add(svc_name)
                if not opts.no_start:
                    keys.append(plan.add(Operation(f"start:{spec.name}", Action.START, Kind.CONTAINER, spec.name,
                                                   "recreated", deps={key} | gate(),
                                                   params={"service": svc_name, "number": number})).key)
            elif c.status != "running" and not opts.no_start:
                keys.append(plan.add(Operation(f"start:{c.name}", Action.START, Kind.CONTAINER, c.name,
                                               f"it is {c.status}", deps=gate(),
                                               params={"service": svc_name, "number": number, "id": c.id})).key)
        for number in sorted(by_number, reverse=True):  # scale down: highest numbers first
            for c in by_number[number]:
                plan.add(Operation(f"remove:{c.id}", Action.REMOVE, Kind.CONTAINER, c.name,
                                   f"service {svc_name} is scaled to {n}", params={"id": c.id}))
        started[svc_name] = keys

    orphans = [c for c in observed.containers if c.labels.get(labels.LABEL_SERVICE) not in project.services]
    if orphans and opts.remove_orphans:
        for c in orphans:
            plan.add(Operation(f"remove:{c.id}", Action.REMOVE, Kind.CONTAINER, c.name, "orphan (--remove-orphans)",
                               params={"id": c.id}))
    elif orphans:
        names = ", ".join(sorted({c.labels.get(labels.LABEL_SERVICE, "") for c in orphans}))
        plan.warnings.append(f"Found orphan containers ({', '.join(sorted(c.name for c in orphans))}) for "
                             f"services {names} of project {project.name}. If you removed or renamed these "
                             "services in your stack file, run this command with --remove-orphans to clean "
                             "them up.")
    return plan


def _gate(plan: Plan, svc: Service, order: list[str], started: dict[str, list[str]]):
    """What a start of *svc* waits for, as a function making the plan's wait operations only when a
    container of the service does start: its dependencies' starts (service_started), or a wait for
    them to be healthy or to have completed successfully."""
    waits: list[tuple[str, str, bool]] = []
    plain: set[str] = set()
    for dep_name, dep in svc.depends_on.items():
        if dep_name not in order:
            continue
        if dep.condition == "service_healthy":
            waits.append((dep_name, "wait_healthy", dep.required))
        elif dep.condition == "service_completed_successfully":
            waits.append((dep_name, "wait_completed", dep.required))
        else:
            plain.update(started.get(dep_name, []))

    def gate() -> set[str]:
        return plain | {_wait(plan, d, action, started.get(d, []), required) for d, action, required in waits}

    return gate


def plan_start(project: Project, containers: list[ContainerInfo], services: list[str] | None = None) -> Plan:
    """`start`: start the stopped containers (of *services*) in dependency order, each after what its
    depends_on conditions ask of its dependencies (started, healthy, completed successfully), as up does."""
    plan = Plan()
    order = Graph(project).order()
    started: dict[str, list[str]] = {}
    for name in order:
        started[name] = []
        if services and name not in services:
            continue
        gate = _gate(plan, project.services[name], order, started)
        for c in sorted((c for c in containers if c.labels.get(labels.LABEL_SERVICE) == name), key=number_of):
            if c.status != "running":
                started[name].append(plan.add(Operation(f"start:{c.name}", Action.START, Kind.CONTAINER, c.name,
                                                        f"it is {c.status}", deps=gate(),
                                                        params={"id": c.id, "service": name})).key)
    return plan


def _wait(plan: Plan, service: str, action: str, after: list[str], required: bool) -> str:
    key = f"{action}:{service}"
    if key not in plan.ops:
        what = "healthy" if action == "wait_healthy" else "completed successfully"
        plan.add(Operation(key, action, Kind.SERVICE, service, f"a dependent needs it {what}", deps=set(after),
                           params={"service": service, "required": required}))
    return key


def plan_down(project: Project, observed: Observed, remove_orphans: bool, volumes: bool,
              networks: list[str], volume_names: list[str], images: list[str]) -> Plan:
    """Stop and remove containers (dependents first), then networks, volumes and images."""
    plan = Plan()
    # every container of the project goes, as under Docker Compose: those of services under profiles not
    # enabled, and those of services the files no longer name (a rename), with no warning about orphans;
    # *remove_orphans* asks for nothing more here
    containers = observed.containers
    removals = stop_order(project, containers, "remove", lambda c: "the stack is going down", plan)
    for name in networks:
        plan.add(Operation(f"network:{name}", Action.REMOVE, Kind.NETWORK, name, "the stack is going down",
                           deps=set(removals)))
    if volumes:
        for name in volume_names:
            plan.add(Operation(f"volume:{name}", Action.REMOVE, Kind.VOLUME, name, "down -v", deps=set(removals)))
    for ref in images:
        plan.add(Operation(f"image:{ref}", Action.REMOVE, Kind.IMAGE, ref, "down --rmi", deps=set(removals)))
    return plan


def stop_order(project: Project, containers: list[ContainerInfo], action: str, reason, plan: Plan) -> list[str]:
    """Add one *action* per container, each after those of the services that depend on it."""
    by_service: dict[str, list[str]] = {}
    keys = []
    for c in containers:
        service = c.labels.get(labels.LABEL_SERVICE, "")
        op = plan.add(Operation(f"{action}:{c.id}", action, Kind.CONTAINER, c.name, reason(c), params={"id": c.id}))
        by_service.setdefault(service, []).append(op.key)
        keys.append(op.key)
    for c in containers:
        svc = project.services.get(c.labels.get(labels.LABEL_SERVICE, ""))
        if svc is None:
            continue
        for dependent, dsvc in project.services.items():
            if svc.name in dsvc.depends_on:
                plan.ops[f"{action}:{c.id}"].deps.update(by_service.get(dependent, []))
    return keys
