"""`composer image import`: make an image from a root filesystem tarball."""
from __future__ import annotations

HELP = "make an image from a root filesystem tarball"


def configure(p) -> None:
    p.add_argument("source", help="tarball path, or - for standard input")
    p.add_argument("reference", nargs="?")
    p.add_argument("-c", "--change", action="append", default=[], help="a Dockerfile instruction to apply")


def run(args) -> int | None:
    from engine.api import Engine

    print(Engine().import_image(args.source, args.reference, args.change).id)
