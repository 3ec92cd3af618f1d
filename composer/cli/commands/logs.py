"""`composer logs`: show the containers' output."""
from __future__ import annotations

HELP = "show the containers' output"


def configure(p) -> None:
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("--no-log-prefix", action="store_true")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    from composer.cli.follow import follow
    from composer.cli.project import reconciler, selected

    rec = reconciler(args)
    containers = selected(rec, args.services)
    tail = None if args.tail in ("all", "-1") else int(args.tail)
    follow(rec.engine, containers, args.follow, tail, prefix=not args.no_log_prefix)
    return 0
