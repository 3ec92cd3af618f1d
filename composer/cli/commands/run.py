"""`composer run`: a one-off container of a service, with a command of your choice."""
from __future__ import annotations

import argparse
import os
import sys

HELP = "run a one-off command in a new container of a service"


def configure(p) -> None:
    p.add_argument("-d", "--detach", action="store_true", help="run in the background, print the container name")
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("--name", help="container name (default PROJECT-SERVICE-run-HEX)")
    p.add_argument("--entrypoint", help="override the image's entrypoint")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY[=VALUE]", help="environment variable")
    p.add_argument("-u", "--user", help="user name or uid[:gid] to run as")
    p.add_argument("-w", "--workdir", help="working directory")
    p.add_argument("-v", "--volume", action="append", default=[], metavar="SOURCE:TARGET[:MODE]",
                   help="bind mount or volume")
    p.add_argument("-p", "--publish", action="append", default=[], metavar="[IP:]HOST:CONTAINER[/PROTO]",
                   help="publish a port")
    p.add_argument("--service-ports", action="store_true", help="publish the service's ports")
    p.add_argument("--no-deps", action="store_true", help="don't start the services it depends on")
    p.add_argument("--use-aliases", action="store_true",
                   help="answer to the service's name and network aliases (a one-off has only its own name)")
    from composer.cli.commands.exec import terminal_options

    terminal_options(p)
    p.add_argument("service")
    p.add_argument("cmd", nargs=argparse.REMAINDER)


def one_off_spec(project, svc, args):
    """The service's container spec, changed into a one-off by the command line."""
    import shlex

    from composer import labels
    from composer.cli.commands.exec import env_options, wants_terminal
    from composer.converge import containerspec
    from composer.converge.mounts import option_mount
    from composer.load import parsers, typed

    spec = containerspec.container_spec(project, svc)
    spec.name = args.name or f"{project.name}-{svc.name}-run-{os.urandom(6).hex()}"
    spec.labels[labels.LABEL_ONEOFF] = "True"
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if args.entrypoint is not None:
        spec.entrypoint = shlex.split(args.entrypoint)
        spec.command = cmd or None  # a new entrypoint drops the service's command, as in Compose
    elif cmd:
        spec.command = cmd
    spec.env.update(env_options(args.env))
    if args.user is not None:
        spec.user = args.user
    if args.workdir is not None:
        spec.working_dir = args.workdir
    if not args.service_ports:
        spec.ports = []
    where = lambda i: f"-p {args.publish[i]}"  # noqa: E731
    # parsed as `ports:` entries are: "8000-8010:80" publishes the range, as `up` does
    spec.ports += containerspec.port_bindings(typed.ports(parsers.normalize_ports(args.publish, where), where))
    for spec_text in args.volume:
        mount = option_mount(spec_text, os.getcwd(), project)
        spec.mounts = [m for m in spec.mounts if m.target != mount.target] + [mount]
    spec.restart, spec.restart_delay, spec.restart_max_attempts = "no", None, None
    spec.auto_remove = args.rm
    if not args.use_aliases:  # as Docker Compose: `web` keeps naming the service's own containers
        for att in spec.networks:
            att.aliases = []
    if wants_terminal(args):
        spec.tty = True  # as Docker Compose's run: a tty container (TERM=xterm unless the image sets it)
    elif args.no_tty or not args.tty or not args.detach:
        spec.tty = False  # -T, or our own stdio in the foreground: not the service's `tty: true`
    return spec


def run(args) -> int:
    from composer.cli.project import reconciler
    from composer.graph import Graph
    from composer.converge.plan import UpOptions

    rec = reconciler(args)
    svc = rec.project.service(args.service)
    spec = one_off_spec(rec.project, svc, args)
    with rec.lock():
        deps = sorted(Graph(rec.project).with_dependencies([svc.name]) - {svc.name})
        if deps and not args.no_deps:
            rec.up(UpOptions(services=deps))  # with their depends_on conditions
        else:
            rec.apply(_infrastructure(rec, svc.name))
        info = rec.engine.create_container(spec)  # it makes missing bind sources that ask for it
        for w in info.warnings:
            sys.stderr.write(f"WARN service {svc.name}: {w}\n")
    engine = rec.engine
    try:
        if args.detach:
            engine.start_container(info.id)
            print(info.name)
            return 0
        return _foreground(engine, info.id, args)
    finally:
        if args.rm and not args.detach:
            engine.remove_container(info.id, force=True, volumes=True)  # anonymous volumes go too


def _infrastructure(rec, service: str):
    """The part of `up`'s plan that makes the project's missing networks and volumes."""
    from composer.converge.plan import Plan, UpOptions

    full, _ = rec.plan_up(UpOptions(services=[service], no_deps=True))
    plan = Plan()
    for op in full.ops.values():
        if op.kind in ("Network", "Volume"):
            plan.add(op)
    return plan


def _foreground(engine, cid: str, args) -> int:
    from composer.cli.commands.exec import wants_terminal

    if not wants_terminal(args):
        return _with_our_stdio(engine, cid, args.interactive)
    from composer.cli import terminal

    master = engine.start_with_terminal(cid, terminal.size())
    try:
        terminal.relay(master, lambda: engine.inspect_container(cid).status != "running",
                       interactive=args.interactive)
    finally:
        os.close(master)
    return engine.wait_container(cid)


def _with_our_stdio(engine, cid: str, interactive: bool = True) -> int:
    """The process reads our stdin (/dev/null without *interactive*) and writes our stdout/stderr; our
    signals are passed on to it."""
    import signal

    from engine.api import EngineError

    def forward(signum, frame):
        try:
            engine.kill_container(cid, signum)
        except EngineError:
            pass

    stdin = 0 if interactive else os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        engine.start_container(cid, stdio=(stdin, 1, 2))
    finally:
        if stdin:
            os.close(stdin)
    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        return engine.wait_container(cid)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
