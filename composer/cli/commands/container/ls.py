"""`composer container ls`: list containers."""
from __future__ import annotations

HELP = "list containers"


def configure(p) -> None:
    p.add_argument("-a", "--all", action="store_true")


def run(args) -> int | None:
    from composer.cli.output import table
    from engine.api import Engine

    rows = [[c.id[:12], c.image, c.status, c.name] for c in Engine().list_containers()
            if args.all or c.status == "running"]
    print(table(["CONTAINER ID", "IMAGE", "STATUS", "NAMES"], rows))
    return 0
