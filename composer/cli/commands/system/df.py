"""`composer system df`: disk space used by the engine."""
from __future__ import annotations

HELP = "show disk space used by images, containers and volumes"


def configure(p) -> None:
    p.add_argument("--format", default="table", help="table or json")


def run(args) -> int | None:
    import json

    from composer.cli.output import human_size, table
    from engine.api import Engine

    rows = Engine().disk_usage()

    def reclaimable(r) -> str:
        pct = f" ({100 * r.reclaimable // r.size}%)" if r.size else ""
        return human_size(r.reclaimable) + pct

    if args.format == "json":
        for r in rows:
            print(json.dumps({"Type": r.type, "TotalCount": str(r.total), "Active": str(r.active),
                              "Size": human_size(r.size), "Reclaimable": reclaimable(r)}))
        return 0
    print(table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                [[r.type, str(r.total), str(r.active), human_size(r.size), reclaimable(r)] for r in rows]))
    return 0
