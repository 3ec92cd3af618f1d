"""`composer exec`: run a command in a running service container."""
from __future__ import annotations

import argparse
import os

HELP = "run a command in a running service container"


def terminal_options(p) -> None:
    """-i/--interactive and -t/--tty (on by default, as in Docker Compose: accepted for `docker exec -it`
    habits; `--interactive=false` and `--tty=false` turn them off), -T/--no-TTY/--no-tty."""
    p.add_argument("-i", "--interactive", action="store_true", default=True,
                   help="keep stdin open (the default; --interactive=false gives the command no input)")
    p.add_argument("--interactive=false", dest="interactive", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--interactive=true", dest="interactive", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-t", "--tty", action="store_true", default=True,
                   help="allocate a pseudo-terminal (the default when stdin is a terminal)")
    p.add_argument("--tty=false", dest="tty", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--tty=true", dest="tty", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-T", "--no-TTY", "--no-tty", dest="no_tty", action="store_true",
                   help="no pseudo-terminal (the default when stdin is not a terminal)")


def wants_terminal(args) -> bool:
    """A pseudo-terminal for the command: asked for (the default), not refused, and stdin is a terminal."""
    return args.tty and not args.no_tty and os.isatty(0)


def configure(p) -> None:
    terminal_options(p)
    p.add_argument("-d", "--detach", action="store_true", help="run the command in the background")
    p.add_argument("-u", "--user", help="user name or uid[:gid] to run as")
    p.add_argument("-w", "--workdir", help="working directory of the command")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY[=VALUE]", help="environment variable")
    p.add_argument("--privileged", action="store_true", help="extended privileges for the command")
    p.add_argument("--index", type=int, default=1, help="which replica of the service (default 1)")
    p.add_argument("service")
    p.add_argument("cmd", nargs=argparse.REMAINDER)


def env_options(items: list[str]) -> dict[str, str]:
    """-e KEY=VALUE, or -e KEY for the value in our own environment (as Docker Compose)."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if eq:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def run(args) -> int:
    import sys

    from composer import labels
    from composer.cli.project import reconciler
    from composer.errors import ComposerError

    rec = reconciler(args)
    rec.project.service(args.service)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise ComposerError("exec needs a command: composer exec SERVICE COMMAND [ARGS...]")
    running = [c for c in rec.containers(args.service) if c.status == "running"]
    number = str(args.index)
    target = next((c for c in running if c.labels.get(labels.LABEL_NUMBER) == number), None)
    if target is None:
        if running:
            raise ComposerError(f"service {args.service} has no running container with index {args.index}")
        raise ComposerError(f"service {args.service} is not running")
    env = env_options(args.env)
    engine = rec.engine
    options = dict(env=env, user=args.user, workdir=args.workdir, privileged=args.privileged)
    if args.detach:
        engine.exec_process(target.id, cmd, **options)
        return 0
    if not wants_terminal(args):
        stdin = sys.stdin.fileno() if args.interactive else None  # None: /dev/null
        return engine.exec_container(target.id, cmd, stdin=stdin, stdout=sys.stdout.fileno(),
                                     stderr=sys.stderr.fileno(), **options)
    from composer.cli import terminal

    proc = engine.exec_process(target.id, cmd, tty=True, size=terminal.size(), **options)
    try:
        terminal.relay(proc.terminal, lambda: proc.poll() is not None, interactive=args.interactive)
    finally:
        os.close(proc.terminal)
    return proc.wait()
