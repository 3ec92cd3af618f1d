"""`composer image push`: upload an image to its registry."""
from __future__ import annotations

HELP = "upload an image to a registry"


def configure(p) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("image")


def run(args) -> int | None:
    from composer.cli.transfer_progress import display
    from engine.api import Engine

    Engine().push_image(args.image, display(args))
    return 0
