"""`composer image inspect`: show images' details."""
from __future__ import annotations

HELP = "show an image's details"


def configure(p) -> None:
    p.add_argument("images", nargs="+")


def run(args) -> int | None:
    import sys

    from composer.cli.output import dump_json
    from engine.api import Engine, EngineError

    engine = Engine()
    found, code = [], 0
    for ref in args.images:
        try:
            found.append(engine.inspect_image(ref))
        except EngineError as e:  # reported per image, like docker
            print(f"error: {e}", file=sys.stderr)
            code = 1
    dump_json(found)
    return code
