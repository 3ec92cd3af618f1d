"""`composer exec`: run a command in a running service container."""
from __future__ import annotations

import argparse

HELP = "run a command in a running service container"


def configure(p) -> None:
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true", help="no pseudo-terminal")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-u", "--user")
    p.add_argument("-w", "--workdir")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("--index", type=int, default=1)
    p.add_argument("service")
    p.add_argument("cmd", nargs=argparse.REMAINDER)


def run(args) -> int:
    import os
    import sys

    from composer import desired
    from composer.cli.project import reconciler
    from composer.errors import ComposerError

    rec = reconciler(args)
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
