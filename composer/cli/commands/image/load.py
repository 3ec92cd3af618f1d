"""`composer image load`: load images from a `docker save` or OCI archive."""
from __future__ import annotations

HELP = "load images from a `docker save` or OCI archive"


def configure(p) -> None:
    p.add_argument("-i", "--input", required=True)
    p.add_argument("-q", "--quiet", action="store_true")


def run(args) -> int | None:
    import os

    from composer.errors import ComposerError
    from engine.api import Engine

    if not os.path.exists(args.input):
        raise ComposerError(f"open {args.input}: no such file")
    for line in Engine().load_images(args.input):
        if not args.quiet:
            print(line)
