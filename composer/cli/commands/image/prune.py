"""`composer image prune`: remove unused images."""
from __future__ import annotations

HELP = "remove dangling images (with -a, every image no container uses)"


def configure(p) -> None:
    p.add_argument("-a", "--all", action="store_true", help="remove all images no container uses, not just dangling")
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")


def run(args) -> int | None:
    import sys

    from composer.cli.output import human_size
    from engine.api import Engine

    if not args.force and sys.stdin.isatty():
        what = "all images without at least one container associated to them" if args.all else "all dangling images"
        answer = input(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    lines, reclaimed = Engine().prune_images(all=args.all)
    if lines:
        print("Deleted Images:")
        for line in lines:
            print(line)
        print()
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0
