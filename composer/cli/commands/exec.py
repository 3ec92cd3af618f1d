"""`composer exec`: run a command in a running service container."""
from __future__ import annotations

import argparse
import os

HELP = "run a command in a running service container"


def configure(p) -> None:
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true",
                   help="no pseudo-terminal (the default when stdin is not a terminal)")
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

    from composer import desired
    from composer.cli.project import reconciler
    from composer.errors import ComposerError

    rec = reconciler(args)
    rec.project.service(args.service)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise ComposerError("exec needs a command: composer exec SERVICE COMMAND [ARGS...]")
    running = [c for c in rec.containers(args.service) if c.status == "running"]
    number = str(args.index)
    target = next((c for c in running if c.labels.get(desired.LABEL_NUMBER) == number), None)
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
    from composer.cli import terminal

    if args.no_tty or not terminal.stdin_is_terminal():
        return engine.exec_container(target.id, cmd, stdin=sys.stdin.fileno(), stdout=sys.stdout.fileno(),
                                     stderr=sys.stderr.fileno(), **options)
    master, slave = terminal.open_pty()
    try:
        proc = engine.exec_process(target.id, cmd, stdin=slave, stdout=slave, stderr=slave, tty=True, **options)
    finally:
        os.close(slave)
    try:
        terminal.relay(master, lambda: proc.poll() is not None)
    finally:
        os.close(master)
    return proc.wait()

