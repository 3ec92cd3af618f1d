"""`composer container export`: a container's filesystem as a tar archive."""
from __future__ import annotations

HELP = "export a container's filesystem as a tar archive"


def configure(p) -> None:
    p.add_argument("-o", "--output", default="-", help="write to this file instead of standard output")
    p.add_argument("container")


def run(args) -> int | None:
    import sys

    from composer.errors import ComposerError
    from engine.api import Engine

    if args.output == "-" and sys.stdout.isatty():
        raise ComposerError("refusing to write a tar archive to a terminal: use -o FILE or redirect")
    Engine().export_container(args.container, args.output)
    return 0
