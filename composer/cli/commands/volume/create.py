"""`composer volume create`: create a volume."""
from __future__ import annotations

HELP = "create a volume"


def configure(p) -> None:
    p.add_argument("name", nargs="?", help="the volume's name (default: a random one)")
    p.add_argument("-d", "--driver", default="local")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="set a label (repeatable)")
    p.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                   help="a driver option (repeatable)")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    from composer.errors import ComposerError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key or (what == "option" and not sep):
            raise ComposerError(f"invalid {what} {item!r}: use KEY=VALUE")
        out[key] = value
    return out


def run(args) -> int | None:
    from engine.api import Engine

    engine = Engine()
    labels, options = _pairs(args.label, "label"), _pairs(args.opt, "option")
    print(engine.create_volume(args.name or "", args.driver, labels, options).name)
    return 0
