"""`composer image load`: load images from a `docker save` or OCI archive."""
from __future__ import annotations

HELP = "load images from a `docker save` or OCI archive (standard input by default)"


def configure(p) -> None:
    p.add_argument("-i", "--input", default="-",
                   help="read from this file (a pipe or /dev/stdin too) instead of standard input")
    p.add_argument("-q", "--quiet", action="store_true")


def run(args) -> int | None:
    import os

    from composer.errors import ComposerError
    from engine.api import Engine

    if args.input == "-":
        if os.isatty(0):  # as Docker: nothing will come from a terminal
            raise ComposerError("requested load from stdin, but stdin is a terminal: pipe an archive in "
                                "(docker save IMAGE | composer image load) or give -i FILE")
    elif not os.path.exists(args.input):
        raise ComposerError(f"open {args.input}: no such file")
    for line in Engine().load_images(args.input):
        if not args.quiet:
            print(line)
