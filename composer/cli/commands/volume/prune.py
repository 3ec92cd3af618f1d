"""`composer volume prune`: remove unused volumes."""
from __future__ import annotations

HELP = "remove unused volumes (anonymous ones; all with -a)"


def configure(p) -> None:
    p.add_argument("-a", "--all", action="store_true", help="all unused volumes, not only anonymous ones")
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    p.add_argument("--filter", action="append", default=[], metavar="label=KEY[=VALUE]",
                   help="only volumes with this label (repeatable)")


def run(args) -> int | None:
    import sys

    from composer.cli.output import human_size
    from composer.errors import ComposerError
    from engine.api import Engine

    labels: dict[str, str | None] = {}
    for f in args.filter:
        key, _, value = f.partition("=")
        if key != "label" or not value:
            raise ComposerError(f"invalid filter {f!r} (use label=KEY or label=KEY=VALUE)")
        k, sep, v = value.partition("=")
        labels[k] = v if sep else None
    if not args.force:
        what = "local volumes" if args.all else "anonymous local volumes"
        sys.stdout.write(f"WARNING! This will remove {what} not used by at least one container.\n"
                         "Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed = Engine().prune_volumes(all_volumes=args.all, labels=labels)
    if removed:
        print("Deleted Volumes:")
        for name, _ in removed:
            print(name)
        print()
    print(f"Total reclaimed space: {human_size(sum(size for _, size in removed))}")
    return 0
