"""`composer logs`: show the containers' output."""
from __future__ import annotations

HELP = "show the containers' output"


def configure(p) -> None:
    p.add_argument("-f", "--follow", action="store_true", help="follow the output (also across restarts)")
    p.add_argument("-n", "--tail", default="all", help="lines from the end of each log (default all)")
    p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    p.add_argument("--since", help="only after this time: RFC 3339, Unix seconds, or relative (10m)")
    p.add_argument("--until", help="only before this time: RFC 3339, Unix seconds, or relative (10m)")
    p.add_argument("--no-log-prefix", action="store_true", help="no container name before each line")
    p.add_argument("--no-color", action="store_true", help="monochrome output")
    p.add_argument("--index", type=int, help="only this replica of the service")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    from composer import labels
    from composer.cli.follow import Printer, follow, use_colour
    from composer.cli.project import reconciler, selected
    from composer.cli.timearg import parse_log_time
    from composer.errors import ComposerError

    if args.tail in ("all", "-1"):
        tail = None
    elif args.tail.isdigit():
        tail = int(args.tail)
    else:
        raise ComposerError(f"--tail: {args.tail!r} is not a number of lines (or all)")
    since = parse_log_time(args.since, "--since") if args.since else None
    until = parse_log_time(args.until, "--until") if args.until else None
    rec = reconciler(args)
    containers = selected(rec, args.services)
    if args.index is not None:
        containers = [c for c in containers if c.labels.get(labels.LABEL_NUMBER) == str(args.index)]
    printer = Printer(containers, prefix=not args.no_log_prefix, colour=use_colour(args.ansi, args.no_color),
                      timestamps=args.timestamps)
    follow(rec.engine, containers, args.follow, tail, prefix=not args.no_log_prefix, printer=printer,
           since=since, until=until, across_restarts=True)
    return 0
