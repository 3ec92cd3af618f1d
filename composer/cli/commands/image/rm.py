"""`composer image rm`: untag or delete images."""
from __future__ import annotations

HELP = "remove images"


def configure(p) -> None:
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("images", nargs="+")


def run(args) -> int | None:
    from engine.api import Engine

    engine = Engine()
    for ref in args.images:
        for line in engine.remove_image(ref, force=args.force):
            print(line)
    return 0
