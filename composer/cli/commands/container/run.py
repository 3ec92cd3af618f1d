"""`composer container run`: run a command in a new container, in the foreground."""
from __future__ import annotations

import argparse

HELP = "run a command in a new container, in the foreground"


def configure(p) -> None:
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("--name")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-w", "--workdir")
    p.add_argument("-u", "--user")
    p.add_argument("--entrypoint")
    p.add_argument("-v", "--volume", action="append", default=[], metavar="[SOURCE:]TARGET[:MODE]",
                   help="mount a volume (a name, or none for an anonymous one) or a host path (repeatable)")
    p.add_argument("--network", help="an existing network to join (default: none but loopback)")
    p.add_argument("image")
    p.add_argument("cmd", nargs=argparse.REMAINDER)


def run(args) -> int | None:
    import os
    import shlex
    import sys

    from composer.converge.mounts import option_mount
    from engine.api import ContainerSpec, Engine, NetworkAttachment

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    env = dict(item.split("=", 1) if "=" in item else (item, os.environ.get(item, "")) for item in args.env)
    engine = Engine()
    mounts = [option_mount(v, os.getcwd()) for v in args.volume]
    for m in mounts:
        if m.type == "volume" and m.source:
            engine.create_volume(m.source)  # like docker run: a named volume is made on first use
    name = args.name or "run-" + os.urandom(4).hex()
    spec = ContainerSpec(
        name=name, image=args.image, command=cmd or None,
        entrypoint=shlex.split(args.entrypoint) if args.entrypoint is not None else None,
        env=env, working_dir=args.workdir, user=args.user, auto_remove=args.rm, mounts=mounts,
        networks=[NetworkAttachment(args.network)] if args.network else [])
    return engine.run_container(spec, sys.stdout.buffer, sys.stderr.buffer)
