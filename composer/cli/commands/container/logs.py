"""`composer container logs`: show a container's output."""
from __future__ import annotations

HELP = "show a container's output"


def configure(p) -> None:
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("container")


def run(args) -> int | None:
    import sys

    from engine.api import Engine

    out = sys.stdout.buffer
    for entry in Engine().logs(args.container, follow=args.follow):
        out.write(entry["log"].encode())
        out.flush()
    return 0
