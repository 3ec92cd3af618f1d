"""`composer top`: the processes running in services' containers."""
from __future__ import annotations

HELP = "display the running processes"


def configure(p) -> None:
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    from composer.cli.output import table
    from composer.cli.project import reconciler, selected
    from engine.api import Conflict

    rec = reconciler(args)
    for c in selected(rec, args.services):
        if c.status != "running":
            continue
        try:
            titles, rows = rec.engine.container_top(c.id)
        except Conflict:
            continue  # it stopped meanwhile
        print(c.name)
        print(table(titles, rows))
        print()
    return 0
