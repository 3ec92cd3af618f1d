"""`composer version`."""
from __future__ import annotations

HELP = "show the version"


def configure(p) -> None:
    p.add_argument("--short", action="store_true", help="only the version number")
    p.add_argument("--format", choices=["pretty", "json"], default="pretty")


def run(args) -> int:
    import json

    from composer import __version__

    if args.short:
        print(__version__)
    elif args.format == "json":
        print(json.dumps({"version": __version__}))
    else:
        print(f"composer version {__version__}")
    return 0
