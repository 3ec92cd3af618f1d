"""`composer volume create`: create a volume."""
from __future__ import annotations

HELP = "create a volume"


def configure(p) -> None:
    p.add_argument("name", nargs="?", help="the volume's name (default: a random one)")
    p.add_argument("-d", "--driver", default="local")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="set a label (repeatable)")
    p.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                   help="a driver option (repeatable)")


def run(args) -> int | None:
    from composer.cli.keyvalue import pairs
    from engine.api import Engine

    engine = Engine()
    labels, options = pairs(args.label, "label"), pairs(args.opt, "option", bare="refuse")
    print(engine.create_volume(args.name or "", args.driver, labels, options).name)
    return 0
