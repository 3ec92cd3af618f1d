"""`composer volume rm`: remove volumes."""
from __future__ import annotations

HELP = "remove volumes (never one a container uses)"


def configure(p) -> None:
    p.add_argument("-f", "--force", action="store_true", help="no error for volumes that do not exist")
    p.add_argument("names", nargs="+")


def run(args) -> int | None:
    import sys

    from engine.api import Engine, EngineError, NotFound

    engine = Engine()
    status = 0
    for n in args.names:
        try:
            engine.remove_volume(n)
        except NotFound:
            if args.force:
                continue
            print(f"error: no such volume: {n}", file=sys.stderr)
            status = 1
        except EngineError as e:
            print(f"error: {e}", file=sys.stderr)
            status = 1
        else:
            print(n)
    return status
