"""`composer volume ls`: list volumes."""
from __future__ import annotations

HELP = "list volumes"


def configure(p) -> None:
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--format", default="table")


def run(args) -> int | None:
    import json

    from composer.cli.output import table
    from engine.api import Engine

    vols = Engine().list_volumes()
    if args.quiet:
        print("\n".join(v.name for v in vols))
    elif args.format == "json":
        for v in vols:
            print(json.dumps({"Driver": v.driver, "Name": v.name, "Mountpoint": v.mountpoint,
                              "Labels": ",".join(f"{k}={x}" for k, x in v.labels.items())}))
    else:
        print(table(["DRIVER", "VOLUME NAME"], [[v.driver, v.name] for v in vols]))
    return 0
