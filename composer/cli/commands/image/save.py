"""`composer image save`: write images to a tar archive (the `docker save` format)."""
from __future__ import annotations

HELP = "save images to a tar archive (standard output by default)"


def configure(p) -> None:
    p.add_argument("-o", "--output", default="-", help="write to this file instead of standard output")
    p.add_argument("images", nargs="+")


def run(args) -> int | None:
    import os

    from engine.api import Engine

    dest = args.output
    if dest != "-":
        # write next to the destination, then rename: a failed save leaves no half archive
        tmp = f"{dest}.tmp-{os.getpid()}"
        try:
            Engine().save_images(args.images, tmp)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    else:
        Engine().save_images(args.images, "-")
    return 0
