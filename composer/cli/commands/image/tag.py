"""`composer image tag`: give an image another name."""
from __future__ import annotations

HELP = "give an image another name"


def configure(p) -> None:
    p.add_argument("source")
    p.add_argument("target")


def run(args) -> int | None:
    from engine.api import Engine

    Engine().tag_image(args.source, args.target)
    return 0
