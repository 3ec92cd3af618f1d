"""Commands that act on the stack of the current project: up, down, ps, logs, exec, stop, start, config."""
from __future__ import annotations

import json
import os
import sys
import threading

from composer import desired
from composer.cli.output import ago, docker_time, table
from composer.errors import ComposerError, StackFileError
from composer.loader import LoadOptions, load
from composer.model import Project
from engine.api import ContainerInfo


FILELESS = {"down", "ps", "logs", "stop", "start", "restart"}


def load_project(args, interpolate: bool = True) -> Project:
    try:
        return load(LoadOptions(files=args.files, project_name=args.project_name, project_dir=args.project_dir,
                                env_files=args.env_files, interpolate=interpolate))
    except StackFileError as e:
        # like Docker Compose, `-p NAME down|ps|logs|...` works on what the engine has, without a file
        if args.project_name and not args.files and args.command in FILELESS and "no configuration file" in str(e):
            return Project(args.project_name, os.getcwd(), [], {}, {}, {}, {})
        raise


def _reconciler(args):
    from composer.reconciler import Reconciler
    from engine.api import Engine

    project = load_project(args)
    return Reconciler(Engine(), project)


def dispatch(args) -> int | None:
    return globals()["cmd_" + args.command](args)


# -- up / down / stop / start ---------------------------------------------------------

def _converge(args, *steps):
    """Load the project, check named services, and run each step (a coroutine function taking the
    reconciler) under the project's lock."""
    import anyio

    rec = _reconciler(args)
    for name in getattr(args, "services", None) or []:
        rec.project.service(name)
    with rec.lock():
        for step in steps:
            anyio.run(step, rec)
    return rec


def cmd_up(args) -> int:
    rec = _converge(args, lambda r: r.up(args.services or None))
    if args.detach:
        return 0
    return _attach(rec, args.services)


def _attach(rec, services: list[str]) -> int:
    """Follow the output of the stack until its containers exit; Ctrl-C stops the stack."""
    import anyio

    containers = [c for c in rec.containers() if not services or c.labels.get(desired.LABEL_SERVICE) in services]
    try:
        _follow(rec.engine, containers, follow=True, tail=None, prefix=True)
    except KeyboardInterrupt:
        print("Gracefully stopping... (press Ctrl+C again to force)", file=sys.stderr)
        with rec.lock():
            anyio.run(rec.stop, services or None)
        return 130
    return 0


def cmd_down(args) -> int:
    _converge(args, lambda r: r.down(volumes=args.volumes, remove_orphans=args.remove_orphans, timeout=args.timeout))
    return 0


def cmd_stop(args) -> int:
    _converge(args, lambda r: r.stop(args.services or None, args.timeout))
    return 0


def cmd_start(args) -> int:
    _converge(args, lambda r: r.start(args.services or None))
    return 0


def cmd_restart(args) -> int:
    _converge(args, lambda r: r.stop(args.services or None, args.timeout), lambda r: r.start(args.services or None))
    return 0


# -- ps ---------------------------------------------------------------------------------

def _command_text(c: ContainerInfo) -> str:
    args = (c.spec.entrypoint or []) + (c.spec.command or [])
    text = " ".join(args)
    return f'"{text[:20]}…"' if len(text) > 20 else f'"{text}"'


def _status_text(c: ContainerInfo) -> str:
    if c.status == "running":
        return "Up " + ago(c.started_at).removesuffix(" ago")
    if c.status == "exited":
        return f"Exited ({c.exit_code}) {ago(c.finished_at)}".rstrip()
    return c.status.capitalize()


def _ports_text(c: ContainerInfo) -> str:
    return ", ".join(f"{p.host_ip}:{p.host_port}->{p.container_port}/{p.protocol}" for p in c.ports)


def ps_entry(c: ContainerInfo, project: str) -> dict:
    return {
        "ID": c.id[:12], "Name": c.name, "Names": c.name, "Image": c.image, "Command": _command_text(c),
        "Project": project, "Service": c.labels.get(desired.LABEL_SERVICE, ""), "CreatedAt": docker_time(c.created),
        "RunningFor": ago(c.created), "State": c.status, "Status": _status_text(c), "Health": "",
        "ExitCode": c.exit_code,
        "Publishers": [{"URL": p.host_ip, "TargetPort": p.container_port, "PublishedPort": p.host_port,
                        "Protocol": p.protocol} for p in c.ports],
        "Ports": _ports_text(c), "Labels": ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())),
        "Networks": ",".join(sorted(c.networks)), "LocalVolumes": str(sum(1 for m in c.spec.mounts if m.type == "volume")),
        "Mounts": ",".join(m.source for m in c.spec.mounts if m.type == "volume"), "Size": "0B",
    }


def cmd_ps(args) -> int:
    rec = _reconciler(args)
    for name in args.services_filter:
        rec.project.service(name)
    containers = [c for c in rec.containers()
                  if (args.all or c.status == "running")
                  and (not args.services_filter or c.labels.get(desired.LABEL_SERVICE) in args.services_filter)]
    if args.services:
        for name in sorted({c.labels.get(desired.LABEL_SERVICE, "") for c in containers}):
            print(name)
    elif args.quiet:
        for c in containers:
            print(c.id)
    elif args.format == "json":
        for c in containers:
            print(json.dumps(ps_entry(c, rec.project.name)))
    elif args.format == "table":
        rows = [[c.name, c.image, _command_text(c), c.labels.get(desired.LABEL_SERVICE, ""), ago(c.created),
                 _status_text(c), _ports_text(c)] for c in containers]
        print(table(["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"], rows))
    else:
        raise ComposerError(f"unknown --format {args.format!r}: use table or json")
    return 0


# -- logs -------------------------------------------------------------------------------

def _follow(engine, containers: list[ContainerInfo], follow: bool, tail: int | None, prefix: bool) -> None:
    width = max((len(_short_name(c)) for c in containers), default=0)
    lock = threading.Lock()
    out = sys.stdout.buffer

    def pump(c: ContainerInfo) -> None:
        head = (_short_name(c).ljust(width) + "  | ").encode() if prefix else b""
        for entry in engine.logs(c.id, follow=follow, tail=tail):
            data = entry["log"].encode()
            with lock:
                out.write(head + data if data.endswith(b"\n") else head + data + b"\n")
                out.flush()

    if len(containers) == 1 or not follow:
        for c in containers:
            pump(c)
        return
    threads = [threading.Thread(target=pump, args=(c,), daemon=True) for c in containers]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)


def _short_name(c: ContainerInfo) -> str:
    project = c.labels.get(desired.LABEL_PROJECT, "")
    return c.name[len(project) + 1:] if project and c.name.startswith(project + "-") else c.name


def cmd_logs(args) -> int:
    rec = _reconciler(args)
    for name in args.services:
        rec.project.service(name)
    containers = [c for c in rec.containers()
                  if not args.services or c.labels.get(desired.LABEL_SERVICE) in args.services]
    tail = None if args.tail in ("all", "-1") else int(args.tail)
    _follow(rec.engine, containers, args.follow, tail, prefix=not args.no_log_prefix)
    return 0


# -- exec -------------------------------------------------------------------------------

def cmd_exec(args) -> int:
    rec = _reconciler(args)
    rec.project.service(args.service)
    if not args.cmd:
        raise ComposerError("exec needs a command: composer exec SERVICE COMMAND [ARGS...]")
    running = [c for c in rec.containers(args.service) if c.status == "running"]
    number = str(args.index)
    target = next((c for c in running if c.labels.get(desired.LABEL_NUMBER) == number), None)
    if target is None:
        raise ComposerError(f"service {args.service} is not running")
    env = dict(item.split("=", 1) if "=" in item else (item, os.environ.get(item, "")) for item in args.env)
    return rec.engine.exec_container(target.id, args.cmd, env=env, user=args.user, workdir=args.workdir,
                                     stdin=sys.stdin.fileno() if not args.detach else None,
                                     stdout=sys.stdout.fileno(), stderr=sys.stderr.fileno())


# -- config -----------------------------------------------------------------------------

def cmd_config(args) -> int:
    project = load_project(args, interpolate=not args.no_interpolate)
    if args.quiet:
        return 0
    if args.services:
        print("\n".join(project.services))
        return 0
    if args.volumes:
        print("\n".join(project.volumes))
        return 0
    if args.networks:
        print("\n".join(project.networks))
        return 0
    if args.images:
        for name, svc in project.services.items():
            print(svc.image or f"{project.name}-{name}")
        return 0
    if args.format == "json":
        print(json.dumps(project.raw, indent=2))
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(project.raw, sort_keys=False, default_flow_style=False))
    return 0
