"""`composer container rm`: remove containers."""
from __future__ import annotations

HELP = "remove containers"


def configure(p) -> None:
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-v", "--volumes", action="store_true", help="also remove the containers' anonymous volumes")
    p.add_argument("containers", nargs="+")


def run(args) -> int | None:
    from engine.api import Engine

    engine = Engine()
    for ref in args.containers:
        engine.remove_container(ref, force=args.force, volumes=args.volumes)
        print(ref)
    return 0
